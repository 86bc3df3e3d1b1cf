"""Appends: one transaction per batch that locks the log, builds the batch on its head, inserts
records, blind-index terms and query texts, moves the head and keeps the checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audit.checkpoint import Checkpoint
from audit.errors import AuditStoreError
from audit.store.base import SqlBase
from audit.store.batch import Batch, Build


class Writing(SqlBase):
    """Appending batches to a log."""

    def append(self, log_id: str, build: Build) -> Batch:
        """One transaction: lock the log, build the batch on its head, insert it, move the head.

        If the connection is lost on the way, the append runs once more on a new connection:
        the batch is built again on the head as it is then, unless it is in the log already
        (the COMMIT went through and its answer was lost with the connection: never appended
        twice)."""
        built: Batch | None = None

        def write(conn: Any) -> Batch:
            nonlocal built
            head = self._head(conn, log_id)
            if built is not None and self._holds(conn, log_id, built):
                return built
            built = build(head)
            self._insert(conn, log_id, built)
            return built

        try:
            return self._transact(log_id, write)
        except Exception as exc:
            if built is not None and built.rows:
                self._explain_refusal(log_id, built.rows[0].seq, exc)
            raise

    def _holds(self, conn: Any, log_id: str, batch: Batch) -> bool:
        """Whether the log holds ``batch``: its records at their positions, with their leaves."""
        if not batch.rows:
            return False
        rows = conn.execute(
            self.sql(
                "SELECT seq, leaf FROM {records} WHERE log_id = ? AND seq >= ? AND seq < ?"
                " ORDER BY seq"
            ),
            (log_id, batch.rows[0].seq, batch.rows[-1].seq + 1),
        ).fetchall()
        return [(int(seq), bytes(leaf)) for seq, leaf in rows] == [
            (r.seq, r.leaf) for r in batch.rows
        ]

    def _explain_refusal(self, log_id: str, size: int, exc: Exception) -> None:
        """An append that failed because records sit past the signed head (inserted behind
        the writers' back) says so, instead of the database's unique-key error. Looked up
        only after a failure, and only while the connection still works."""
        if self._conn is None:
            return
        try:
            extra = self.past_head(log_id, size)
        except Exception:
            return
        if extra is not None:
            first, last = extra
            raise AuditStoreError(
                f"log {log_id}: records {first}..{last} lie past its signed head of {size}"
                " records (added behind the gateway's back), so nothing more can be appended"
                " to it; `jointgate audit verify` reports the log"
            ) from exc

    def past_head(self, log_id: str, size: int) -> tuple[int, int] | None:
        """The first and last positions of the records stored at ``size`` or beyond, where a
        log whose signed head covers ``size`` records has none; ``None`` if there are none."""
        [(first, last)] = self.execute(
            "SELECT min(seq), max(seq) FROM {records} WHERE log_id = ? AND seq >= ?",
            (log_id, size),
        )
        return None if first is None else (int(first), int(last))

    def _insert(self, conn: Any, log_id: str, batch: Batch) -> None:
        cur = conn.cursor()
        self._insert_many(
            cur, "records", ("log_id", "seq", "leaf", "body"),
            [(log_id, r.seq, r.leaf, self._body_param(r.body)) for r in batch.rows],
        )  # fmt: skip
        per_bucket = self.entity_bucket
        if self.whole_buckets and batch.rows:
            first, end = batch.rows[0].seq, batch.rows[-1].seq + 1
            for bucket in range(first // per_bucket, end // per_bucket):
                self._index_bucket(cur, log_id, bucket)
        elif terms := [
            (t, log_id, r.seq, r.seq // per_bucket) for r in batch.rows for t in r.terms
        ]:
            self._insert_many(cur, "entities", ("term", "log_id", "seq", "bucket"), terms)
        if batch.queries:
            cur.executemany(
                self.sql(
                    "INSERT INTO {queries} (mac, sealed) VALUES (?, ?) ON CONFLICT (mac) DO NOTHING"
                ),
                sorted(batch.queries.items()),
            )
        head = batch.head
        cp = head.checkpoint
        cur.execute(
            self.sql(
                "INSERT INTO {heads} (log_id, tree_size, frontier, root, timestamp_us, key_id,"
                " signature, kept_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (log_id) DO UPDATE SET tree_size = excluded.tree_size,"
                " frontier = excluded.frontier,"
                " root = excluded.root, timestamp_us = excluded.timestamp_us,"
                " key_id = excluded.key_id, signature = excluded.signature,"
                " kept_us = excluded.kept_us"
            ),
            (log_id, cp.tree_size, head.tree.to_bytes(), cp.root, cp.timestamp_us, cp.key_id,
             cp.signature, head.kept_us),
        )  # fmt: skip
        if batch.keep:
            self._insert_checkpoint(cur, cp)

    def _index_bucket(self, cur: Any, log_id: str, bucket: int) -> None:
        """The blind index of a bucket the append completes: every term its bodies list,
        inserted in the table's key order (pages are filled one after another, once)."""
        lo = bucket * self.entity_bucket
        cur.execute(
            self.sql(
                "INSERT INTO {entities} (term, log_id, seq, bucket)"
                " SELECT j.value, r.log_id, r.seq, ? FROM {records} r {terms}"
                " WHERE r.log_id = ? AND r.seq >= ? AND r.seq < ? ORDER BY j.value, r.seq"
            ),
            (bucket, log_id, lo, lo + self.entity_bucket),
        )

    def _insert_many(
        self, cur: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        marks = ", ".join("?" * len(columns))
        statement = f"INSERT INTO {{{table}}} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        cur.executemany(self.sql(statement), rows)

    def _insert_checkpoint(self, cur: Any, cp: Checkpoint) -> None:
        cur.execute(
            self.sql(
                "INSERT INTO {checkpoints} (log_id, tree_size, root, timestamp_us, key_id,"
                " signature) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (log_id, tree_size) DO NOTHING"
            ),
            (cp.log_id, cp.tree_size, cp.root, cp.timestamp_us, cp.key_id, cp.signature),
        )
