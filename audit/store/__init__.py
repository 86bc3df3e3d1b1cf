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

The store is assembled from parts that each do one thing, all on :class:`~audit.store.base.SqlBase`
(connection, dialect hooks, the write transaction): :mod:`~audit.store.schema` (tables and
migrations), :mod:`~audit.store.writing` (appends), :mod:`~audit.store.probe` (the readiness
probe), :mod:`~audit.store.reading` (heads, checkpoints, records), :mod:`~audit.store.search`
(the blind index), :mod:`~audit.store.archives` (retention's bookkeeping). What an append writes
is built apart from the store, in :mod:`~audit.store.batch` (sealing, checkpoints).
"""

from __future__ import annotations

from audit.store.archives import ArchiveEntry, Archives
from audit.store.base import ENTITY_BUCKET, GENERATED, NO_END, TABLES, SqlBase
from audit.store.batch import Batch, Build, CheckpointPolicy, Head, build_batch, now_us
from audit.store.probe import Probe
from audit.store.reading import Reading
from audit.store.schema import Schema
from audit.store.search import HITS_PARAMETERS, Search
from audit.store.writing import Writing

__all__ = [
    "ENTITY_BUCKET",
    "GENERATED",
    "HITS_PARAMETERS",
    "NO_END",
    "TABLES",
    "ArchiveEntry",
    "Batch",
    "Build",
    "CheckpointPolicy",
    "Head",
    "SqlBase",
    "SqlStore",
    "build_batch",
    "now_us",
]


class SqlStore(Schema, Probe, Writing, Reading, Search, Archives):
    """What both databases share; subclasses supply connection, locking and dialect SQL."""
