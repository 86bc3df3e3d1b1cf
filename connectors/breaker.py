"""A circuit breaker per agency: stop calling a system that keeps failing, probe it now and then.

    closed ──(N consecutive failures, or failure rate over the last W attempts)──▶ open
    open ──(cool-down elapsed)──▶ half-open: one probe attempt goes through, the rest fail fast
    half-open ──probe succeeds──▶ closed        half-open ──probe fails──▶ open (cool-down again)

An attempt *fails* when the agency could not answer (``AgencyUnavailable``: refused, reset, 5xx,
429, timeout, TLS); an answer of any kind, even a 4xx, is a success. Attempts that end without
saying anything about the agency (cancelled, or cut short by the caller's own deadline) leave
the counts alone.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from connectors.errors import CircuitOpen

__all__ = ["CircuitBreaker", "CircuitState"]


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        agency: str,
        failures: int,
        failure_rate: float,
        window: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agency = agency
        self.failures = failures
        self.failure_rate = failure_rate
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._recent: deque[bool] = deque(maxlen=window)  # True: the attempt failed
        self._recent_failures = 0
        self._consecutive = 0
        self._opened_at: float | None = None
        self._probing = False
        self.times_opened = 0

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._probing or self._clock() - self._opened_at >= self.cooldown_s:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def admit(self) -> bool:
        """Let an attempt through, or raise :class:`CircuitOpen`. True: it is the half-open probe,
        and :meth:`record` or :meth:`release` must be called with ``probe=True`` when it ends."""
        if self._opened_at is None:
            return False
        if self._probing:
            raise CircuitOpen(self.agency, "circuit open (half-open: a probe is in flight)")
        wait = self._opened_at + self.cooldown_s - self._clock()
        if wait > 0:
            raise CircuitOpen(self.agency, f"circuit open (next probe in {wait:.1f} s)")
        self._probing = True
        return True

    def record(self, failed: bool, probe: bool) -> None:
        """The outcome of an admitted attempt."""
        if probe:
            self._probing = False
            if failed:
                self._open()
            else:
                self._close()
            return
        if self._opened_at is not None:
            return  # admitted before the circuit opened; the probe decides from now on
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._recent_failures -= 1
        self._recent.append(failed)
        self._recent_failures += failed
        self._consecutive = self._consecutive + 1 if failed else 0
        full = len(self._recent) == self._recent.maxlen
        if self._consecutive >= self.failures or (
            full and self._recent_failures >= self.failure_rate * len(self._recent)
        ):
            self._open()

    def release(self, probe: bool) -> None:
        """An admitted attempt ended without a verdict on the agency."""
        if probe:
            self._probing = False

    def snapshot(self) -> dict[str, Any]:
        """The state for health checks and metrics."""
        state = self.state
        out: dict[str, Any] = {
            "circuit": state.value,
            "consecutive_failures": self._consecutive,
            "recent_failure_rate": round(self._recent_failures / len(self._recent), 3)
            if self._recent
            else 0.0,
            "times_opened": self.times_opened,
        }
        if state is CircuitState.OPEN and self._opened_at is not None:
            out["next_probe_in_s"] = round(self._opened_at + self.cooldown_s - self._clock(), 3)
        return out

    def _open(self) -> None:
        self._opened_at = self._clock()
        self.times_opened += 1

    def _close(self) -> None:
        self._opened_at = None
        self._recent.clear()
        self._recent_failures = 0
        self._consecutive = 0
