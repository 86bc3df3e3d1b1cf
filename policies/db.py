"""A small database handle for the gateway's own governance data (teams, break-glass reviews).

SQLite by default (a file in the data dir), PostgreSQL when configured, so replicas can share
it. SQL is written once with ``?`` placeholders; the handle adapts it for PostgreSQL. A
PostgreSQL connection broken by a restart or a network cut is opened again at the next call (the
call that found it broken still fails: a write is never replayed blindly).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Row = tuple[Any, ...]
log = logging.getLogger("jointgate.governance")


class Database:
    def __init__(self, url: str) -> None:
        """``sqlite:///path/to/file.sqlite3`` or ``postgresql://user@host/db``."""
        self.url = url
        self._lock = threading.Lock()
        self._closed = False
        self._listeners: dict[str, list[Callable[[], object]]] = {}
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
            self._conn = self._connect_postgres()
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

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            self._usable()
            cursor = self._conn.execute(self._adapt(sql), tuple(params))
            rows = cursor.fetchall() if cursor.description else []
            return [tuple(r) for r in rows]

    def transaction(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run statements atomically."""
        with self._lock:
            self._usable()
            if self.dialect == "sqlite":
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, params in statements:
                        self._conn.execute(sql, tuple(params))
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            else:
                with self._conn.transaction():
                    for sql, params in statements:
                        self._conn.execute(self._adapt(sql), tuple(params))

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

    def script(self, ddl: str) -> None:
        statements = [s.strip() for s in ddl.split(";") if s.strip()]
        if self.dialect == "postgres":
            # replicas starting together would race in CREATE TABLE IF NOT EXISTS (a unique
            # violation in the catalog): one at a time
            lock = "SELECT pg_advisory_xact_lock(hashtextextended('jointgate-governance', 0))"
            self.transaction([(lock, ()), *((s, ()) for s in statements)])
            return
        for statement in statements:
            self.query(statement)

    def _adapt(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()
