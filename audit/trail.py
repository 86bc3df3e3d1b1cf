"""The gateway's audit log: group commit onto the store, fail closed, recover by itself.

``commit`` prepares the record (keyed hashes, sealing input) in the caller's task, queues it and
waits. One writer task drains the queue: everything queued while the previous transaction was
being written goes into the next one, so concurrent requests share one transaction and one
fsync, and no ``commit`` returns before the transaction holding its record has committed.

If a transaction fails, every commit in it raises (the pipeline answers 503), ``healthy`` turns
False and a probe retries the store every second; the first successful probe or commit turns it
True again. Nothing is kept in memory between transactions: each one re-reads the log's head
under the log's lock, so the tree carries on from exactly what is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from audit.config import AuditConfig
from audit.errors import AuditStoreError
from audit.record import Prepared, prepare
from audit.store import Batch, SqlStore, build_batch
from gateway.types import AuditRecord

if TYPE_CHECKING:
    from audit.reader import AuditReader

log = logging.getLogger("jointgate.audit")

PROBE_INTERVAL_S = 1.0


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


class AuditTrail:
    """:class:`gateway.audit.AuditLog` over a SQL store."""

    def __init__(self, config: AuditConfig) -> None:
        self.config = config
        self._store = config.new_store()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="audit-writer")
        self._pending: list[tuple[Prepared, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None
        self._schema_ready = False
        self._reader_schema_ready = False
        self._healthy = True
        self._closed = False
        self.batches = 0  # transactions written (for tests and benchmarks)

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def commit(self, record: AuditRecord) -> None:
        if self._closed:
            raise AuditStoreError("the audit trail is closed")
        item = prepare(record, self.config.key, self.config.unindexed_types)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        limit = self.config.settings.max_batch
        while self._pending:
            batch = self._pending[:limit]
            del self._pending[:limit]
            try:
                await loop.run_in_executor(self._thread, self._append, [i for i, _ in batch])
            except Exception as exc:
                log.error("audit store append failed: %s", exc)
                self._unhealthy()
                error = AuditStoreError(f"the audit store could not append: {exc}")
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                self._healthy = True
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def reader(self) -> AuditReader:
        """A reader over this trail on a connection of its own, for one thread (the GraphQL
        ``auditLog`` opens one per request in a worker thread); close ``reader.store`` after."""
        from audit.reader import AuditReader  # reader -> archive -> trail

        store = self.config.new_store()
        try:
            if not self._reader_schema_ready:  # a fresh trail: its first record is still to come
                store.create_schema()
                self._reader_schema_ready = True
        except BaseException:
            store.close()
            raise
        return AuditReader(store, self.config.key, self.config.archive_dir)

    def _append(self, items: list[Prepared]) -> None:
        if not self._schema_ready:
            self._store.create_schema()
            self._schema_ready = True
        append_prepared(self.config, self._store, items)
        self.batches += 1

    def _ping(self) -> None:
        if not self._schema_ready:
            self._store.create_schema()
            self._schema_ready = True
        self._store.ping(self.config.log_id)

    def _unhealthy(self) -> None:
        self._healthy = False
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._recover())

    async def _recover(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._healthy and not self._closed:
            await asyncio.sleep(PROBE_INTERVAL_S)
            try:
                await loop.run_in_executor(self._thread, self._ping)
            except Exception as exc:
                log.warning("audit store still unavailable: %s", exc)
            else:
                log.info("audit store available again")
                self._healthy = True

    async def aclose(self) -> None:
        self._closed = True
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await asyncio.get_running_loop().run_in_executor(self._thread, self._store.close)
        self._thread.shutdown(wait=True)
