"""Searching: the records whose bodies match a filter, found through the blind index bucket by
bucket (and, with ``whole_buckets``, in the bodies of each log's open bucket)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from audit.store.base import SqlBase, body_bytes

HITS_PARAMETERS = 3  # times ``SqlStore.hits`` takes the term with ``whole_buckets``


class Search(SqlBase):
    """Bodies by filter, through the blind index."""

    def bodies(self, sql_where: str, params: Sequence[Any], limit: int | None,
               join_term: str | None = None) -> Iterator[tuple[str, int, bytes]]:  # fmt: skip
        """(log_id, seq, body) of records matching ``sql_where``, oldest first."""
        sql = "SELECT r.log_id, r.seq, {body} FROM {records} r"
        args: list[Any] = []
        if join_term is not None:
            # the blind index first, whatever the planner's statistics say
            sql = self.hits() + sql + " JOIN hits e ON e.log_id = r.log_id AND e.seq = r.seq"
            args.extend(self.hits_parameters(join_term))
        sql += f" WHERE {sql_where} ORDER BY r.received_us, r.log_id, r.seq"
        args.extend(params)
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        for log_id, seq, body in self._stream(self.sql(sql), args):
            yield log_id, seq, body_bytes(body)

    def hits(self) -> str:
        """``WITH ... hits(log_id, seq)``: the records whose blind index holds the term (the
        parameters: ``hits_parameters``), found bucket by bucket of every log up to its signed
        head, and with ``whole_buckets`` in the bodies of each log's open bucket."""
        # the buckets to probe: every one up to the head's, or only the complete ones
        last = "tree_size / {bucket} - 1" if self.whole_buckets else "tree_size / {bucket}"
        buckets = (
            "WITH RECURSIVE buckets(log_id, bucket, last) AS ("  # noqa: S608 - ours
            f" SELECT log_id, 0, {last} FROM {{heads}} WHERE {last} >= 0"
            " UNION ALL SELECT log_id, bucket + 1, last FROM buckets WHERE bucket < last),"
        )
        if not self.whole_buckets:
            return f"{buckets} hits AS MATERIALIZED ({self._bucket_probe()}) "
        open_bucket = (
            # the head drives: planned from the records side (a trail nobody ANALYZEd) this
            # scanned the whole table for every search
            f"SELECT r.log_id, r.seq FROM {{heads}} h {self.join_in_order} {{records}} r"  # noqa: S608 - ours
            " ON r.log_id = h.log_id"
            f" AND r.seq >= h.tree_size / {{bucket}} * {{bucket}} {{terms}}"
            f" WHERE {self._body_contains()} AND j.value = ?"
        )
        return f"{buckets} hits AS MATERIALIZED ({self._bucket_probe()} UNION ALL {open_bucket}) "

    def hits_parameters(self, term: str) -> list[str]:
        return [term] * (HITS_PARAMETERS if self.whole_buckets else 1)

    def _bucket_probe(self) -> str:
        """SELECT log_id, seq for the term (a parameter) in each row of ``buckets``."""
        raise NotImplementedError

    def _body_contains(self) -> str:
        """True for a body ``r.body`` holding the text given as a parameter (a cheap filter
        before its terms are parsed)."""
        raise NotImplementedError
