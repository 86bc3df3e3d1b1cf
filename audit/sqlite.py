"""SQLite: the default store, one file in the data dir (WAL journal, ``synchronous=FULL``).

In WAL mode with ``synchronous=FULL`` a transaction is on disk (the WAL is fsynced) when
``COMMIT`` returns, so a record survives a power cut once the gateway answers. Triggers refuse
updates and deletes (except of archived records), so a slip with a SQL shell cannot quietly
edit the trail; a deliberate edit (dropping the triggers first) is what ``audit verify`` finds.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from audit.store import SqlStore


class SqliteStore(SqlStore):
    name = "sqlite"
    body_type = "TEXT"
    index_table_options = " WITHOUT ROWID"
    body_as_bytes = "CAST(body AS BLOB)"  # no UTF-8 decode and re-encode per row

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def _connect(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA page_size=8192")  # bodies of ~2 KB: several per page (new files)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: the blind index is inserted at random
        return conn

    def _begin_append(self, conn: Any, log_id: str) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def _extra_schema(self) -> list[str]:
        refuse = "SELECT RAISE(ABORT, 'the audit trail is append-only')"
        return [
            f"CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records"
            f" BEGIN {refuse}; END",
            f"CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records"  # noqa: S608 - table names are ours, values are parameters
            f" WHEN OLD.seq >= coalesce((SELECT max(end_seq) FROM archives"
            f" WHERE log_id = OLD.log_id), 0) BEGIN {refuse}; END",
            f"CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints"
            f" BEGIN {refuse}; END",
            f"CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints"
            f" BEGIN {refuse}; END",
        ]

    def _generated(self, key: str, sql_type: str) -> str:
        return f"json_extract(body, '$.{key}')"

    def _body_param(self, body: bytes) -> Any:
        return body.decode()  # TEXT, so that the JSON functions read it on every SQLite version

    def _terms_join(self) -> str:
        return "JOIN json_each(r.body, '$.entities') j"

    def schema_problems(self) -> list[str]:
        rows = self.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'records'"
        )
        expected = " ".join(self.sql(self.records_table()).replace(" IF NOT EXISTS", "").split())
        if not rows or " ".join(str(rows[0][0]).split()) != expected:
            return ["the records table is not defined as the trail defines it (search columns)"]
        return []
