"""A small database handle for the gateway's own governance data (teams, break-glass reviews).

SQLite by default (a file in the data dir), PostgreSQL when configured, so replicas can share
it. SQL is written once with ``?`` placeholders; the handle adapts it for PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Row = tuple[Any, ...]


class Database:
    def __init__(self, url: str) -> None:
        """``sqlite:///path/to/file.sqlite3`` or ``postgresql://user@host/db``."""
        self.url = url
        self._lock = threading.Lock()
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self.dialect = "sqlite"
            self._conn: Any = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=5000")
        elif url.startswith(("postgresql://", "postgres://")):
            import psycopg

            self.dialect = "postgres"
            self._conn = psycopg.connect(url, autocommit=True)
        else:
            raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            cursor = self._conn.execute(self._adapt(sql), tuple(params))
            rows = cursor.fetchall() if cursor.description else []
            return [tuple(r) for r in rows]

    def transaction(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run statements atomically."""
        with self._lock:
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

    def script(self, ddl: str) -> None:
        for statement in (s.strip() for s in ddl.split(";")):
            if statement:
                self.query(statement)

    def _adapt(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def close(self) -> None:
        with self._lock:
            self._conn.close()
