"""The circuit breaker and the retry budget on a fake clock; retries re-sign, over a mock transport."""

from __future__ import annotations

import httpx
import pytest

from connectors.breaker import CircuitBreaker, CircuitState
from connectors.errors import AgencyUnavailable, CircuitOpen
from connectors.http import AgencyHTTP, TransportSettings
from connectors.resilience import Resilience, RetryBudget
from connectors.signing import NONCE, sign_headers
from connectors.transport import HttpxTransport


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_consecutive_failures_open_the_circuit_and_a_success_resets_the_count() -> None:
    clock = Clock()
    breaker = CircuitBreaker("police", 3, 1.0, 100, 10.0, clock)
    for failed in (True, True, False, True, True):
        assert breaker.admit() is False
        breaker.record(failed, probe=False)
    assert breaker.state is CircuitState.CLOSED
    breaker.record(True, probe=False)
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpen, match=r"next probe in 10.0 s"):
        breaker.admit()


def test_the_failure_rate_opens_the_circuit_once_the_window_is_full() -> None:
    breaker = CircuitBreaker("police", 100, 0.5, 4, 10.0, Clock())
    for failed in (True, False, True):
        breaker.record(failed, probe=False)
    assert breaker.state is CircuitState.CLOSED  # 2 of 3, but the window is not full yet
    breaker.record(False, probe=False)
    assert breaker.state is CircuitState.OPEN  # 2 of 4
    assert breaker.snapshot()["recent_failure_rate"] == 0.5


def test_half_open_lets_one_probe_through_and_its_outcome_decides() -> None:
    clock = Clock()
    breaker = CircuitBreaker("police", 1, 1.0, 10, 5.0, clock)
    breaker.record(True, probe=False)
    clock.now += 5.0
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.admit() is True
    with pytest.raises(CircuitOpen, match="probe is in flight"):
        breaker.admit()
    breaker.record(True, probe=True)
    assert breaker.state is CircuitState.OPEN and breaker.times_opened == 2
    clock.now += 5.0
    assert breaker.admit() is True
    breaker.release(probe=True)  # cancelled: no verdict, the next call probes
    assert breaker.admit() is True
    breaker.record(False, probe=True)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.snapshot() == {
        "circuit": "closed",
        "consecutive_failures": 0,
        "recent_failure_rate": 0.0,
        "times_opened": 2,
    }


def test_answers_to_attempts_made_before_the_circuit_opened_do_not_close_it() -> None:
    breaker = CircuitBreaker("police", 1, 1.0, 10, 5.0, Clock())
    breaker.record(True, probe=False)
    breaker.record(False, probe=False)
    assert breaker.state is CircuitState.OPEN


def test_the_retry_budget_is_a_share_of_recent_calls_plus_a_minimum() -> None:
    clock = Clock()
    budget = RetryBudget(0.2, 1, window_s=10.0, clock=clock)
    for _ in range(10):
        budget.record_call()
    assert [budget.try_retry() for _ in range(4)] == [True, True, True, False]  # 0.2 x 10 + 1
    clock.now += 11.0  # the window has moved on: only the minimum again
    assert budget.try_retry() is True
    assert budget.try_retry() is False
    assert budget.snapshot() == {"calls_in_window": 0, "retries_in_window": 1}


async def test_every_attempt_is_signed_afresh() -> None:
    nonces: list[str] = []

    def agency(request: httpx.Request) -> httpx.Response:
        nonces.append(request.headers[NONCE])
        return httpx.Response(503 if len(nonces) < 3 else 200, json={"accounts": []})

    http = AgencyHTTP(
        "banking",
        TransportSettings("http://bank.test", resilience=Resilience(retry_backoff_s=0.001)),
        transport=HttpxTransport("http://bank.test", transport=httpx.MockTransport(agency)),
        sign=lambda method, path, body: sign_headers("jointgate", b"k", method, path, body),
    )
    try:
        assert await http.post("/v1/accounts:batchGet", b"{}", idempotent=True) == {"accounts": []}
        assert len(nonces) == 3 and len(set(nonces)) == 3
        with pytest.raises(AgencyUnavailable):
            nonces.clear()
            await http.post("/v1/accounts:batchGet", b"{}")  # not marked idempotent
        assert len(nonces) == 1
    finally:
        await http.aclose()
