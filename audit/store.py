"""The log's storage: one SQL layout, two databases (SQLite by default, PostgreSQL).

Tables (PostgreSQL puts them in their own schema)::

    records      one row per record: position (log_id, seq), the leaf hash, the sealed JSON
                 body the leaf hash covers, and the columns searches filter on, which the
                 database itself derives from the body (generated columns: they cannot be
                 edited apart from the body the tree covers)
    entities     blind index: (term, log_id, seq) for every record key shown or looked up,
                 clustered by (log_id, bucket = seq / 1024); a lookup probes each bucket of
                 each log (a thousand probes per million records). In SQLite a bucket is
                 written whole, in key order, by the append that completes it (``whole_buckets``:
                 a random page per term per append costs a full WAL frame each), and lookups
                 scan the bodies of each log's open bucket (under 1,024 records); PostgreSQL
                 indexes every append's terms as it goes (a bucket at once stalls an append)
    queries      query texts, sealed, once per keyed hash of the normalised text
    heads        per log: tree size, compact range (frontier) and the latest signed checkpoint
    checkpoints  per log: signed checkpoints kept every N records or T seconds
    archives     per log: archive files holding the records moved out by retention
    heartbeats   per log: when the gateway's readiness probe last proved that it can append
                 (a committed write that is not part of the log: ``probe``)

Connections run in autocommit mode and every write is an explicit ``BEGIN`` ... ``COMMIT``.
Every append is one transaction that locks the log's head (``BEGIN IMMEDIATE`` in SQLite, an
advisory lock in PostgreSQL), seals the batch on top of it and moves the head, so any number of
writers may share a log safely; the gateway runs one writer per process and one log per replica
(docs/audit.md). A connection lost in an append (PostgreSQL restarted, the backend terminated) is
opened again and the append run once more, after checking whether its batch went in (``append``).
Statements are written once with ``?`` placeholders and table names in braces. The store is
synchronous: the gateway drives it from one dedicated thread (audit.trail).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from audit.checkpoint import Checkpoint, iso_us
from audit.checkpoint import sign as sign_checkpoint
from audit.errors import AuditStoreError
from audit.keys import DataKey, Signer
from audit.merkle import CompactRange
from audit.record import Prepared, Row, seal

log = logging.getLogger("jointgate.audit")
T = TypeVar("T")

TABLES = ("records", "entities", "queries", "heads", "checkpoints", "archives", "heartbeats")
NO_END = 1 << 62  # a position beyond any log's end
ENTITY_BUCKET = 1024  # records per blind-index bucket: part of the layout, do not change
HITS_PARAMETERS = 3  # times ``SqlStore.hits`` takes the term with ``whole_buckets``
# search columns generated from the body: (column, JSON key, SQL type)
GENERATED = (
    ("request_id", "request_id", "TEXT"), ("received_us", "received_us", "BIGINT"),
    ("committed_us", "committed_us", "BIGINT"), ("subject", "subject", "TEXT"),
    ("agency", "agency", "TEXT"), ("purpose", "purpose", "TEXT"),
    ("outcome", "outcome", "TEXT"), ("case_term", "case", "TEXT"),
)  # fmt: skip


@dataclass(slots=True)
class Head:
    """Where a log stands: its tree (frontier) and the checkpoint signed over it."""

    log_id: str
    tree: CompactRange
    checkpoint: Checkpoint
    kept_us: int  # when the last checkpoint was kept in the history


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    log_id: str
    first_seq: int
    end_seq: int
    file: str
    sha256: str
    prev_sha256: str
    created_us: int


@dataclass(slots=True)
class Batch:
    rows: list[Row]
    queries: dict[str, str]
    head: Head
    keep: bool


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """Keep a checkpoint in the history every ``every`` records or ``interval_s`` seconds."""

    every: int = 1000
    interval_s: float = 60.0


def now_us() -> int:
    return time.time_ns() // 1000


def build_batch(
    head: Head | None,
    log_id: str,
    prepared: Sequence[Prepared],
    key: DataKey,
    signer: Signer,
    policy: CheckpointPolicy,
    *,
    signed: bool = True,
) -> Batch:
    """Seal ``prepared`` on top of ``head``: positions, leaves, the new frontier, a checkpoint.
    ``signed=False`` (the readiness probe's batch, never committed) leaves the checkpoint's
    signature zero: a signed checkpoint over a tree that is not the log's would look like a fork
    to anyone who found it (in a database's write-ahead log, say)."""
    tree = head.tree.copy() if head else CompactRange()
    old_size = tree.size
    stamp = max(now_us(), head.checkpoint.timestamp_us if head else 0)
    time_text = iso_us(stamp)
    rows = [
        seal(item, key, log_id, old_size + i, stamp, time_text) for i, item in enumerate(prepared)
    ]
    tree.extend([row.leaf for row in rows])
    queries = {i.query_mac: i.query_sealed for i in prepared if i.query_mac and i.query_sealed}
    checkpoint = (
        sign_checkpoint(signer, log_id, tree.size, tree.root(), stamp)
        if signed
        else Checkpoint(log_id, tree.size, tree.root(), stamp, signer.key_id, bytes(64))
    )
    keep = (
        head is None
        or tree.size // policy.every != old_size // policy.every
        or stamp - head.kept_us >= policy.interval_s * 1e6
    )
    kept_us = stamp if keep or head is None else head.kept_us
    return Batch(rows, queries, Head(log_id, tree, checkpoint, kept_us), keep)


Build = Callable[[Head | None], Batch]


class SqlStore:
    """What both databases share; subclasses supply connection, locking and dialect SQL."""

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

    def schema_problems(self) -> list[str]:
        """Differences between the live table definitions and ours (generated columns)."""
        raise NotImplementedError

    def _terms_join(self) -> str:
        """A join exposing ``j.value`` for each blind-index term in ``r.body``."""
        raise NotImplementedError

    def _begin_schema(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def _extra_schema(self) -> list[str]:
        return []

    def index_problems(self, log_id: str) -> list[str]:
        """The table definitions are ours and the blind index holds exactly the terms of the
        bodies in complete buckets (none of the open one): counted in the database, located
        record by record only when counts differ."""
        problems = self.schema_problems()
        end = self.indexed_end(log_id)
        listed = self.execute(
            "SELECT count(*) FROM {records} r {terms} WHERE r.log_id = ? AND r.seq < ?",
            (log_id, end),
        )
        indexed = self.execute("SELECT count(*) FROM {entities} WHERE log_id = ?", (log_id,))
        matched = self.execute(
            "SELECT count(*) FROM {records} r {terms} JOIN {entities} e ON e.log_id = r.log_id"
            " AND e.bucket = r.seq / {bucket} AND e.term = j.value AND e.seq = r.seq"
            " WHERE r.log_id = ? AND r.seq < ?",
            (log_id, end),
        )
        if matched != listed:
            rows = self.execute(
                "SELECT r.seq, j.value FROM {records} r {terms} WHERE r.log_id = ?"
                " AND r.seq < ? AND NOT EXISTS (SELECT 1 FROM {entities} e"
                " WHERE e.log_id = r.log_id AND e.bucket = r.seq / {bucket}"
                " AND e.term = j.value AND e.seq = r.seq) ORDER BY r.seq LIMIT 1",
                (log_id, end),
            )
            seq, term = rows[0] if rows else ("?", "?")
            problems.append(f"record {seq}: blind-index entry {term} is missing")
        if indexed != matched:
            rows = self.execute(
                "SELECT e.seq, e.term, e.bucket <> e.seq / {bucket} FROM {entities} e"
                " WHERE e.log_id = ? AND (e.bucket <> e.seq / {bucket} OR e.seq >= ?"
                " OR NOT EXISTS (SELECT 1 FROM {records} r {terms} WHERE r.log_id = e.log_id"
                " AND r.seq = e.seq AND j.value = e.term)) ORDER BY e.seq LIMIT 1",
                (log_id, end),
            )
            seq, term, misplaced = rows[0] if rows else ("?", "?", False)
            where = "is in another bucket" if misplaced else "is not in it"
            if not misplaced and isinstance(seq, int) and seq >= end:
                where = "is in the open bucket (indexed before its bucket was complete)"
            problems.append(f"record {seq}: blind-index entry {term} {where}")
        return problems

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

    def schema_statements(self) -> list[str]:
        b = self.blob
        return [
            self.records_table(),
            "CREATE INDEX IF NOT EXISTS records_request ON {records} (request_id)",
            "CREATE INDEX IF NOT EXISTS records_received ON {records} (received_us)",
            "CREATE INDEX IF NOT EXISTS records_subject ON {records} (subject, received_us)",
            # searches by case go through the blind index, which holds the case's term
            f"DROP INDEX IF EXISTS {self._index('records_case')}",
            self.entities_table(),
            "CREATE TABLE IF NOT EXISTS {queries} (mac TEXT PRIMARY KEY, sealed TEXT NOT NULL)",
            f"""CREATE TABLE IF NOT EXISTS {{heads}} (
                log_id TEXT PRIMARY KEY, tree_size BIGINT NOT NULL, frontier {b} NOT NULL,
                root {b} NOT NULL, timestamp_us BIGINT NOT NULL, key_id TEXT NOT NULL,
                signature {b} NOT NULL, kept_us BIGINT NOT NULL)""",
            f"""CREATE TABLE IF NOT EXISTS {{checkpoints}} (
                log_id TEXT NOT NULL, tree_size BIGINT NOT NULL, root {b} NOT NULL,
                timestamp_us BIGINT NOT NULL, key_id TEXT NOT NULL, signature {b} NOT NULL,
                PRIMARY KEY (log_id, tree_size))""",
            """CREATE TABLE IF NOT EXISTS {archives} (
                log_id TEXT NOT NULL, first_seq BIGINT NOT NULL, end_seq BIGINT NOT NULL,
                file TEXT NOT NULL, sha256 TEXT NOT NULL, prev_sha256 TEXT NOT NULL,
                created_us BIGINT NOT NULL, PRIMARY KEY (log_id, first_seq))""",
            """CREATE TABLE IF NOT EXISTS {heartbeats} (
                log_id TEXT PRIMARY KEY, written_us BIGINT NOT NULL)""",
            *self._extra_schema(),
        ]

    def entities_table(self, name: str = "{entities}") -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {name} (term TEXT NOT NULL, log_id TEXT NOT NULL,"
            " seq BIGINT NOT NULL, bucket BIGINT NOT NULL,"
            f" PRIMARY KEY (log_id, bucket, term, seq)){self.index_table_options}"
        )

    def _index(self, name: str) -> str:
        """An index's name as DROP INDEX wants it."""
        return name

    def _columns(self, table: str) -> set[str]:
        """The columns of one of our tables (empty if it does not exist)."""
        raise NotImplementedError

    def _migrate(self, conn: Any) -> None:
        """Bring tables written by an earlier version to the current layout (in the schema
        transaction). The first layout of the blind index had no buckets: it is rebuilt."""
        columns = self._columns("entities")
        if columns and "bucket" not in columns:
            old = self._table("entities_unbucketed")
            conn.execute(f"ALTER TABLE {self._table('entities')} RENAME TO entities_unbucketed")
            conn.execute(self.sql(self.entities_table()))
            conn.execute(
                self.sql(
                    "INSERT INTO {entities} (term, log_id, seq, bucket)"  # noqa: S608
                    f" SELECT term, log_id, seq, seq / {{bucket}} FROM {old}"
                    " ORDER BY log_id, seq / {bucket}, term, seq"
                )
            )
            conn.execute(f"DROP TABLE {old}")

    def records_table(self) -> str:
        generated = ", ".join(
            f"{column} {sql_type} GENERATED ALWAYS AS ({self._generated(key, sql_type)}) STORED"
            for column, key, sql_type in GENERATED
        )
        return (
            "CREATE TABLE IF NOT EXISTS {records} (log_id TEXT NOT NULL, seq BIGINT NOT NULL,"
            f" leaf {self.blob} NOT NULL, body {self.body_type} NOT NULL, {generated},"
            " PRIMARY KEY (log_id, seq))"
        )

    def create_schema(self) -> None:
        conn = self.connection()
        self._begin_schema(conn)
        try:
            self._migrate(conn)
            for statement in self.schema_statements():
                conn.execute(self.sql(statement))
            # trails written before buckets were indexed whole have entries in the open bucket
            if self.whole_buckets:
                heads = conn.execute(self.sql("SELECT log_id, tree_size FROM {heads}"))
                for log_id, size in heads.fetchall():
                    conn.execute(
                        self.sql("DELETE FROM {entities} WHERE log_id = ? AND bucket >= ?"),
                        (log_id, size // self.entity_bucket),
                    )
            self._commit()
        except BaseException:
            self._rollback()
            raise

    # -- writing ----------------------------------------------------------------------------
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

    def probe(self, log_id: str, build: Build) -> None:
        """Prove that an append would commit now, without appending: the append's transaction
        (the log's lock, its head, the batch ``build`` makes on it inserted as an append inserts
        it, so that every trigger and constraint an append meets is met) up to a savepoint that
        is rolled back, then the log's heartbeat row written and committed as an append commits
        (same connection, same durability). Raises while the store cannot append; the log and
        its head are left as they were."""

        def write(conn: Any) -> None:
            conn.execute("SAVEPOINT probe")
            self._insert(conn, log_id, build(self._head(conn, log_id)))
            conn.execute("ROLLBACK TO SAVEPOINT probe")
            conn.execute(
                self.sql(
                    "INSERT INTO {heartbeats} (log_id, written_us) VALUES (?, ?)"
                    " ON CONFLICT (log_id) DO UPDATE SET written_us = excluded.written_us"
                ),
                (log_id, now_us()),
            )

        self._transact(log_id, write)

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

    def indexed_end(self, log_id: str) -> int:
        """Where the records the blind index holds end: with ``whole_buckets``, where the log's
        open bucket starts (records from there on are found by scanning their bodies)."""
        rows = self.execute("SELECT tree_size FROM {heads} WHERE log_id = ?", (log_id,))
        size = int(rows[0][0]) if rows else 0
        return size - size % self.entity_bucket if self.whole_buckets else size

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

    # -- reading ----------------------------------------------------------------------------
    def _head(self, conn: Any, log_id: str) -> Head | None:
        rows = conn.execute(
            self.sql(
                "SELECT log_id, tree_size, frontier, root, timestamp_us, key_id, signature,"
                " kept_us FROM {heads} WHERE log_id = ?"
            ),
            (log_id,),
        ).fetchall()
        return _head(rows[0]) if rows else None

    def head(self, log_id: str) -> Head | None:
        return self._head(self.connection(), log_id)

    def heads(self) -> list[Head]:
        rows = self.execute(
            "SELECT log_id, tree_size, frontier, root, timestamp_us, key_id, signature, kept_us"
            " FROM {heads} ORDER BY log_id"
        )
        return [_head(r) for r in rows]

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

    def archives(self, log_id: str) -> list[ArchiveEntry]:
        rows = self.execute(
            "SELECT log_id, first_seq, end_seq, file, sha256, prev_sha256, created_us"
            " FROM {archives} WHERE log_id = ? ORDER BY first_seq",
            (log_id,),
        )
        return [ArchiveEntry(*r) for r in rows]

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
            yield seq, bytes(leaf), _bytes(body)

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
                chunk = [(seq, bytes(leaf), _bytes(body)) for seq, leaf, body in chunk]
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
        return _bytes(rows[0][0] or b"")

    def _aggregate_terms(self) -> str:
        return "CAST(group_concat(term || ':' || seq, ',') AS BLOB)"

    def count_terms(self, log_id: str) -> int:
        rows = self.execute("SELECT count(*) FROM {entities} WHERE log_id = ?", (log_id,))
        return int(rows[0][0])

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
            yield log_id, seq, _bytes(body)

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

    # -- retention --------------------------------------------------------------------------
    def add_archive(self, entry: ArchiveEntry, chunk: int = 20_000) -> None:
        """Record an archive file, then delete the records it holds in small transactions."""
        conn = self.connection()
        try:
            self._begin_append(conn, entry.log_id)
            conn.execute(
                self.sql(
                    "INSERT INTO {archives} (log_id, first_seq, end_seq, file, sha256,"
                    " prev_sha256, created_us) VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                (entry.log_id, entry.first_seq, entry.end_seq, entry.file, entry.sha256,
                 entry.prev_sha256, entry.created_us),
            )  # fmt: skip
            self._commit()
        except BaseException:
            self._rollback()
            raise
        for lo in range(entry.first_seq, entry.end_seq, chunk):
            hi = min(lo + chunk, entry.end_seq)
            try:
                conn = self.connection()
                self._begin_append(conn, entry.log_id)
                conn.execute(
                    self.sql(
                        "DELETE FROM {entities} WHERE log_id = ? AND bucket >= ? AND bucket <= ?"
                        " AND seq >= ? AND seq < ?"
                    ),
                    (
                        entry.log_id,
                        lo // self.entity_bucket,
                        (hi - 1) // self.entity_bucket,
                        lo,
                        hi,
                    ),
                )
                conn.execute(
                    self.sql("DELETE FROM {records} WHERE log_id = ? AND seq >= ? AND seq < ?"),
                    (entry.log_id, lo, hi),
                )
                self._commit()
            except BaseException:
                self._rollback()
                raise


def _bytes(body: Any) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def _head(row: Sequence[Any]) -> Head:
    log_id, size, frontier, root, ts, key_id, signature, kept_us = row
    return Head(
        log_id,
        CompactRange.from_bytes(int(size), bytes(frontier)),
        Checkpoint(log_id, int(size), bytes(root), int(ts), key_id, bytes(signature)),
        int(kept_us),
    )
