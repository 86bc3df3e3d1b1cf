"""The governance database handle: a PostgreSQL connection lost (a server restart, a terminated
backend) costs no call once the server is back, and a write is never made twice."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from policies.db import Database
from policies.review import ReviewQueue
from tests.policies.conftest import PG

postgres = pytest.mark.parametrize("database", ["postgres"], indirect=True)


def terminate(db: Database) -> None:
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (db._conn.info.backend_pid,))


def access(queue: ReviewQueue, request_id: str) -> str:
    return queue.record(
        request_id=request_id, subject="duty.officer", agency="police", purpose="investigation",
        case_id="J1101052026000004", reason="suspect about to move funds", fields=["a.b"],
    )  # fmt: skip


@postgres
def test_the_first_calls_after_a_lost_connection_are_answered(database: Database) -> None:
    queue = ReviewQueue(database)
    access(queue, "r1")
    terminate(database)
    assert [a.request_id for a in queue.pending()] == ["r1"]  # a read, run again
    terminate(database)
    access(queue, "r2")  # a write that did not go in, made on the new connection
    assert [a.request_id for a in queue.all()] == ["r1", "r2"]


@postgres
def test_a_write_whose_answer_was_lost_is_not_made_twice(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = ReviewQueue(database)
    conn = database._conn
    execute = conn.execute

    def answer_lost(sql: str, params: Any = ()) -> Any:
        execute(sql, params)  # autocommit: the row is in
        terminate(database)
        return execute("SELECT 1")  # raises: the connection is gone

    monkeypatch.setattr(conn, "execute", answer_lost)
    access_id = access(queue, "r1")
    assert [(a.id, a.request_id) for a in queue.all()] == [(access_id, "r1")]


@postgres
def test_a_write_without_a_check_is_not_replayed(database: Database) -> None:
    database.query("CREATE TABLE jg_counter (n INTEGER)")
    database.query("INSERT INTO jg_counter VALUES (0)")
    terminate(database)
    with pytest.raises(psycopg.OperationalError):
        database.query("UPDATE jg_counter SET n = n + 1")  # may have landed: not run again
    assert database.query("SELECT n FROM jg_counter") == [(0,)]


def test_a_witnessed_change_commits_only_after_its_callback(database: Database) -> None:
    """The governance commands append their audit record in the callback: if it fails, the
    change is not made, whether it was a transaction or a single write."""
    database.query("CREATE TABLE IF NOT EXISTS jg_witnessed (n INTEGER)")
    count = "SELECT count(*) FROM jg_witnessed"

    def refuse() -> None:
        raise OSError("the audit store is full")

    for change in (
        lambda: database.transaction([("INSERT INTO jg_witnessed VALUES (1)", ())]),
        lambda: database.query("INSERT INTO jg_witnessed VALUES (1)"),
    ):
        with pytest.raises(OSError), database.witnessed(refuse):
            change()
        assert database.query(count) == [(0,)]
    seen: list[int] = []
    with database.witnessed(lambda: seen.append(database_rows(database))):
        database.query("INSERT INTO jg_witnessed VALUES (2)")
    assert seen == [1] and database.query(count) == [(1,)]
    database.transaction([("INSERT INTO jg_witnessed VALUES (3)", ())])  # outside: no callback
    assert seen == [1] and database.query(count) == [(2,)]


def database_rows(database: Database) -> int:
    """Rows as the callback's own transaction sees them (inside it, on this connection)."""
    return int(database._conn.execute("SELECT count(*) FROM jg_witnessed").fetchone()[0])


def test_making_a_store_inside_a_witnessed_block_is_not_the_witnessed_change(
    database: Database,
) -> None:
    """A store made inside the block creates its tables (CREATE TABLE IF NOT EXISTS, ALTER
    TABLE): that is not the change. Were it taken for one, the record would be written before
    the real change was even tried, and a refused change recorded as done (the console's
    review sign-off made its ReviewQueue inside the block)."""
    from policies.review import ReviewQueue

    calls: list[str] = []
    database.query("CREATE TABLE IF NOT EXISTS jg_witnessed2 (n INTEGER)")
    with database.witnessed(lambda: calls.append("recorded")):
        ReviewQueue(database)
        database.add_columns("jg_break_glass", [("jg_extra_column", "TEXT")])
        assert calls == []
        database.transaction([("INSERT INTO jg_witnessed2 VALUES (1)", ())])
    assert calls == ["recorded"]
