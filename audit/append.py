"""Appending records synchronously, outside the gateway's writer: the audit CLI's own records,
archiving's note, tools and benchmarks. The same path as the gateway's writer
(:class:`audit.trail.AuditTrail`): records prepared with the trail's keys, sealed into a batch on
the log's head (:func:`audit.store.build_batch`), appended in one transaction."""

from __future__ import annotations

from audit.config import AuditConfig
from audit.record import Prepared, prepare
from audit.store import Batch, SqlStore, build_batch
from kernel.types import AuditRecord


def append_records(config: AuditConfig, store: SqlStore, records: list[AuditRecord]) -> Batch:
    """Append synchronously (the audit CLI's own records, tools); same path as the gateway."""
    items = [prepare(r, config.key, config.unindexed_types) for r in records]
    return append_prepared(config, store, items)


def append_prepared(config: AuditConfig, store: SqlStore, items: list[Prepared]) -> Batch:
    return store.append(
        config.log_id,
        lambda head: build_batch(
            head, config.log_id, items, config.key, config.signer, config.policy
        ),
    )
