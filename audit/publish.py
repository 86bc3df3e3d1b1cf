"""Publishing the trail's checkpoints to its witnesses, off the request path.

The trail's writer thread hands every transaction's signed head to :meth:`WitnessPublisher.offer`
(a few microseconds: no I/O). A head the transaction kept as a checkpoint (every
``checkpoint_every`` records or ``checkpoint_interval_s`` seconds) is published at once; any
other is published only if nothing newer came within ``checkpoint_interval_s``, so a trail that
goes quiet is witnessed up to its last record too. One thread of the publisher's own does the
publishing (reading the store's leaves for the consistency proof: audit/witness.py), so neither
the event loop nor the writer ever waits for a witness.

Nothing is lost while a witness is down: the publisher keeps the latest checkpoint and retries
(after 1 s, doubling up to a minute); the next checkpoint replaces it, and covers everything the
skipped one did. While a witness is down, what it would catch at write time is caught only when
it is back (the checkpoint it is then given must extend the last one it holds), and a rollback
in that window of records it never saw is invisible to it (docs/audit.md, *Threat model*).
``status`` is for ``/readyz`` (``checks.audit_witness``) and ``/metrics``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from audit.checkpoint import Checkpoint, iso_us
from audit.errors import redacted
from audit.merkle import CompactRange
from audit.store import SqlStore
from audit.witness import (
    FileWitness,
    Witness,
    WitnessEntry,
    WitnessError,
    WitnessRefused,
    WitnessSpec,
)
from audit.witness_sql import SqlWitness

log = logging.getLogger("jointgate.audit")

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0
CLOSE_WAIT_S = 3.0  # at shutdown: how long the last checkpoint may take to be published


def open_witness(spec: WitnessSpec) -> Witness:
    if spec.kind == "file":
        return FileWitness(spec.target, spec.shown)
    return SqlWitness(spec)


@dataclass
class WitnessState:
    """One witness as this process saw it: for /readyz and /metrics."""

    shown: str
    state: str = "waiting"  # waiting (nothing published yet), ok, down, refusing
    size: int = 0  # the largest checkpoint it holds, as far as this process knows
    at_us: int = 0  # when that checkpoint was signed
    failures: int = 0  # attempts that could not reach or write it (each retried)
    refusals: int = 0  # checkpoints it refused as inconsistent with what it holds
    error: str | None = None

    def report(self) -> dict[str, Any]:
        return {
            "witness": self.shown,
            "state": self.state,
            "witnessed_size": self.size,
            "witnessed_at": iso_us(self.at_us) if self.at_us else None,
            "failures": self.failures,
            "refusals": self.refusals,
            "error": self.error,
        }


class WitnessPublisher:
    def __init__(
        self, witnesses: Sequence[Witness], new_store: Callable[[], SqlStore], interval_s: float
    ) -> None:
        self.witnesses = list(witnesses)
        self.states = [WitnessState(w.shown) for w in self.witnesses]
        self._new_store = new_store
        self._store: SqlStore | None = None
        self.interval_s = interval_s
        self._cond = threading.Condition()
        self._due: WitnessEntry | None = None  # to publish now (a kept checkpoint, or retried)
        self._idle: WitnessEntry | None = None  # the latest head, published if nothing newer
        self._idle_due = 0.0
        self._retry_at = 0.0
        self._backoff = RETRY_FIRST_S
        self._thread: threading.Thread | None = None
        self._closed = False
        self.published = 0  # checkpoints published (for tests)

    # -- the writer's side ----------------------------------------------------------------
    def offer(self, checkpoint: Checkpoint, tree: CompactRange, keep: bool) -> None:
        """A transaction's signed head and its tree (not changed after: the batch's own)."""
        entry = WitnessEntry(checkpoint, tuple(tree.nodes))
        with self._cond:
            if self._closed:
                return
            wake = True
            if keep:
                self._due, self._idle = entry, None
            elif self._due is not None:  # waiting to be published or retried: carry this one
                self._due, wake = entry, False
            else:
                wake = self._idle is None  # a new deadline; else the same one, a newer head
                if wake:
                    self._idle_due = time.monotonic() + self.interval_s
                self._idle = entry
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-witness", daemon=True)
                self._thread.start()
            if wake:  # the thread sleeps until a deadline: woken only when one changes
                self._cond.notify()

    def status(self) -> dict[str, Any]:
        with self._cond:
            pending = self._due or self._idle
        return {
            "witnesses": [s.report() for s in self.states],
            "unwitnessed_size": pending.size if pending is not None else None,
            "degraded": any(s.state in ("down", "refusing") for s in self.states),
        }

    def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Publish the latest head once more (not waiting out a retry), then stop."""
        with self._cond:
            self._closed = True
            if self._idle is not None:
                self._due, self._idle = self._idle, None
            self._retry_at = 0.0
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(wait_s)
        if thread is None or not thread.is_alive():
            self._close_all()

    # -- the publisher's thread -------------------------------------------------------------
    def _next(self) -> WitnessEntry | None:
        """The entry to publish now, waiting for one; None when closed and nothing is left."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._closed:
                    entry, self._due = self._due, None
                    return entry
                if self._due is not None and now >= self._retry_at:
                    return self._due
                if self._idle is not None and now >= max(self._idle_due, self._retry_at):
                    return self._idle
                waits = [self._retry_at - now] if self._due is not None else []
                if self._idle is not None:
                    waits.append(max(self._idle_due, self._retry_at) - now)
                self._cond.wait(max(0.01, min(waits)) if waits else None)

    def _run(self) -> None:
        while (entry := self._next()) is not None:
            done = self._publish(entry)
            with self._cond:
                if self._due is entry:
                    self._due = None
                if self._idle is entry:
                    self._idle = None
                if done:
                    self._backoff, self._retry_at = RETRY_FIRST_S, 0.0
                    continue
                if self._due is None and self._idle is None:  # nothing newer: retry this one
                    self._due = entry
                elif self._idle is not None:  # something newer: retry that one instead
                    self._due, self._idle = self._idle, None
                self._retry_at = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, RETRY_MAX_S)
            if self._closed:
                break
        self._close_all()

    def _publish(self, entry: WitnessEntry) -> bool:
        """To every witness that does not hold it yet; False if one must be tried again."""
        done = True
        for witness, state in zip(self.witnesses, self.states, strict=True):
            if state.state == "ok" and state.size >= entry.size:
                continue
            try:
                witness.publish(entry, self._leaves(entry.log_id))
            except WitnessRefused as exc:
                state.state, state.error = "refusing", redacted(str(exc))
                state.refusals += 1
                log.error("audit witness %s refused a checkpoint: %s", witness.shown, exc)
            except Exception as exc:  # down, unwritable, the store unreadable: retried
                state.state, state.error = "down", redacted(str(exc) or type(exc).__name__)
                state.failures += 1
                done = False
                log.warning("audit witness %s unavailable (retried): %s", witness.shown, exc)
            else:
                if state.state != "ok":
                    log.info("audit witness %s holds log %s at %d records", witness.shown,
                             entry.log_id, entry.size)  # fmt: skip
                state.state, state.error = "ok", None
                if entry.size >= state.size:
                    state.size, state.at_us = entry.size, entry.checkpoint.timestamp_us
                self.published += 1
        return done

    def _leaves(self, log_id: str) -> Callable[[int, int], list[bytes]]:
        def leaves(lo: int, hi: int) -> list[bytes]:
            try:
                if self._store is None:
                    self._store = self._new_store()
                return self._store.leaves(log_id, lo, hi)
            except Exception as exc:
                store, self._store = self._store, None
                if store is not None:
                    store.close()
                raise WitnessError(
                    f"the audit store could not be read for the proof: {exc}"
                ) from None

        return leaves

    def _close_all(self) -> None:
        for witness in self.witnesses:
            with contextlib.suppress(Exception):  # at shutdown: nothing left to tell
                witness.close()
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()
