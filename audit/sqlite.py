"""SQLite: the default store, one file in the data dir (WAL journal, ``synchronous=FULL``).

In WAL mode with ``synchronous=FULL`` a transaction is on disk (the WAL is fsynced) when
``COMMIT`` returns, so a record survives a power cut once the gateway answers. Triggers refuse
updates and deletes (except of archived records), so a slip with a SQL shell cannot quietly
edit the trail; a deliberate edit (dropping the triggers first) is what ``audit verify`` finds.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from audit.errors import AuditStoreError
from audit.store import NO_END, SqlStore

SCAN_MMAP_BYTES = 1 << 40  # as much as SQLite allows (its build's limit, often 2 GB)
LOCK_TIMEOUT_S = 30.0  # as the connection's busy timeout
LOCK_POLL_S = 0.0001  # first pause while another writer holds the lock, doubling up to
LOCK_POLL_MAX_S = 0.0005
# page cache per connection: an append touches the tails of the records and their indexes, the
# head and (once per 1,024 records) the bucket it indexes; 64 MiB, from when the blind index was
# inserted at random, only held the gateway's RSS 60 MiB higher after some 13,000 requests
CACHE_KIB = 8192
ROWS_PER_INSERT = 200  # x 4 columns: far below SQLite's limit of 32,766 parameters


class SqliteStore(SqlStore):
    name = "sqlite"
    body_type = "TEXT"
    index_table_options = " WITHOUT ROWID"
    body_as_bytes = "CAST(body AS BLOB)"  # no UTF-8 decode and re-encode per row
    whole_buckets = True  # a random page per term per append: a full 8 KiB WAL frame each
    join_in_order = "CROSS JOIN"  # SQLite keeps a CROSS JOIN's left table in the outer loop

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._writers: int | None = None  # the writers' lock file (see _lock_writers)
        self._locked = False

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "_writers": None, "_locked": False}

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def _connect(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        # setting the journal mode can fail at once (no busy wait) while another process sets
        # it on a new file: writers starting together take turns
        self._lock_writers()
        try:
            conn.execute("PRAGMA page_size=8192")  # bodies of ~2 KB: several per page (new files)
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            self._unlock_writers()
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        return conn

    def _begin_schema(self, conn: Any) -> None:
        self._begin_append(conn, "")

    def _begin_append(self, conn: Any, log_id: str) -> None:
        self._lock_writers()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._unlock_writers()
            raise

    def _lock_writers(self) -> None:
        """Writers (gateway workers, the CLI) take turns on a lock file beside the database
        before ``BEGIN IMMEDIATE``, polling every 0.1 to 0.5 ms: SQLite's own busy handler
        sleeps up to 100 ms at a time, which made a second writer's records wait tens of
        milliseconds for a lock free after one. Gives up like SQLite would (the append fails,
        the gateway answers 503) if another process holds it for ``LOCK_TIMEOUT_S``."""
        if self._writers is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._writers = os.open(
                self.path.with_name(self.path.name + ".writers"), os.O_RDWR | os.O_CREAT, 0o600
            )
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        pause = LOCK_POLL_S
        while True:
            try:
                fcntl.flock(self._writers, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AuditStoreError(
                        f"{self.path}: another writer has held the audit trail for more than"
                        f" {LOCK_TIMEOUT_S:g} s"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, LOCK_POLL_MAX_S)
            else:
                self._locked = True
                return

    def _unlock_writers(self) -> None:
        if self._locked and self._writers is not None:
            self._locked = False
            fcntl.flock(self._writers, fcntl.LOCK_UN)

    def _commit(self) -> None:
        try:
            super()._commit()
        finally:
            self._unlock_writers()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self._unlock_writers()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._unlock_writers()
            if self._writers is not None:
                os.close(self._writers)
                self._writers = None

    def _insert_many(
        self, cur: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """Many rows per INSERT: one step of the statement (and one release of the GIL, which
        the event loop then holds for up to a switch interval) per chunk, not per row."""
        marks = "(" + ", ".join("?" * len(columns)) + ")"
        head = f"INSERT INTO {self._table(table)} ({', '.join(columns)}) VALUES "  # noqa: S608
        for lo in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[lo : lo + ROWS_PER_INSERT]
            cur.execute(head + ", ".join([marks] * len(chunk)), [v for row in chunk for v in row])

    def scan_chunks(
        self, log_id: str, start: int = 0, size: int = 2048, end: int | None = None
    ) -> Generator[list[tuple[int, bytes, bytes]], None, None]:
        """Rows straight from the cursor, over a memory map of the file while the scan runs
        (no read() and copy per page; a third less time on a large log)."""
        conn = self.connection()
        conn.execute(f"PRAGMA mmap_size={SCAN_MMAP_BYTES}")
        try:
            cur = conn.execute(
                "SELECT seq, leaf, CAST(body AS BLOB) FROM records WHERE log_id = ? AND seq >= ?"
                " AND seq < ? ORDER BY seq",
                (log_id, start, NO_END if end is None else end),
            )
            while chunk := cur.fetchmany(size):
                yield chunk
        finally:
            conn.execute("PRAGMA mmap_size=0")

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

    def _body_contains(self) -> str:
        return "instr(r.body, ?) > 0"

    def _bucket_probe(self) -> str:
        # CROSS JOIN: SQLite keeps the buckets outside, one primary-key probe each
        return (
            "SELECT e.log_id, e.seq FROM buckets b CROSS JOIN {entities} e"
            " ON e.log_id = b.log_id AND e.bucket = b.bucket AND e.term = ?"
        )

    def _columns(self, table: str) -> set[str]:
        return {str(r[1]) for r in self.execute(f"PRAGMA table_info({table})")}

    def schema_problems(self) -> list[str]:
        rows = self.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'records'"
        )
        expected = " ".join(self.sql(self.records_table()).replace(" IF NOT EXISTS", "").split())
        if not rows or " ".join(str(rows[0][0]).split()) != expected:
            return ["the records table is not defined as the trail defines it (search columns)"]
        return []
