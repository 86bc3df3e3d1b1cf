"""The producer side of an append: sealing prepared records on top of a log's head into a
batch (positions, leaves, the new frontier, a signed checkpoint, whether to keep it). Pure: the
store (``SqlStore.append``) hands the batch the head it read under the log's lock and writes what
comes back, as an OpenTelemetry processor hands spans to its exporter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from audit.checkpoint import Checkpoint, iso_us
from audit.checkpoint import sign as sign_checkpoint
from audit.keys import DataKey, Signer
from audit.merkle import CompactRange
from audit.record import Prepared, Row, seal


@dataclass(slots=True)
class Head:
    """Where a log stands: its tree (frontier) and the checkpoint signed over it."""

    log_id: str
    tree: CompactRange
    checkpoint: Checkpoint
    kept_us: int  # when the last checkpoint was kept in the history


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


def head_from_row(row: Sequence[Any]) -> Head:
    """A ``heads`` row (log_id, tree_size, frontier, root, timestamp_us, key_id, signature,
    kept_us) as a :class:`Head`."""
    log_id, size, frontier, root, ts, key_id, signature, kept_us = row
    return Head(
        log_id,
        CompactRange.from_bytes(int(size), bytes(frontier)),
        Checkpoint(log_id, int(size), bytes(root), int(ts), key_id, bytes(signature)),
        int(kept_us),
    )
