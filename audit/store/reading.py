"""Reading the log back: heads, checkpoints, records in sequence order (what verify and proofs
read), the blind index of a bucket, query texts."""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterable, Iterator
from typing import Any

from audit.checkpoint import Checkpoint
from audit.store.base import NO_END, SqlBase, body_bytes
from audit.store.batch import Head, head_from_row


class Reading(SqlBase):
    """Heads, checkpoints, records and query texts."""

    def head(self, log_id: str) -> Head | None:
        return self._head(self.connection(), log_id)

    def heads(self) -> list[Head]:
        rows = self.execute(
            "SELECT log_id, tree_size, frontier, root, timestamp_us, key_id, signature, kept_us"
            " FROM {heads} ORDER BY log_id"
        )
        return [head_from_row(r) for r in rows]

    def log_ids(self) -> list[str]:
        """Every log the store knows of, from any table (a log whose head was deleted too)."""
        rows = self.execute(
            "SELECT log_id FROM {heads} UNION SELECT DISTINCT log_id FROM {records}"
            " UNION SELECT log_id FROM {checkpoints} UNION SELECT log_id FROM {archives}"
        )
        return sorted(r[0] for r in rows)

    def checkpoints(self, log_id: str) -> list[Checkpoint]:
        rows = self.execute(
            "SELECT log_id, tree_size, root, timestamp_us, key_id, signature FROM {checkpoints}"
            " WHERE log_id = ? ORDER BY tree_size",
            (log_id,),
        )
        return [Checkpoint(r[0], r[1], bytes(r[2]), r[3], r[4], bytes(r[5])) for r in rows]

    def scan(
        self, log_id: str, start: int = 0, end: int | None = None
    ) -> Iterator[tuple[int, bytes, bytes]]:
        """(seq, stored leaf, body) in sequence order, streaming."""
        sql = "SELECT seq, leaf, {body} FROM {records} WHERE log_id = ? AND seq >= ?"
        params: list[Any] = [log_id, start]
        if end is not None:
            sql += " AND seq < ?"
            params.append(end)
        for seq, leaf, body in self._stream(self.sql(sql + " ORDER BY seq"), params):
            yield seq, bytes(leaf), body_bytes(body)

    def scan_chunks(
        self, log_id: str, start: int = 0, size: int = 2048, end: int | None = None
    ) -> Generator[list[tuple[int, bytes, bytes]], None, None]:
        """Like :meth:`scan`, in lists of up to ``size`` rows (what verify reads), positions
        ``start`` up to ``end`` (excluded; None: the end of the log)."""
        sql = self.sql(
            "SELECT seq, leaf, {body} FROM {records} WHERE log_id = ? AND seq >= ? AND seq < ?"
            " ORDER BY seq"
        )
        rows = self._stream(sql, (log_id, start, NO_END if end is None else end))
        while chunk := list(itertools.islice(rows, size)):
            if not all(type(leaf) is bytes and type(body) is bytes for _, leaf, body in chunk):
                chunk = [(seq, bytes(leaf), body_bytes(body)) for seq, leaf, body in chunk]
            yield chunk

    def leaves(self, log_id: str, lo: int, hi: int) -> list[bytes]:
        rows = self.execute(
            "SELECT leaf FROM {records} WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
            (log_id, lo, hi),
        )
        return [bytes(r[0]) for r in rows]

    def first_seq(self, log_id: str, start: int = 0) -> int | None:
        """The first position at or after ``start`` that holds a record."""
        rows = self.execute(
            "SELECT min(seq) FROM {records} WHERE log_id = ? AND seq >= ?", (log_id, start)
        )
        return None if rows[0][0] is None else int(rows[0][0])

    def bucket_terms(self, log_id: str, bucket: int) -> bytes:
        """The blind index of one bucket: ``term:seq`` for each entry, joined by commas, in
        whatever order the database aggregates them."""
        rows = self.execute(
            f"SELECT {self._aggregate_terms()} FROM {{entities}}"  # noqa: S608
            " WHERE log_id = ? AND bucket = ?",
            (log_id, bucket),
        )
        return body_bytes(rows[0][0] or b"")

    def _aggregate_terms(self) -> str:
        return "CAST(group_concat(term || ':' || seq, ',') AS BLOB)"

    def count_terms(self, log_id: str) -> int:
        rows = self.execute("SELECT count(*) FROM {entities} WHERE log_id = ?", (log_id,))
        return int(rows[0][0])

    def count(self, log_id: str | None = None) -> int:
        if log_id is None:
            rows = self.execute("SELECT count(*) FROM {records}")
        else:
            rows = self.execute("SELECT count(*) FROM {records} WHERE log_id = ?", (log_id,))
        return int(rows[0][0])

    def query_texts(self, macs: Iterable[str] | None = None) -> dict[str, str]:
        if macs is None:
            rows = self.execute("SELECT mac, sealed FROM {queries}")
        else:
            wanted = sorted(set(macs))
            if not wanted:
                return {}
            marks = ", ".join("?" * len(wanted))
            rows = self.execute(
                f"SELECT mac, sealed FROM {{queries}} WHERE mac IN ({marks})",  # noqa: S608
                wanted,
            )
        return {r[0]: r[1] for r in rows}

    def query_macs(self) -> set[str]:
        """The keyed hashes of every query text stored (what records cite them by)."""
        return {row[0] for row in self.execute("SELECT mac FROM {queries}")}
