"""The PostgreSQL store against the real server: one schema per test, dropped afterwards."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from audit.config import AuditConfig, AuditSettings, load_config
from audit.errors import AuditStoreError
from audit.postgres import PostgresStore
from audit.reader import AuditReader, SearchFilter
from audit.trail import AuditTrail
from audit.verify import verify_store
from policies.review import ReviewQueue
from tests.audit.conftest import PERSON, WriterRuns, open_live, record
from tests.gateway.conftest import uscc

DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"audit_test_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def pg_config(data_dir: Path, schema: str, log_id: str) -> AuditConfig:
    settings = AuditSettings(
        backend="postgres", postgres_dsn=DSN, postgres_schema=schema, log_id=log_id,
        checkpoint_every=10,
    )  # fmt: skip
    return load_config(settings, data_dir)


def verify(config: AuditConfig) -> dict[str, list[str]]:
    store = config.new_store()
    try:
        reports = verify_store(store, config.signer.public, config.archive_dir)
        return {r.log_id: r.problems for r in reports}
    finally:
        store.close()


async def test_replicas_write_their_own_logs_and_shared_logs_stay_linear(
    tmp_path: Path, schema: str
) -> None:
    replicas = [AuditTrail(pg_config(tmp_path, schema, f"gw-{i}")) for i in range(2)]
    twin = AuditTrail(pg_config(tmp_path, schema, "gw-0"))  # misconfigured: shares gw-0's log
    writers = [*replicas, twin]
    await asyncio.gather(*(w.commit(record(i)) for i, w in enumerate(writers)))  # schema race
    await asyncio.gather(
        *(w.commit(record(i, person=PERSON if i % 7 == 0 else "110105198001011250"))
          for i in range(150) for w in writers)
    )  # fmt: skip
    for w in writers:
        await w.aclose()
    config = replicas[0].config
    assert verify(config) == {"gw-0": [], "gw-1": []}
    store = config.new_store()
    assert store.count("gw-0") == 302 and store.count("gw-1") == 151
    reader = AuditReader(store, config.key)
    hits = reader.search(SearchFilter(entity=PERSON), None)
    assert len(hits) == 3 * 22 + 3  # every writer's i % 7 == 0, plus the first round
    assert {h["log_id"] for h in hits} == {"gw-0", "gw-1"}
    store.close()


async def test_tampering_is_found_in_postgres_too(
    tmp_path: Path, schema: str, small_buckets: int
) -> None:
    config = pg_config(tmp_path, schema, "gw-0")
    trail = AuditTrail(config)
    for i in range(25):
        await trail.commit(record(i))
    await trail.aclose()
    assert verify(config) == {"gw-0": []}
    with psycopg.connect(DSN, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(f'UPDATE "{schema}".records SET body = body')
        conn.execute(f'ALTER TABLE "{schema}".records DISABLE TRIGGER ALL')
        with pytest.raises(psycopg.errors.GeneratedAlways):
            conn.execute(f'UPDATE "{schema}".records SET subject = %s WHERE seq = 4', ("x",))
        conn.execute(
            f'DELETE FROM "{schema}".entities WHERE ctid IN'
            f' (SELECT ctid FROM "{schema}".entities WHERE seq = 6 LIMIT 1)'
        )
        [problem] = verify(config)["gw-0"]
        assert problem.startswith("record 6: blind-index entry")
        conn.execute(
            f"UPDATE \"{schema}\".records SET body = replace(convert_from(body, 'UTF8'),"
            f" 'jit.member', 'jit.membe2')::bytea WHERE seq = 9"
        )
        assert verify(config) == {
            "gw-0": ["record 9: altered (its body no longer matches its leaf hash)"]
        }
        conn.execute(f'DELETE FROM "{schema}".records WHERE seq = 20')
        assert (
            verify(config)["gw-0"][0]
            == "record 9: altered (its body no longer matches its leaf hash)"
        )
        conn.execute(f'ALTER TABLE "{schema}".records ALTER COLUMN subject DROP EXPRESSION')
        store = config.new_store()
        assert store.schema_problems() == ["records.subject is no longer generated from the body"]
        store.close()


def count(config: AuditConfig) -> int:
    store = config.new_store()
    try:
        return store.count(config.log_id)
    finally:
        store.close()


def terminate(*pids: int) -> None:
    """Cut connections as a server restart or an administrator would (waits until they are)."""
    with psycopg.connect(DSN, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


async def test_a_lost_connection_is_opened_again_within_the_commit(
    tmp_path: Path, schema: str
) -> None:
    config = pg_config(tmp_path, schema, "gw-0")
    trail = AuditTrail(config)
    await trail.commit(record(0))
    store = trail._store
    assert isinstance(store, PostgresStore)
    terminate(store.connection().info.backend_pid)
    await trail.commit(record(1))  # the first commit after the cut is answered
    assert trail.healthy
    await trail.commit(record(2))
    await trail.aclose()
    assert verify(config) == {"gw-0": []}
    assert count(config) == 3


async def test_a_commit_whose_answer_was_lost_is_not_written_twice(
    tmp_path: Path, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COMMIT went through, then the connection broke before its answer arrived: the retry
    finds the batch in the log and does not append it again."""
    config = pg_config(tmp_path, schema, "gw-0")
    trail = AuditTrail(config)
    await trail.commit(record(0))
    store = trail._store
    commit = store._commit

    def answer_lost() -> None:
        commit()
        monkeypatch.setattr(store, "_commit", commit)  # once
        terminate(store.connection().info.backend_pid)
        store.connection().execute("SELECT 1")  # raises: the connection is gone

    monkeypatch.setattr(store, "_commit", answer_lost)
    await trail.commit(record(1, request_id="answer-lost"))
    assert trail.healthy
    await trail.commit(record(2))
    await trail.aclose()
    assert verify(config) == {"gw-0": []}
    reader = AuditReader(config.new_store(), config.key)
    assert reader.store.count("gw-0") == 3
    assert len(reader.search(SearchFilter(request_id="answer-lost"), None)) == 1
    reader.store.close()


