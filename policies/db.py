"""A small database handle for the gateway's own governance data (teams, break-glass reviews).

SQLite by default (a file in the data dir), PostgreSQL when configured, so replicas can share
it. SQL is written once with ``?`` placeholders; the handle adapts it for PostgreSQL. A
PostgreSQL connection broken by a restart or a network cut is opened again by the call that
finds it broken, which then runs its statement once more when that is safe: a read always; a
write only if its caller says how to find it and it is not there (the answer to its commit may
have been lost with the connection: a write is never replayed blindly). Break-glass reviews are
queued on the request's path, so the first request after the database is back gets its answer.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kernel.settings import shown_url

Row = tuple[Any, ...]
log = logging.getLogger("jointgate.governance")


class GovernanceUnavailable(Exception):
    """The governance database cannot be reached at start: said in one line, with the URL's
    credentials left out (``jointgate serve`` exits 2 with it, no traceback)."""

    def __init__(self, url: str, cause: BaseException) -> None:
        reason = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
        super().__init__(
            f"governance.database: cannot connect to {shown_url(url)} ({reason}); is the"
            " database running and reachable from here?"
        )


class Database:
    def __init__(self, url: str) -> None:
        """``sqlite:///path/to/file.sqlite3`` or ``postgresql://user@host/db``."""
        self.url = url
        self._lock = threading.Lock()
        self._closed = False
        self._listeners: dict[str, list[Callable[[], object]]] = {}
        self._before_commit: Callable[[], object] | None = None
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self.dialect = "sqlite"
            self._conn: Any = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=5000")
        elif url.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgres"
            try:
                self._conn = self._connect_postgres()
            except Exception as exc:
                import psycopg  # imported already by the attempt

                if not isinstance(exc, psycopg.OperationalError):
                    raise
                raise GovernanceUnavailable(url, exc) from None
        else:
            raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")

    def _connect_postgres(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)

    def _usable(self) -> Any:
        """The connection, opened again if the last call found it broken (lock held)."""
        if self._closed:
            raise RuntimeError("the governance database handle is closed")
        if self.dialect == "postgres" and (self._conn.closed or self._conn.broken):
            self._conn = self._connect_postgres()
        return self._conn

    def query(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        landed: tuple[str, Sequence[Any]] | None = None,
    ) -> list[Row]:
        """Run one statement. If the connection turns out lost, connect again and run it once
        more: a SELECT at once; any other statement only with ``landed``, a query that returns
        a row if the statement went in before the connection broke, and only if it returns
        none (then this returns no rows). Without ``landed`` a write raises. Inside
        :meth:`witnessed` a write runs as a :meth:`transaction` of its own (returning no rows),
        so that it too commits only after the block's callback."""
        if self._before_commit is not None and not _reads(sql):
            self.transaction([(sql, params)])
            return []
        with self._lock:
            conn = self._usable()  # a failure to connect is not retried: the server is down
            try:
                return self._run(sql, params)
            except Exception as exc:
                if not (self.dialect == "postgres" and conn.broken):
                    raise
                log.warning("governance database connection lost: %s", exc)
                if not _reads(sql):
                    if landed is None:
                        raise
                    if self._run(*landed):
                        return []  # it went in; the answer was lost with the connection
                return self._run(sql, params)

    def _run(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """One statement on a usable connection (lock held)."""
        cursor = self._usable().execute(self._adapt(sql), tuple(params))
        rows = cursor.fetchall() if cursor.description else []
        return [tuple(r) for r in rows]

    def transaction(
        self, statements: Sequence[tuple[str, Sequence[Any]]], guarded: Sequence[int] = ()
    ) -> None:
        """Run statements atomically. Inside :meth:`witnessed`, its callback runs after the
        statements and before the commit: if it raises, nothing is committed. A statement whose
        index is in ``guarded`` must change a row, else nothing is committed and
        :class:`Conflict` says another change came first (an ``UPDATE ... WHERE state =
        'pending'`` that lost a race to another decision)."""
        with self._lock:
            self._usable()
            hook, self._before_commit = self._before_commit, None
            if self.dialect == "sqlite":
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for i, (sql, params) in enumerate(statements):
                        changed = self._conn.execute(sql, tuple(params)).rowcount
                        _check_guard(i, guarded, changed)
                    if hook is not None:
                        hook()
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            else:
                with self._conn.transaction():
                    for i, (sql, params) in enumerate(statements):
                        changed = self._conn.execute(self._adapt(sql), tuple(params)).rowcount
                        _check_guard(i, guarded, changed)
                    if hook is not None:
                        hook()

    @contextlib.contextmanager
    def witnessed(self, before_commit: Callable[[], object]) -> Iterator[None]:
        """The next :meth:`transaction` inside the block calls ``before_commit`` after its
        statements and before it commits; an exception from it rolls the transaction back.
        The governance commands append their audit record there (commands/official.py), so a
        change is committed only once its record is in the trail."""
        self._before_commit = before_commit
        try:
            yield
        finally:
            self._before_commit = None

    def subscribe(self, topic: str, listener: Callable[[], object]) -> None:
        """Call ``listener`` after each change to ``topic`` (e.g. ``teams``) made through this
        handle; changes made by other processes arrive by notification (gateway/notify.py)."""
        self._listeners.setdefault(topic, []).append(listener)

    def changed(self, topic: str) -> None:
        """Tell this handle's listeners that ``topic`` changed (after the change committed)."""
        for listener in self._listeners.get(topic, ()):
            try:
                listener()
            except Exception as exc:  # the change is made; the listener catches up later
                log.warning("%s change listener failed: %s", topic, exc)

    @contextlib.contextmanager
    def _unwitnessed(self) -> Iterator[None]:
        """Making tables is never the witnessed change (a store made inside the block)."""
        hook, self._before_commit = self._before_commit, None
        try:
            yield
        finally:
            self._before_commit = hook

    def script(self, ddl: str) -> None:
        with self._unwitnessed():
            self._script(ddl)

    def _script(self, ddl: str) -> None:
        statements = [s.strip() for s in ddl.split(";") if s.strip()]
        if self.dialect == "postgres":
            # replicas starting together would race in CREATE TABLE IF NOT EXISTS (a unique
            # violation in the catalog): one at a time
            lock = "SELECT pg_advisory_xact_lock(hashtextextended('jointgate-governance', 0))"
            self.transaction([(lock, ()), *((s, ()) for s in statements)])
            return
        for statement in statements:
            self.query(statement)

    def add_columns(self, table: str, columns: Sequence[tuple[str, str]]) -> None:
        """Upgrade a table made by an older version: add each ``(name, type)`` column it lacks
        (``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it is). Safe to run at every
        start and by replicas starting together."""
        with self._unwitnessed():
            self._add_columns(table, columns)

    def _add_columns(self, table: str, columns: Sequence[tuple[str, str]]) -> None:
        if self.dialect == "postgres":
            self.script(
                ";".join(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {n} {t}" for n, t in columns
                )
            )
            return
        with self._lock:
            have = {row[1] for row in self._run(f"PRAGMA table_info({table})", ())}
        for name, kind in columns:
            if name not in have:
                try:
                    self.query(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError as exc:  # another process added it meanwhile
                    if "duplicate column" not in str(exc):
                        raise

    def _adapt(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()


class Conflict(Exception):
    """A guarded statement changed no row: another change came first; nothing was committed."""


def unique_violation(exc: BaseException) -> bool:
    """A unique key taken by another transaction (SQLite's or PostgreSQL's own error)."""
    return isinstance(exc, sqlite3.IntegrityError) or type(exc).__name__ == "UniqueViolation"


def _check_guard(index: int, guarded: Sequence[int], changed: int) -> None:
    if index in guarded and changed == 0:
        raise Conflict("another change to the same row came first")


def _reads(sql: str) -> bool:
    """A statement safe to run again: a plain SELECT (ours have no side effects)."""
    return sql.lstrip()[:6].upper() == "SELECT"
