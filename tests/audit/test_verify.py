"""audit verify finds every kind of tampering an administrator with SQL access could try, and
names the first bad record."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from audit import replay
from audit.append import append_records
from audit.checkpoint import Checkpoint
from audit.config import AuditConfig
from audit.merkle import leaf_hash
from audit.reader import AuditReader, SearchFilter
from audit.verify import LogReport, verify_queries, verify_store
from tests.audit.conftest import PERSON, make_config, record

N = 40  # blind-index buckets of 8 (``small_buckets``): five, all complete
WORKERS = 1  # set per test by the ``mode`` fixture


@pytest.fixture(autouse=True)
def _buckets(small_buckets: int) -> None:
    """Every test here on buckets of 8 records."""


@pytest.fixture(autouse=True, params=["one process", "spans in worker processes"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test twice: verify in one process, and split into spans of 8 records checked by
    two worker processes (what a large log gets), so that each kind of tampering is found in
    a span other than the first and across span boundaries."""
    if request.param != "one process":
        monkeypatch.setattr(replay, "MIN_BLOCK", 8)
        monkeypatch.setattr(replay, "PARALLEL_MIN", 16)
        monkeypatch.setattr(sys.modules[__name__], "WORKERS", 2)


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[AuditConfig]:
    config = make_config(tmp_path, checkpoint_every=10)
    store = config.new_store()
    store.create_schema()
    for i in range(0, N, 4):  # ten transactions of four records
        append_records(config, store, [record(i + j) for j in range(4)])
    store.close()
    yield config