async def test_not_ready_while_postgres_refuses_writes(tmp_path: Path, schema: str) -> None:
    """A server that takes the lock and answers reads but refuses writes (a standby after a
    failover, ``default_transaction_read_only``): unhealthy probe after probe until it writes."""
    config = pg_config(tmp_path, schema, "gw-0")
    trail = AuditTrail(config)
    await trail.commit(record(0))
    runs = WriterRuns(trail)
    loop = asyncio.get_running_loop()

    def session(statement: str) -> None:
        trail._store.connection().execute(statement)

    await loop.run_in_executor(trail._thread, session, "SET default_transaction_read_only = on")
    with pytest.raises(AuditStoreError, match="read-only"):
        await trail.commit(record(1))
    await runs.next()  # the SET
    for _ in range(4):  # the failed append, then probe after probe
        await runs.next()
        assert not trail.healthy
    await loop.run_in_executor(trail._thread, session, "RESET default_transaction_read_only")
    for _ in range(5):
        await runs.next()
        if trail.healthy:
            break
    assert trail.healthy
    await trail.commit(record(2))
    await trail.aclose()
    assert verify(config) == {"gw-0": []}
    assert count(config) == 2  # the probes left nothing in the log


async def test_the_first_request_after_the_connections_were_cut_is_answered(
    tmp_path: Path, schema: str
) -> None:
    """Both databases on the request's path (the audit trail, the governance database that
    queues break-glass reviews) lose their connections; the next request gets its answer and
    exactly one record and one review."""
    governance = f"jg_gov_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DSN, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {governance}")
    audit = AuditSettings(
        backend="postgres", postgres_dsn=DSN, postgres_schema=schema, log_id="gw-0"
    )
    query = '{ enterprise(uscc: "%s") { bankAccounts { balance } } }' % uscc(4)
    glass = {"x-break-glass": "suspect%20about%20to%20move%20funds"}
    try:
        async with open_live(
            tmp_path, audit=audit, governance_db=f"{PG}?options=-csearch_path%3D{governance}"
        ) as live:
            ask = functools.partial(
                live.query, query, user="duty.officer", case="J1101052026000004", **glass
            )
            assert (await ask()).status_code == 200
            store, reviews = live.trail._store, ReviewQueue(live.gateway.governance)
            terminate(
                store.connection().info.backend_pid,
                live.gateway.governance._conn.info.backend_pid,
            )
            answered = await ask()
            assert answered.status_code == 200, answered.text
            assert answered.json()["data"]["enterprise"]["bankAccounts"] == [{"balance": 4000.0}]
            reader = live.reader()
            assert reader.store.count("gw-0") == 2
            [found] = reader.search(SearchFilter(request_id=answered.headers["x-request-id"]))
            assert found["status"] == 200
            reader.store.close()
            assert [r.request_id for r in reviews.all()].count(
                answered.headers["x-request-id"]
            ) == 1
            assert len(reviews.all()) == 2
    finally:
        with psycopg.connect(DSN, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {governance} CASCADE")


async def test_a_deleted_query_text_is_found_in_postgres_too(tmp_path: Path, schema: str) -> None:
    config = pg_config(tmp_path, schema, "gw-0")
    trail = AuditTrail(config)
    for i in range(6):
        await trail.commit(record(i, query_text=f"query Q{i % 2} {{ enterprise {{ name }} }}"))
    await trail.aclose()
    assert verify(config) == {"gw-0": []}
    with psycopg.connect(DSN, autocommit=True) as conn:
        [(mac,)] = conn.execute(
            f"SELECT convert_from(body, 'UTF8')::jsonb ->> 'query' FROM \"{schema}\".records"
            " WHERE seq = 1"
        ).fetchall()
        conn.execute(f'DELETE FROM "{schema}".queries WHERE mac = %s', (mac,))
    assert verify(config) == {
        "gw-0": [f"query {mac}: its text is missing (deleted?); records 1, 3, 5 cite it"]
    }
