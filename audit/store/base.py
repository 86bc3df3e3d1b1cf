"""The store's plumbing: the connection, the SQL dialect hooks both databases fill in, and the
write transaction every append runs in (the log's lock, one retry on a lost connection).

The parts of :class:`audit.store.SqlStore` (schema, writing, probe, reading, search, archives)
each stand on :class:`SqlBase`; the tables and the layout are described in :mod:`audit.store`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from audit.store.batch import Head, head_from_row

log = logging.getLogger("jointgate.audit")
T = TypeVar("T")

TABLES = ("records", "entities", "queries", "heads", "checkpoints", "archives", "heartbeats")
NO_END = 1 << 62  # a position beyond any log's end
ENTITY_BUCKET = 1024  # records per blind-index bucket: part of the layout, do not change
# search columns generated from the body: (column, JSON key, SQL type)
GENERATED = (
    ("request_id", "request_id", "TEXT"), ("received_us", "received_us", "BIGINT"),
    ("committed_us", "committed_us", "BIGINT"), ("subject", "subject", "TEXT"),
    ("agency", "agency", "TEXT"), ("purpose", "purpose", "TEXT"),
    ("outcome", "outcome", "TEXT"), ("case_term", "case", "TEXT"),
)  # fmt: skip


class SqlBase:
    """Connection and dialect: what every part of the store uses; subclasses of
    :class:`audit.store.SqlStore` supply connection, locking and dialect SQL."""

    name = "sql"
    param = "?"
    blob = "BLOB"
    body_type = "BLOB"
    index_table_options = ""  # SQLite: WITHOUT ROWID
    body_as_bytes = "body"  # how to select the body so that the driver returns bytes
    whole_buckets = False  # index a bucket when it is complete, not each append's terms
    join_in_order = "JOIN"  # a join whose left side stays the outer loop (SQLite: CROSS JOIN)

    def __init__(self) -> None:
        self._conn: Any = None
        self.entity_bucket = ENTITY_BUCKET  # read once: tests make it smaller

    def __getstate__(self) -> dict[str, Any]:
        """A copy for another process (verify's workers) connects anew."""
        return {**self.__dict__, "_conn": None}

    # -- subclass hooks -------------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _begin_append(self, conn: Any, log_id: str) -> None:
        raise NotImplementedError

    def _table(self, name: str) -> str:
        return name

    def _generated(self, key: str, sql_type: str) -> str:
        """The SQL expression that extracts ``key`` from the body."""
        raise NotImplementedError

    def _body_param(self, body: bytes) -> Any:
        return body

    def _disconnected(self, exc: BaseException) -> bool:
        """True if ``exc`` came from a connection that is now lost (checked before rolling back):
        the transaction it held is gone with it and a new connection may run it again."""
        return False

    def secrets(self) -> list[str]:
        """Values that must not appear in what is reported about the store (a password)."""
        return []

    def _terms_join(self) -> str:
        """A join exposing ``j.value`` for each blind-index term in ``r.body``."""
        raise NotImplementedError

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        cur = self.connection().execute(sql, params)
        yield from cur

    # -- plumbing ---------------------------------------------------------------------------
    def sql(self, text: str) -> str:
        names = {t: self._table(t) for t in TABLES}
        if "{terms}" in text:
            names["terms"] = self._terms_join()
        if "{body}" in text:
            names["body"] = self.body_as_bytes
        if "{bucket}" in text:
            names["bucket"] = str(self.entity_bucket)
        text = text.format(**names)
        return text.replace("?", self.param) if self.param != "?" else text

    def connection(self) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _commit(self) -> None:
        self.connection().execute("COMMIT")

    def _rollback(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute("ROLLBACK")
        except Exception:
            with contextlib.suppress(Exception):
                conn.close()  # broken: reconnect next time
            return
        self._conn = conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def execute(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.connection().execute(self.sql(text), params)
        rows = cur.fetchall() if cur.description else []
        return [tuple(r) for r in rows]

    def _transact(self, log_id: str, write: Callable[[Any], T]) -> T:
        """``write(conn)`` in one transaction holding the log's write lock, committed. A
        connection lost on the way is opened again and the transaction run once more (``write``
        reads afresh what it builds on)."""
        for attempt in (1, 2):
            conn = self.connection()
            try:
                self._begin_append(conn, log_id)
                result = write(conn)
                self._commit()
            except BaseException as exc:
                again = attempt == 1 and isinstance(exc, Exception) and self._disconnected(exc)
                self._rollback()
                if not again:
                    raise
                log.warning("audit store: connection lost (%s); connecting again", exc)
            else:
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _head(self, conn: Any, log_id: str) -> Head | None:
        rows = conn.execute(
            self.sql(
                "SELECT log_id, tree_size, frontier, root, timestamp_us, key_id, signature,"
                " kept_us FROM {heads} WHERE log_id = ?"
            ),
            (log_id,),
        ).fetchall()
        return head_from_row(rows[0]) if rows else None


def body_bytes(body: Any) -> bytes:
    """A body as the driver returned it (bytes, memoryview, or str from SQLite's TEXT)."""
    return body.encode() if isinstance(body, str) else bytes(body)
