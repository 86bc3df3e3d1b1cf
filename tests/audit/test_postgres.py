"""The PostgreSQL store against the real server: one schema per test, dropped afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from audit.config import AuditConfig, load_config
from audit.errors import AuditStoreError
from audit.postgres import PostgresStore
from audit.reader import AuditReader, SearchFilter
from audit.trail import AuditTrail
from audit.verify import verify_store
from gateway.settings import AuditSettings
from tests.audit.conftest import PERSON, record

DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


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


async def test_a_lost_connection_fails_one_commit_then_the_trail_reconnects(
    tmp_path: Path, schema: str
) -> None:
    config = pg_config(tmp_path, schema, "gw-0")
    trail = AuditTrail(config)
    await trail.commit(record(0))
    store = trail._store
    assert isinstance(store, PostgresStore)
    pid = store.connection().info.backend_pid
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(AuditStoreError):
        await trail.commit(record(1))
    assert not trail.healthy
    await trail.commit(record(2))
    assert trail.healthy
    await trail.aclose()
    assert verify(config) == {"gw-0": []}
