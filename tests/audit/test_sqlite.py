"""SQLite specifics: writers in several processes (gateway workers, the CLI) take turns on a
lock file beside the database instead of SQLite's busy handler, which sleeps up to 100 ms at a
time; searches follow the blind index and the head whatever the planner's statistics say."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from audit import sqlite
from audit.append import append_records
from audit.errors import AuditStoreError
from audit.reader import AuditReader, SearchFilter
from audit.sqlite import SqliteStore
from tests.audit.conftest import ENTERPRISE, make_config, record


def test_a_second_writer_waits_for_the_first_and_goes_on_at_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first, second = config.new_store(), config.new_store()
    assert isinstance(first, SqliteStore)
    first.create_schema()
    append_records(config, first, [record(0)])
    conn = first.connection()
    first._begin_append(conn, config.log_id)  # holds the writers' lock, as mid-transaction
    done: list[float] = []

    def write() -> None:
        append_records(config, second, [record(1)])
        done.append(time.monotonic())

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.3)
    assert not done  # waiting
    released = time.monotonic()
    first._commit()
    writer.join(timeout=10)
    assert done and done[0] - released < 0.05  # not one of SQLite's 100 ms naps
    assert second.count(config.log_id) == 2
    first.close()
    second.close()


def test_a_writer_that_never_lets_go_fails_the_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "LOCK_TIMEOUT_S", 0.2)
    config = make_config(tmp_path)
    first, second = config.new_store(), config.new_store()
    first.create_schema()
    first._begin_append(first.connection(), config.log_id)
    with pytest.raises(AuditStoreError, match="another writer has held the audit trail"):
        append_records(config, second, [record(0)])
    first._rollback()
    append_records(config, second, [record(0)])  # free again
    first.close()
    second.close()


def _plans(store: SqliteStore, run: Callable[[], object]) -> list[str]:
    """The query plans (EXPLAIN QUERY PLAN details) of every read ``run`` makes through the
    store (``_stream`` and ``execute``)."""
    plans: list[str] = []
    stream, execute = store._stream, store.execute

    def explain(sql: str, params: Sequence[Any]) -> None:
        rows = store.connection().execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        plans.extend(str(r[3]) for r in rows)

    def planned_stream(sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        explain(sql, params)
        return stream(sql, params)

    def planned_execute(text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if text.lstrip().upper().startswith(("WITH", "SELECT")):
            explain(store.sql(text), params)
        return execute(text, params)

    store._stream = planned_stream  # type: ignore[method-assign]
    store.execute = planned_execute  # type: ignore[method-assign]
    try:
        run()
    finally:
        del store._stream, store.execute
    return plans


@pytest.mark.parametrize("analyzed", [False, True])
def test_a_search_by_entity_never_scans_the_records_table(
    tmp_path: Path, small_buckets: int, analyzed: bool
) -> None:
    """A gateway's trail grows by appends and nobody runs ANALYZE on it: without statistics
    SQLite read the open bucket's records by scanning the whole table (270 ms per search on
    100,000 records, 750 ms on 300,000); the head must drive the join whatever the planner
    knows."""
    config = make_config(tmp_path)
    store = config.new_store()
    assert isinstance(store, SqliteStore)
    store.create_schema()
    append_records(
        config, store, [record(n, uscc=ENTERPRISE) for n in range(3 * small_buckets + 3)]
    )
    if analyzed:
        store.execute("ANALYZE")
    reader = AuditReader(store, config.key)
    found: list[int] = []

    def search() -> None:
        found.append(len(reader.search(SearchFilter(entity=ENTERPRISE), limit=None)))
        found.append(reader.count(SearchFilter(entity=ENTERPRISE)))
        found.append(len(reader.search(SearchFilter(case="JIT-2026-001", user="jit.member"))))

    plans = _plans(store, search)
    assert found == [3 * small_buckets + 3] * 3  # complete buckets and the open one
    assert plans and not [p for p in plans if p == "SCAN r" or p.startswith("SCAN r ")], plans
    store.close()
