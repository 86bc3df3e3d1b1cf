"""The store's layout: the blind index in buckets, found across buckets and logs, and a trail
written with the first (unbucketed) layout brought to the current one; SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from audit.append import append_records
from audit.config import AuditConfig
from audit.errors import AuditStoreError
from audit.merkle import leaf_hash
from audit.reader import AuditReader, SearchFilter
from audit.store import ENTITY_BUCKET, SqlStore
from audit.verify import verify_store
from tests.audit.conftest import PERSON, make_config, record

DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
OTHER = "110105199001011238"


@pytest.fixture(params=["sqlite", "postgres"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditConfig]:
    if request.param == "sqlite":
        yield make_config(tmp_path, checkpoint_every=500)
        return
    schema = f"audit_test_{uuid.uuid4().hex[:10]}"
    yield make_config(tmp_path, backend="postgres", postgres_dsn=DSN, postgres_schema=schema,
                      checkpoint_every=500)  # fmt: skip
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def fill(config: AuditConfig, store: SqlStore, n: int) -> None:
    """``n`` records; every 700th shows OTHER, so hits fall into several buckets."""
    batch = []
    for i in range(n):
        batch.append(record(i, person=OTHER if i % 700 == 3 else PERSON))
        if len(batch) == 500:
            append_records(config, store, batch)
            batch = []
    if batch:
        append_records(config, store, batch)


def test_entities_are_found_in_every_bucket_and_verify(config: AuditConfig) -> None:
    store = config.new_store()
    store.create_schema()
    try:
        fill(config, store, 2 * ENTITY_BUCKET + 100)
        other = make_config(config.settings.path.parents[1], log_id="other-log",
                            backend=config.settings.backend, postgres_dsn=DSN,
                            postgres_schema=config.settings.postgres_schema)  # fmt: skip
        append_records(other, store, [record(0, person=OTHER)])
        reader = AuditReader(store, config.key)
        found = [(r["log_id"], r["seq"]) for r in reader.search(SearchFilter(entity=OTHER), None)]
        expected = [("test-log", s) for s in range(3, 2 * ENTITY_BUCKET + 100, 700)]
        assert sorted(found) == sorted([*expected, ("other-log", 0)])
        assert reader.count(SearchFilter(entity=OTHER)) == len(expected) + 1
        buckets = store.execute(
            "SELECT DISTINCT bucket FROM {entities} WHERE log_id = 'test-log' ORDER BY bucket"
        )
        # in SQLite bucket 2 is open, not indexed yet: searches read its bodies
        assert [b[0] for b in buckets] == ([0, 1] if store.whole_buckets else [0, 1, 2])
        # the case filter goes through the blind index too
        assert reader.count(SearchFilter(case="JIT-2026-001")) == 2 * ENTITY_BUCKET + 101
        reports = verify_store(store, config.signer.public, config.archive_dir)
        assert [r.problems for r in reports] == [[], []]
    finally:
        store.close()


def test_an_append_onto_records_inserted_past_the_head_says_so(config: AuditConfig) -> None:
    """A record inserted with SQL at the next position makes every later append fail (its
    position is taken): the error names the records and the head, not the unique key."""
    store = config.new_store()
    store.create_schema()
    try:
        append_records(config, store, [record(i) for i in range(3)])
        [(body,)] = store.execute("SELECT {body} FROM {records} WHERE seq = 2")
        forged = bytes(body).replace(b'"seq":2,', b'"seq":3,')
        store.execute(
            "INSERT INTO {records} (log_id, seq, leaf, body) VALUES (?, ?, ?, ?)",
            ("test-log", 3, leaf_hash(forged), store._body_param(forged)),
        )
        with pytest.raises(AuditStoreError) as refused:
            append_records(config, store, [record(3)])
        assert str(refused.value).startswith(
            "log test-log: records 3..3 lie past its signed head of 3 records"
        )
        assert store.count("test-log") == 4  # nothing appended; the store still answers
    finally:
        store.close()


def test_a_bucket_is_indexed_whole_by_the_append_that_completes_it(
    config: AuditConfig, small_buckets: int
) -> None:
    """SQLite: appends inside the open bucket write no index entries; the one that fills the
    bucket writes all of them (the terms every body lists, earlier appends' included).
    PostgreSQL: every append indexes its own records' terms."""
    store = config.new_store()
    store.create_schema()
    whole = config.settings.backend == "sqlite"
    assert store.whole_buckets is whole
    try:
        count = "SELECT count(*) FROM {entities} WHERE log_id = 'test-log' AND bucket = ?"
        append_records(config, store, [record(i) for i in range(5)])
        # each record lists three terms: its enterprise, its person and its case
        assert store.execute(count, (0,)) == [(0 if whole else 3 * 5,)]
        append_records(config, store, [record(i) for i in range(5, 11)])  # crosses 8
        assert store.execute(count, (0,)) == [(3 * 8,)]
        assert store.execute(count, (1,)) == [(0 if whole else 3 * 3,)]
        assert store.indexed_end("test-log") == (8 if whole else 11)
        append_records(config, store, [record(i) for i in range(11, 30)])  # fills 1 and 2
        counts = [store.execute(count, (b,))[0][0] for b in range(4)]
        assert counts == [24, 24, 24, 0 if whole else 3 * 6]
        reader = AuditReader(store, config.key)
        assert reader.count(SearchFilter(entity=PERSON)) == 30
        [report] = verify_store(store, config.signer.public, config.archive_dir)
        assert report.ok, report.problems
    finally:
        store.close()


def test_entries_of_the_open_bucket_from_before_are_dropped(
    tmp_path: Path, small_buckets: int
) -> None:
    """SQLite trails written when every append indexed its own terms have entries in the open
    bucket: the next schema creation (the gateway's start, any audit command) drops them, so
    that the append completing the bucket can write it whole."""
    config = make_config(tmp_path, checkpoint_every=500)  # SQLite: PostgreSQL has no open bucket
    store = config.new_store()
    store.create_schema()
    try:
        append_records(config, store, [record(i) for i in range(12)])
        term = config.key.term(PERSON)
        for seq in range(8, 12):  # what the old layout wrote for the person's term
            store.execute(
                "INSERT INTO {entities} (term, log_id, seq, bucket) VALUES (?, 'test-log', ?, 1)",
                (term, seq),
            )
        [report] = verify_store(store, config.signer.public, config.archive_dir)
        assert report.problems == [
            f"record 8: blind-index entry {term} is in the open bucket"
            " (indexed before its bucket was complete)"
        ]
        store.create_schema()
        [report] = verify_store(store, config.signer.public, config.archive_dir)
        assert report.ok, report.problems
        append_records(config, store, [record(i) for i in range(12, 16)])  # completes bucket 1
        [report] = verify_store(store, config.signer.public, config.archive_dir)
        assert report.ok, report.problems
    finally:
        store.close()


def test_a_trail_of_the_first_layout_is_migrated(config: AuditConfig) -> None:
    store = config.new_store()
    store.create_schema()
    try:
        fill(config, store, 1500)
        entities, records = store._table("entities"), store._table("records")
        store.execute(
            f"CREATE TABLE {store._table('old')} AS SELECT term, log_id, seq FROM {entities}"
        )
        store.execute(f"DROP TABLE {entities}")
        store.execute(f"CREATE TABLE {entities} (term TEXT NOT NULL, log_id TEXT NOT NULL,"
                      " seq BIGINT NOT NULL, PRIMARY KEY (term, log_id, seq))")  # fmt: skip
        store.execute(f"INSERT INTO {entities} SELECT term, log_id, seq FROM {store._table('old')}")
        store.execute(f"CREATE INDEX records_case ON {records} (case_term)")
        assert "bucket" not in store._columns("entities")
        store.create_schema()  # what the next start of the gateway or the CLI does
        assert "bucket" in store._columns("entities")
        reader = AuditReader(store, config.key)
        assert [r["seq"] for r in reader.search(SearchFilter(entity=OTHER), None)] == [3, 703, 1403]
        [report] = verify_store(store, config.signer.public, config.archive_dir)
        assert report.ok, report.problems
        append_records(config, store, [record(0, person=OTHER)])  # and appends carry on
        assert reader.count(SearchFilter(entity=OTHER)) == 4
    finally:
        store.close()


def test_verify_reports_the_first_problem_across_chunks(tmp_path: Path) -> None:
    """Verify reads a chunk at a time; what it reports is still the first problem in order."""
    from tests.audit.test_verify import sql

    config = make_config(tmp_path, checkpoint_every=500)
    store = config.new_store()
    store.create_schema()
    fill(config, store, 5000)
    store.close()
    [(late,)] = sql(config, "SELECT body FROM records WHERE seq = 4500")
    forged = str(late).replace("jit.member", "jit.membe2").encode()
    sql(config, "UPDATE records SET body = ? WHERE seq = 4500", params=(forged.decode(),))
    reports = verify_store(config.new_store(), config.signer.public, config.archive_dir)
    assert reports[0].problems == [
        "record 4500: altered (its body no longer matches its leaf hash)"
    ]
    from audit.merkle import leaf_hash

    [(body,)] = sql(config, "SELECT body FROM records WHERE seq = 600")
    forged = str(body).replace("jit.member", "jit.membe3")

    sql(config, "UPDATE records SET body = ?, leaf = ? WHERE seq = 600",
        params=(forged, leaf_hash(forged.encode())))  # fmt: skip
    # the same chunk, after size 1000: a body moved there
    sql(config, "UPDATE records SET body = (SELECT body FROM records WHERE seq = 1201)"
        " WHERE seq = 1200")  # fmt: skip
    [report] = verify_store(config.new_store(), config.signer.public, config.archive_dir)
    assert report.problems == [
        "the first 1000 records no longer match the checkpoint at size 1000: a record between"
        " 500 and 999 was altered, inserted or removed"
    ]
    assert report.records == 1000


def test_verify_in_worker_spans_checks_the_blind_index_per_bucket(
    config: AuditConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large log is verified in spans by worker processes (audit.replay); each bucket's index
    entries are compared with the bodies there, and only a difference asks the database to
    locate it (the exact, slower check)."""
    from audit import replay

    monkeypatch.setattr(replay, "PARALLEL_MIN", ENTITY_BUCKET)
    monkeypatch.setattr(replay, "MIN_BLOCK", ENTITY_BUCKET)
    store = config.new_store()
    store.create_schema()
    try:
        fill(config, store, 3 * ENTITY_BUCKET + 100)
        exact = SqlStore.index_problems

        def not_needed(self: SqlStore, log_id: str) -> list[str]:
            raise AssertionError("the per-bucket check should have sufficed")

        monkeypatch.setattr(SqlStore, "index_problems", not_needed)
        [report] = verify_store(store, config.signer.public, config.archive_dir, workers=2)
        assert report.ok, report.problems
        assert report.records == 3 * ENTITY_BUCKET + 100
        monkeypatch.setattr(SqlStore, "index_problems", exact)
        seq = 2 * ENTITY_BUCKET + 5  # in the third span
        [(term,)] = store.execute(
            "SELECT term FROM {entities} WHERE log_id = 'test-log' AND seq = ? ORDER BY term"
            " LIMIT 1",
            (seq,),
        )
        store.execute(
            "UPDATE {entities} SET term = ? WHERE log_id = 'test-log' AND seq = ? AND term = ?",
            ("f" * 32, seq, term),
        )
        [report] = verify_store(store, config.signer.public, config.archive_dir, workers=2)
        assert report.problems == [
            f"record {seq}: blind-index entry {term} is missing",
            f"record {seq}: blind-index entry {'f' * 32} is not in it",
        ]
    finally:
        store.close()