def sql(
    config: AuditConfig, *statements: str, params: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(config.settings.path, isolation_level=None)
    try:
        for trigger in (
            "records_no_update",
            "records_no_delete",
            "checkpoints_no_update",
            "checkpoints_no_delete",
        ):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        rows: list[tuple[object, ...]] = []
        for statement in statements:
            rows = conn.execute(statement, params).fetchall()
        return rows
    finally:
        conn.close()


def verify(config: AuditConfig, held: list[Checkpoint] | None = None) -> LogReport:
    store = config.new_store()
    try:
        [report] = verify_store(
            store, config.signer.public, config.archive_dir, held or [], workers=WORKERS
        )
        return report
    finally:
        store.close()


def head(config: AuditConfig) -> Checkpoint:
    store = config.new_store()
    h = store.head(config.log_id)
    store.close()
    assert h is not None
    return h.checkpoint


def body(config: AuditConfig, seq: int) -> bytes:
    [(b,)] = sql(config, f"SELECT body FROM records WHERE seq = {seq}")
    assert isinstance(b, str)
    return b.encode()


def test_an_untouched_log_verifies(trail: AuditConfig) -> None:
    report = verify(trail)
    assert report.ok, report.problems
    assert report.records == report.head_size == N
    assert report.checkpoints >= 4


def test_the_store_itself_refuses_updates_and_deletes(trail: AuditConfig) -> None:
    conn = sqlite3.connect(trail.settings.path)
    for statement in (
        "UPDATE records SET body = body",
        "DELETE FROM records WHERE seq = 3",
        "DELETE FROM checkpoints",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    with pytest.raises(sqlite3.OperationalError, match="generated column"):
        conn.execute("UPDATE records SET subject = 'x'")  # search columns follow the body
    conn.close()


def test_a_modified_record_is_named(trail: AuditConfig) -> None:
    forged = body(trail, 17).replace(b'"jit.member"', b'"someone.else"')
    sql(trail, "UPDATE records SET body = ? WHERE seq = 17", params=(forged.decode(),))
    report = verify(trail)
    assert report.problems == ["record 17: altered (its body no longer matches its leaf hash)"]


def test_a_modified_record_with_its_leaf_is_caught_by_the_next_checkpoint(
    trail: AuditConfig,
) -> None:
    forged = body(trail, 17).replace(b'"jit.member"', b'"someone.else"')
    sql(trail, "UPDATE records SET body = ?, leaf = ? WHERE seq = 17",
        params=(forged.decode(), leaf_hash(forged)))  # fmt: skip
    [problem] = verify(trail).problems
    assert "the first 20 records no longer match the checkpoint at size 20" in problem
    assert "between 12 and 19" in problem


def test_a_deleted_record_is_a_gap(trail: AuditConfig) -> None:
    sql(trail, "DELETE FROM records WHERE seq = 12")
    assert verify(trail).problems == [
        "records 12..11 are missing (deleted)".replace("12..11", "12..12")
    ]


def test_reordered_records_are_out_of_position(trail: AuditConfig) -> None:
    a, b = body(trail, 5), body(trail, 6)
    sql(
        trail,
        "UPDATE records SET body = ?, leaf = ? WHERE seq = 5",
        params=(b.decode(), leaf_hash(b)),
    )
    sql(
        trail,
        "UPDATE records SET body = ?, leaf = ? WHERE seq = 6",
        params=(a.decode(), leaf_hash(a)),
    )
    assert verify(trail).problems == [
        "record 5: its body belongs to another position (inserted or reordered)"
    ]


def test_an_inserted_record_is_out_of_position(trail: AuditConfig) -> None:
    sql(trail, "UPDATE records SET seq = seq + 1000 WHERE seq >= 30",
        "UPDATE records SET seq = seq - 999 WHERE seq >= 1000")  # fmt: skip
    extra = body(trail, 29)
    sql(trail, "INSERT INTO records (log_id, seq, leaf, body) SELECT log_id, 30, leaf, body"
        " FROM records WHERE seq = 29")  # fmt: skip
    assert extra
    assert verify(trail).problems == [
        "record 30: its body belongs to another position (inserted or reordered)"
    ]


def test_records_appended_behind_the_gateways_back(trail: AuditConfig) -> None:
    extra = body(trail, 39).replace(b'"seq":39,', b'"seq":40,')
    sql(trail, "INSERT INTO records (log_id, seq, leaf, body) VALUES ('test-log', 40, ?, ?)",
        params=(leaf_hash(extra), extra.decode()))  # fmt: skip
    assert verify(trail).problems == [
        "records 40..40 are not covered by the signed head (added behind the gateway's back)"
    ]
    sql(trail, "UPDATE heads SET tree_size = 41, frontier = x''")
    assert verify(trail).problems[0].startswith("the log's head is malformed")


def test_a_truncated_log(trail: AuditConfig) -> None:
    sql(trail, "DELETE FROM records WHERE seq >= 37")
    assert verify(trail).problems == [
        "truncated: the signed head covers 40 records, only 37 are there"
    ]


def test_truncation_rolled_back_to_an_old_head_needs_a_checkpoint_held_elsewhere(
    trail: AuditConfig,
) -> None:
    held = head(trail)
    # roll the log back to 20 records, with the head and checkpoints it had then
    old = next(c for c in _checkpoints(trail) if c.tree_size == 20)
    store = trail.new_store()
    h = store.head(trail.log_id)
    store.close()
    assert h is not None
    sql(trail, "DELETE FROM records WHERE seq >= 20", "DELETE FROM entities WHERE seq >= 16",
        "DELETE FROM checkpoints WHERE tree_size > 20")  # fmt: skip
    frontier = _frontier(trail, 20)
    sql(trail, "UPDATE heads SET tree_size = 20, frontier = ?, root = ?, timestamp_us = ?,"
        " signature = ?", params=(frontier, old.root, old.timestamp_us, old.signature))  # fmt: skip
    assert verify(trail).ok  # consistent with itself ...
    [problem] = verify(trail, [held]).problems  # ... but not with what others saw
    assert problem.startswith("truncated: the checkpoint held elsewhere (size 40")


def test_a_rewritten_log_forks_from_a_checkpoint_held_elsewhere(tmp_path: Path) -> None:
    config = make_config(tmp_path, checkpoint_every=10)
    store = config.new_store()
    store.create_schema()
    append_records(config, store, [record(i) for i in range(10)])
    store.close()
    held = head(config)
    # whoever has the signing key rewrites history and re-signs it
    sql(config, "DELETE FROM records", "DELETE FROM entities", "DELETE FROM heads",
        "DELETE FROM checkpoints")  # fmt: skip
    store = config.new_store()
    append_records(config, store, [record(i, subject="nobody") for i in range(12)])
    store.close()
    assert verify(config).ok
    [problem] = verify(config, [held]).problems
    assert problem.startswith(
        "fork: the first 10 records differ from the checkpoint held elsewhere"
    )


def test_a_forged_checkpoint_is_refused(trail: AuditConfig) -> None:
    sql(trail, "UPDATE checkpoints SET root = zeroblob(32) WHERE tree_size = 20")
    assert verify(trail).problems == ["checkpoint at size 20: signature does not verify"]


def test_search_columns_must_stay_derived_from_bodies(trail: AuditConfig) -> None:
    columns = "log_id, seq, leaf, body, request_id, received_us, committed_us, subject, agency,"
    columns += " purpose, outcome, case_term"
    sql(trail, "CREATE TABLE plain AS SELECT * FROM records", "DROP TABLE records",
        f"CREATE TABLE records ({columns}, PRIMARY KEY (log_id, seq))",
        f"INSERT INTO records SELECT {columns} FROM plain", "UPDATE records SET subject = 'x'")  # fmt: skip
    assert verify(trail).problems == [
        "the records table is not defined as the trail defines it (search columns)"
    ]


def test_the_blind_index_must_hold_exactly_the_terms_of_the_bodies(trail: AuditConfig) -> None:
    [(term,)] = sql(trail, "SELECT term FROM entities WHERE seq = 9 ORDER BY term LIMIT 1")
    sql(trail, "DELETE FROM entities WHERE seq = 9 AND term = ?", params=(term,))
    assert verify(trail).problems == [f"record 9: blind-index entry {term} is missing"]
    sql(trail, "INSERT INTO entities (term, log_id, seq, bucket) VALUES (?, 'test-log', 11, 1)",
        params=("f" * 32,))  # fmt: skip
    assert verify(trail).problems == [
        f"record 9: blind-index entry {term} is missing",
        f"record 11: blind-index entry {'f' * 32} is not in it",
    ]


def test_the_open_bucket_is_found_in_bodies_and_must_not_be_indexed(trail: AuditConfig) -> None:
    """Records of the open bucket (40..43) are found by scanning their bodies; an entry for one
    of them would mean the index was written ahead of the trail."""
    store = trail.new_store()
    try:
        append_records(trail, store, [record(N + i) for i in range(4)])
        assert store.indexed_end(trail.log_id) == 40
        assert sql(trail, "SELECT count(*) FROM entities WHERE seq >= 40") == [(0,)]
        reader = AuditReader(store, trail.key)
        seqs = [r["seq"] for r in reader.search(SearchFilter(entity=PERSON), None)]
        assert seqs == list(range(N + 4))
    finally:
        store.close()
    term = trail.key.term(PERSON)
    sql(trail, "INSERT INTO entities (term, log_id, seq, bucket) VALUES (?, 'test-log', 42, 5)",
        params=(term,))  # fmt: skip
    assert verify(trail).problems == [
        f"record 42: blind-index entry {term} is in the open bucket"
        " (indexed before its bucket was complete)"
    ]


def test_a_blind_index_entry_in_another_bucket_is_found(trail: AuditConfig) -> None:
    """Moved to another bucket, an entry would be invisible to searches."""
    [(term,)] = sql(trail, "SELECT term FROM entities WHERE seq = 9 ORDER BY term LIMIT 1")
    sql(trail, "UPDATE entities SET bucket = 7 WHERE seq = 9 AND term = ?", params=(term,))
    assert verify(trail).problems == [
        f"record 9: blind-index entry {term} is missing",
        f"record 9: blind-index entry {term} is in another bucket",
    ]


def _checkpoints(config: AuditConfig) -> list[Checkpoint]:
    store = config.new_store()
    try:
        return store.checkpoints(config.log_id)
    finally:
        store.close()


def _frontier(config: AuditConfig, size: int) -> bytes:
    from audit.merkle import CompactRange

    tree = CompactRange()
    store = config.new_store()
    tree.extend(store.leaves(config.log_id, 0, size))
    store.close()
    return tree.to_bytes()


QUERIES = [
    "query A { enterprise(uscc: $uscc) { name } }",
    "query B { enterprise(uscc: $uscc) { status } }",
    "query C { enterprise(uscc: $uscc) { address } }",
]


@pytest.fixture
def three_queries(tmp_path: Path) -> Iterator[AuditConfig]:
    """24 records, record i asking query i % 3."""
    config = make_config(tmp_path, checkpoint_every=10)
    store = config.new_store()
    store.create_schema()
    for i in range(0, 24, 4):
        append_records(config, store, [
            record(i + j, query_text=QUERIES[(i + j) % 3]) for j in range(4)
        ])  # fmt: skip
    store.close()
    yield config


def mac_of(config: AuditConfig, seq: int) -> str:
    mac = orjson.loads(body(config, seq))["query"]
    assert isinstance(mac, str)
    return mac


def test_every_query_a_record_cites_must_have_its_text(three_queries: AuditConfig) -> None:
    """Deleting a text loses what the records citing it asked: each such text is named with
    the records that lost it (the first ones, and how many more)."""
    config = three_queries
    assert verify(config).ok
    lost = mac_of(config, 1)
    sql(config, "DELETE FROM queries WHERE mac = ?", params=(lost,))
    cited = "records 1, 4, 7, 10, 13 and 3 more cite it"
    assert verify(config).problems == [f"query {lost}: its text is missing (deleted?); {cited}"]
    sql(config, "DELETE FROM queries")
    problems = verify(config).problems
    assert len(problems) == 3 and all("its text is missing" in p for p in problems)
    assert f"query {mac_of(config, 0)}: its text is missing (deleted?); records 0, 3, 6," in (
        "".join(problems)
    )


def test_a_query_text_swapped_for_another_is_found(three_queries: AuditConfig) -> None:
    config = three_queries
    a, b = mac_of(config, 0), mac_of(config, 1)
    [(sealed_b,)] = sql(config, "SELECT sealed FROM queries WHERE mac = ?", params=(b,))
    sql(config, "UPDATE queries SET sealed = ? WHERE mac = ?", params=(sealed_b, a))
    store = config.new_store()
    try:
        [problem] = verify_queries(store, config.key)
    finally:
        store.close()
    assert problem.startswith(f"query {a}: ")


def test_only_the_first_lost_texts_are_named() -> None:
    citations = replay.Citations()
    bodies = [b'{"v":1,"operation":{},"query":"%02d","x":1}' % (i % 7) for i in range(14)]
    citations.scan(100, bodies)
    problems = citations.missing({"00"})
    assert problems[0] == "query 01: its text is missing (deleted?); records 101, 108 cite it"
    assert len(problems) == replay.NAMED + 1
    assert problems[-1] == "1 more query lost its text too"
