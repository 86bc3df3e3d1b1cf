"""What every call to an agency goes through, once, whichever agency and protocol it is.

    call ─▶ request deadline left? ─▶ circuit admits? ─▶ a free call slot (concurrency cap)
         ─▶ attempt, cut at min(agency timeout, time left to the deadline)
         ─▶ failed, idempotent, retryable, retries left, budget allows, time left?
              ─▶ jittered backoff, attempt again

:class:`AgencyGuard` holds one agency's state (breaker, retry budget, call slots) and is shared
by all requests; ``connectors/http.py`` runs every HTTP exchange through it. The request's
deadline comes from :func:`request_deadline`, set by the pipeline around execution, so the
connector contract needs no extra argument. See docs/resilience.md for the policies and settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar

from pydantic.dataclasses import dataclass

from connectors.breaker import CircuitBreaker, CircuitState
from connectors.errors import AgencyTimeout, AgencyUnavailable, ConnectorError
from kernel.settings import TABLE, Positive, Table, check, setting, share, whole

__all__ = [
    "RETRY_BUDGET_WINDOW_S",
    "AgencyGuard",
    "Resilience",
    "RetryBudget",
    "current_deadline",
    "request_deadline",
]

T = TypeVar("T")
RETRY_BUDGET_WINDOW_S = 10.0


@dataclass(frozen=True, slots=True, config=TABLE)
class Resilience(Table):
    """One agency's resilience policy: keys of its ``[agencies.NAME]`` table
    (docs/resilience.md)."""

    max_concurrency: Annotated[int, whole(1)] = setting(64, "calls in flight at once; more wait")
    retries: Annotated[int, whole(0)] = setting(
        2, "extra attempts of an idempotent read after a retryable failure"
    )
    retry_backoff_s: Annotated[float, Positive] = setting(
        0.05, "first backoff ceiling of the jittered exponential backoff; doubles per retry"
    )
    retry_backoff_max_s: Annotated[float, Positive] = setting(1.0, "the backoff's ceiling")
    retry_budget_ratio: Annotated[float, check(share)] = setting(
        0.2, "retries per 10 s: at most this share of calls ..."
    )
    retry_budget_min: Annotated[int, whole(0)] = setting(3, "... plus this many")
    breaker_failures: Annotated[int, whole(1)] = setting(
        5, "consecutive failed attempts that open the circuit"
    )
    breaker_failure_rate: Annotated[float, check(lambda v: share(v, zero=False))] = setting(
        0.5, "or this share failed of the last `breaker_window` attempts"
    )
    breaker_window: Annotated[int, whole(1)] = setting(20, "attempts the failure rate is of")
    breaker_cooldown_s: Annotated[float, Positive] = setting(
        10.0, "open this long before a half-open probe"
    )


_deadline: ContextVar[float] = ContextVar("jointgate_request_deadline", default=0.0)


@contextlib.contextmanager
def request_deadline(deadline: float) -> Iterator[None]:
    """Agency calls made inside (and in tasks started inside) end by ``deadline``, a
    ``time.monotonic()`` value; 0 means no deadline::

        with request_deadline(time.monotonic() + 10.0):
            result = await execute(...)
    """
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def current_deadline() -> float:
    return _deadline.get()


class _WindowCount:
    """Events in the last ``span_s`` seconds, in ten buckets (so within a tenth of the span)."""

    def __init__(self, span_s: float, clock: Callable[[], float]) -> None:
        self._width = span_s / 10
        self._clock = clock
        self._counts = [0] * 10
        self._epochs = [-1] * 10

    def add(self) -> None:
        epoch = int(self._clock() / self._width)
        i = epoch % 10
        if self._epochs[i] != epoch:
            self._epochs[i], self._counts[i] = epoch, 0
        self._counts[i] += 1

    def total(self) -> int:
        epoch = int(self._clock() / self._width)
        return sum(c for c, e in zip(self._counts, self._epochs, strict=True) if epoch - e < 10)


class RetryBudget:
    """Retries allowed: at most ``ratio`` of the calls in the last window, plus ``minimum``.

    Without it, retries multiply the load on an agency exactly when it is struggling: three
    attempts per call is three times the traffic. With it, a failing agency sees at most 20 %
    more requests than the gateway's callers make.
    """

    def __init__(
        self,
        ratio: float,
        minimum: int,
        window_s: float = RETRY_BUDGET_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.minimum = minimum
        self._calls = _WindowCount(window_s, clock)
        self._retries = _WindowCount(window_s, clock)

    def record_call(self) -> None:
        self._calls.add()

    def try_retry(self) -> bool:
        """Take one retry from the budget, if there is one left."""
        if self._retries.total() + 1 > self.ratio * self._calls.total() + self.minimum:
            return False
        self._retries.add()
        return True

    def snapshot(self) -> dict[str, int]:
        return {"calls_in_window": self._calls.total(), "retries_in_window": self._retries.total()}


class AgencyGuard:
    """Deadline, timeout, concurrency cap, retries and circuit breaker for one agency."""

    def __init__(
        self,
        agency: str,
        timeout_s: float,
        policy: Resilience,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.agency = agency
        self.timeout_s = timeout_s
        self.policy = policy
        self.breaker = CircuitBreaker(
            agency,
            policy.breaker_failures,
            policy.breaker_failure_rate,
            policy.breaker_window,
            policy.breaker_cooldown_s,
            clock,
        )
        self.budget = RetryBudget(policy.retry_budget_ratio, policy.retry_budget_min, clock=clock)
        self._slots = asyncio.Semaphore(policy.max_concurrency)
        self._clock = clock
        self._jitter = jitter
        self.in_flight = 0

    async def call(self, attempt: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """Run ``attempt`` under the policy; retried only if ``idempotent`` is true."""
        self.budget.record_call()
        retries = 0
        while True:
            try:
                return await self._attempt(attempt)
            except ConnectorError as exc:
                delay = self._jitter() * min(
                    self.policy.retry_backoff_max_s, self.policy.retry_backoff_s * 2**retries
                )
                if not (
                    idempotent
                    and exc.retryable
                    and retries < self.policy.retries
                    and self.breaker.state is not CircuitState.OPEN  # keep the real failure
                    and self._time_left() > delay
                    and self.budget.try_retry()
                ):
                    raise
            retries += 1
            await asyncio.sleep(delay)

    def status(self) -> dict[str, Any]:
        """Circuit state, load and retry budget, for /readyz and metrics."""
        return {
            **self.breaker.snapshot(),
            "in_flight": self.in_flight,
            "max_concurrency": self.policy.max_concurrency,
            **self.budget.snapshot(),
        }

    def _time_left(self) -> float:
        deadline = _deadline.get()
        return deadline - self._clock() if deadline else float("inf")

    async def _attempt(self, attempt: Callable[[], Awaitable[T]]) -> T:
        left = self._time_left()
        if left <= 0:
            raise AgencyTimeout(self.agency, "request deadline passed before the call")
        limit = min(self.timeout_s, left)
        probe = self.breaker.admit()
        started = False
        failed: bool | None = None  # None: no verdict on the agency
        try:
            async with asyncio.timeout(limit):
                async with self._slots:
                    started = True
                    self.in_flight += 1
                    try:
                        result = await attempt()
                    finally:
                        self.in_flight -= 1
            failed = False
            return result
        except TimeoutError:
            where = (
                "waiting for the agency"
                if started
                else f"waiting for one of {self.policy.max_concurrency} call slots"
            )
            if limit < self.timeout_s:
                raise AgencyTimeout(
                    self.agency, f"request deadline reached after {limit:.2f} s {where}"
                ) from None
            failed = True if started else None
            raise AgencyTimeout(self.agency, f"timed out after {limit:g} s {where}") from None
        except AgencyUnavailable:
            failed = True
            raise
        except ConnectorError:
            failed = False  # the agency answered, if not as we hoped
            raise
        finally:
            if failed is None:
                self.breaker.release(probe)
            else:
                self.breaker.record(failed, probe)
