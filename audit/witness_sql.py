"""A witness in another database: one insert-only table, in a SQLite file or in PostgreSQL.

    witness_checkpoints(log_id, tree_size, root, timestamp_us, key_id, signature, frontier,
                        witnessed_us)   primary key (log_id, tree_size)

Triggers refuse ``UPDATE`` and ``DELETE`` (and, in PostgreSQL, ``TRUNCATE``); give the gateway's
role ``SELECT`` and ``INSERT`` on the table and nothing else (docs/audit.md). Each publication is
one transaction holding the log's lock (``BEGIN IMMEDIATE`` in SQLite, an advisory lock in
PostgreSQL): it reads the log's latest row, judges the new checkpoint against it
(:func:`audit.witness.judge`) and inserts it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.checkpoint import Checkpoint
from audit.errors import redacted
from audit.merkle import fold_root
from audit.store import now_us
from audit.witness import (
    Leaves,
    WitnessEntry,
    WitnessError,
    WitnessReading,
    WitnessSpec,
    group,
    judge,
)

TABLE = "witness_checkpoints"
COLUMNS = "log_id, tree_size, root, timestamp_us, key_id, signature, frontier, witnessed_us"
_SQLITE_REFUSE = "SELECT RAISE(ABORT, 'the audit witness is insert-only')"
_PG_FUNCTION = """CREATE OR REPLACE FUNCTION witness_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the audit witness is insert-only'; END $$"""


class SqlWitness:
    def __init__(self, spec: WitnessSpec) -> None:
        self.spec = spec
        self.shown = spec.shown
        self.postgres = spec.kind == "postgresql"
        self.param = "%s" if self.postgres else "?"
        self._conn: Any = None

    # -- connection and schema --------------------------------------------------------------
    def _connect(self) -> Any:
        if self.postgres:
            import psycopg  # start-up: only a PostgreSQL witness needs it

            conn: Any = psycopg.connect(self.spec.target, autocommit=True, connect_timeout=5)
            blob, schema = (
                "BYTEA",
                [
                    _PG_FUNCTION,
                    "CREATE OR REPLACE TRIGGER witness_insert_only BEFORE UPDATE OR DELETE"
                    f" ON {TABLE} FOR EACH ROW EXECUTE FUNCTION witness_insert_only()",
                    f"CREATE OR REPLACE TRIGGER witness_no_truncate BEFORE TRUNCATE ON {TABLE}"
                    " FOR EACH STATEMENT EXECUTE FUNCTION witness_insert_only()",
                ],
            )
        else:
            path = Path(self.spec.target)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            blob, schema = (
                "BLOB",
                [
                    f"CREATE TRIGGER IF NOT EXISTS witness_no_update BEFORE UPDATE ON {TABLE}"
                    f" BEGIN {_SQLITE_REFUSE}; END",
                    f"CREATE TRIGGER IF NOT EXISTS witness_no_delete BEFORE DELETE ON {TABLE}"
                    f" BEGIN {_SQLITE_REFUSE}; END",
                ],
            )
        try:
            self._begin(conn, "")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (log_id TEXT NOT NULL, tree_size BIGINT NOT"
                f" NULL, root {blob} NOT NULL, timestamp_us BIGINT NOT NULL, key_id TEXT NOT NULL,"
                f" signature {blob} NOT NULL, frontier {blob} NOT NULL, witnessed_us BIGINT NOT"
                " NULL, PRIMARY KEY (log_id, tree_size))"
            )
            for statement in schema:
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def _begin(self, conn: Any, log_id: str) -> None:
        if self.postgres:
            conn.execute("BEGIN")
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"witness/{log_id}",)
            )
        else:
            conn.execute("BEGIN IMMEDIATE")

    def _run(self, work: Any) -> Any:
        """``work(conn)`` on the connection (opened if need be); any database error is a
        WitnessError (redacted), and the connection is dropped to be opened again next time."""
        try:
            if self._conn is None:
                self._conn = self._connect()
            return work(self._conn)
        except (sqlite3.Error, OSError, ImportError) as exc:
            self.close()
            raise WitnessError(f"{self.shown}: {redacted(str(exc))}") from None
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                self.close()
                raise WitnessError(f"{self.shown}: {redacted(str(exc))}") from None
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken one is dropped all the same
                conn.close()

    # -- publishing and reading ---------------------------------------------------------------
    def publish(self, entry: WitnessEntry, leaves: Leaves) -> bool:
        p = self.param

        def work(conn: Any) -> bool:
            self._begin(conn, entry.log_id)
            try:
                rows = conn.execute(
                    f"SELECT {COLUMNS} FROM {TABLE} WHERE log_id = {p}"  # noqa: S608 - ours
                    " ORDER BY tree_size DESC LIMIT 1",
                    (entry.log_id,),
                ).fetchall()
                last = _entry(rows[0]) if rows else None
                if not judge(last, entry, leaves):
                    conn.execute("ROLLBACK")
                    return False
                cp = entry.checkpoint
                conn.execute(
                    f"INSERT INTO {TABLE} ({COLUMNS}) VALUES ({', '.join([p] * 8)})",  # noqa: S608
                    (cp.log_id, cp.tree_size, cp.root, cp.timestamp_us, cp.key_id, cp.signature,
                     b"".join(entry.frontier), now_us()),
                )  # fmt: skip
                conn.execute("COMMIT")
                return True
            except BaseException:
                with contextlib.suppress(Exception):  # the error that got us here matters
                    conn.execute("ROLLBACK")
                raise

        return bool(self._run(work))

    def read(self, public: Ed25519PublicKey) -> WitnessReading:
        reading = WitnessReading(self.shown)

        def work(conn: Any) -> list[Any]:
            return list(
                conn.execute(f"SELECT {COLUMNS} FROM {TABLE} ORDER BY log_id, tree_size").fetchall()  # noqa: S608
            )

        if not self.postgres and not Path(self.spec.target).exists():
            reading.notes.append(f"{self.shown}: no witness database yet (nothing witnessed)")
            return reading
        for row in self._run(work):
            try:
                entry = _entry(row)
            except ValueError as exc:
                reading.problems.append(f"{self.shown}: log {row[0]} size {row[1]}: {exc}")
                continue
            cp = entry.checkpoint
            if not cp.verify(public):
                reading.problems.append(
                    f"{self.shown}: log {cp.log_id}, size {group(cp.tree_size)}: the"
                    " checkpoint's signature does not verify (edited, or another key)"
                )
            elif fold_root(list(entry.frontier)) != cp.root:
                reading.problems.append(
                    f"{self.shown}: log {cp.log_id}, size {group(cp.tree_size)}: its frontier"
                    " does not match its root"
                )
            else:
                reading.entries.append(entry)
        if not reading.entries and not reading.problems:
            reading.notes.append(f"{self.shown}: no checkpoint witnessed yet")
        return reading


def _entry(row: Any) -> WitnessEntry:
    log_id, size, root, ts, key_id, signature, frontier, witnessed = row
    frontier = bytes(frontier)
    if len(frontier) != 32 * int(size).bit_count():
        raise ValueError("its frontier does not fit its size")
    checkpoint = Checkpoint(
        str(log_id), int(size), bytes(root), int(ts), str(key_id), bytes(signature)
    )
    nodes = tuple(frontier[i : i + 32] for i in range(0, len(frontier), 32))
    return WitnessEntry(checkpoint, nodes, int(witnessed))
