"""The gateway's audit log: group commit onto the store, fail closed, recover by itself.

``commit`` prepares the record (keyed hashes, sealing input) in the caller's task, queues it and
waits. One writer task drains the queue: everything queued while the previous transaction was
being written goes into the next one, so concurrent requests share one transaction and one
fsync, and no ``commit`` returns before the transaction holding its record has committed.

Readiness is proven by writes, never assumed: ``healthy`` turns True only when a transaction has
committed, an append or a probe (``SqlStore.probe``: an append's inserts rolled back to a
savepoint, then a heartbeat row committed, nothing added to the log). Until the first such write
and after any failed one it is False; after a failure a probe retries every second, and
``readiness`` (``/readyz``) proves a write afresh when none was proven for ``PROOF_MAX_AGE_S``,
so an idle gateway whose store stopped taking writes leaves the load balancer's rotation before
a request finds out. The state changes in the writer thread, in the order its writes ran.

If a transaction fails, every commit in it raises (the pipeline answers 503). A connection lost
on the way is opened again within the append (``SqlStore.append``). Nothing is kept in memory
between transactions: each one re-reads the log's head under the log's lock, so the tree
carries on from exactly what is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor

from audit.append import append_prepared
from audit.config import AuditConfig
from audit.errors import AuditStoreError, redacted
from audit.log import AuditHealth
from audit.publish import WitnessPublisher, open_witness
from audit.reader import AuditReader
from audit.record import Prepared, prepare
from audit.store import Batch, Head, build_batch
from kernel.types import AuditRecord

log = logging.getLogger("jointgate.audit")

PROBE_INTERVAL_S = 1.0  # while the store cannot append: how often a probe tries
PROOF_MAX_AGE_S = 5.0  # readiness proves a write again when none was proven for this long
READY_WAIT_S = 1.5  # how long readiness waits for that proof (under a probe's 2 s timeout)


class AuditTrail:
    """:class:`audit.log.AuditLog` over a SQL store."""

    def __init__(self, config: AuditConfig) -> None:
        self.config = config
        self._store = config.new_store()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="audit-writer")
        self._pending: list[tuple[Prepared, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None  # the recovery loop
        self._proof: asyncio.Task[None] | None = None  # a probe readiness waits for
        self._proof_started = 0.0
        self._probe_item: Prepared | None = None
        self._schema_ready = False
        self._reader_schema_ready = False
        # written by the writer thread only (``_wrote``, ``_failed``), in the order writes ran
        self._health = AuditHealth(False, since=time.time())
        self._proven = -math.inf  # time.monotonic() of the last proven write
        self._closed = False
        self.batches = 0  # transactions written (for tests and benchmarks)
        # every kept checkpoint also outside the store, from a thread of its own (audit/publish.py)
        self.witness = (
            WitnessPublisher(
                [open_witness(spec) for spec in config.witnesses],
                config.new_store,
                config.policy.interval_s,
            )
            if config.witnesses
            else None
        )

    @property
    def healthy(self) -> bool:
        return self._health.ready

    async def readiness(self) -> AuditHealth:
        """The log's state for /readyz. If no write was proven for ``PROOF_MAX_AGE_S`` (and
        none failed since: then the recovery loop probes), a probe proves one first, shared by
        concurrent callers, so readiness costs at most one small write per interval however
        often it is asked; not ready if that takes longer than ``READY_WAIT_S``."""
        health = self._health
        failed = not health.ready and health.error is not None
        if self._closed or failed or time.monotonic() - self._proven < PROOF_MAX_AGE_S:
            return health
        if self._proof is None or self._proof.done():
            self._proof_started = time.time()
            self._proof = asyncio.create_task(self._prove())
        try:
            await asyncio.wait_for(asyncio.shield(self._proof), READY_WAIT_S)
        except TimeoutError:
            return AuditHealth(
                False,
                since=self._proof_started,
                error=f"no write could be proven within {READY_WAIT_S:g} s",
                proven_at=health.proven_at,
            )
        return self._health

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
                self._recover_soon()
                error = AuditStoreError(f"the audit store could not append: {exc}")
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def witness_status(self) -> dict[str, object]:
        """The witnesses as ``/readyz`` shows them (``checks.audit_witness``): reported, never
        required (docs/audit.md: a witness that is down loses nothing, it is caught up later)."""
        if self.witness is None:
            return {"mode": "off"}
        return self.witness.status()

    def reader(self) -> AuditReader:
        """A reader over this trail on a connection of its own, for one thread (the GraphQL
        ``auditLog`` opens one per request in a worker thread); close ``reader.store`` after."""
        store = self.config.new_store()
        try:
            if not self._reader_schema_ready:  # a fresh trail: its first record is still to come
                store.create_schema()
                self._reader_schema_ready = True
        except BaseException:
            store.close()
            raise
        return AuditReader(store, self.config.key, self.config.archive_dir)

    # -- in the writer thread -------------------------------------------------------------
    def _append(self, items: list[Prepared]) -> None:
        try:
            self._schema()
            batch = append_prepared(self.config, self._store, items)
        except Exception as exc:
            self._failed(exc)
            raise
        self.batches += 1
        self._wrote()
        if self.witness is not None:  # no I/O: the publisher's thread does that
            try:
                self.witness.offer(batch.head.checkpoint, batch.head.tree, batch.keep)
            except Exception as exc:  # the record is committed: never fail it for a witness
                log.error("audit witness: the checkpoint could not be handed over: %s", exc)

    def _probe_once(self) -> None:
        try:
            self._schema()
            self._store.probe(self.config.log_id, self._probe_batch)
        except Exception as exc:
            self._failed(exc)
            raise
        self._wrote()

    def _schema(self) -> None:
        if not self._schema_ready:
            self._store.create_schema()
            self._schema_ready = True

    def _probe_batch(self, head: Head | None) -> Batch:
        """What a probe inserts and rolls back: a record like a request's (a key shown, a query
        text) on the log's head, so that it meets every table an append writes, with a
        checkpoint kept and left unsigned."""
        config = self.config
        if self._probe_item is None:
            record = AuditRecord(request_id="readiness-probe", query_text="{ __typename }")
            record.saw("Probe", "readiness-probe")
            self._probe_item = prepare(record, config.key, config.unindexed_types)
        batch = build_batch(
            head, config.log_id, [self._probe_item], config.key, config.signer, config.policy,
            signed=False,
        )  # fmt: skip
        return dataclasses.replace(batch, keep=True)

    def _wrote(self) -> None:
        """A write committed: healthy, since now if it was not."""
        now, was = time.time(), self._health
        self._health = AuditHealth(True, since=was.since if was.ready else now, proven_at=now)
        self._proven = time.monotonic()

    def _failed(self, exc: Exception) -> None:
        """A write failed: not healthy, since the first failure (or the start), and why."""
        was = self._health
        self._health = AuditHealth(
            False,
            since=time.time() if was.ready else was.since,
            error=redacted(str(exc) or type(exc).__name__, self._store.secrets()),
            proven_at=was.proven_at,
        )

    # -- on the event loop -----------------------------------------------------------------
    async def _prove(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._probe_once)
        except Exception as exc:
            log.error("audit store cannot append: %s", exc)
            self._recover_soon()

    def _recover_soon(self) -> None:
        if not self._closed and (self._probe is None or self._probe.done()):
            self._probe = asyncio.create_task(self._recover())

    async def _recover(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._health.ready and not self._closed:
            await asyncio.sleep(PROBE_INTERVAL_S)
            try:
                await loop.run_in_executor(self._thread, self._probe_once)
            except Exception as exc:
                log.warning("audit store still unavailable: %s", exc)
            else:
                log.info("audit store available again (a probe's write committed)")

    async def aclose(self) -> None:
        self._closed = True
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer
        for task in (self._probe, self._proof):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await asyncio.get_running_loop().run_in_executor(self._thread, self._store.close)
        self._thread.shutdown(wait=True)
        if self.witness is not None:  # the last head too, if it was not witnessed yet
            await asyncio.to_thread(self.witness.close)
