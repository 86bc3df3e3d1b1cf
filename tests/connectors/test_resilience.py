"""Failing agency systems, driven by the sandbox's fault knobs: timeouts, the request deadline,
retries and their budget, the circuit breaker, the concurrency cap, idempotency.

Each test builds its own connector with small timeouts and cool-downs, so each runs in well under
a second or two, and counts what reached the agency with ``/_sandbox/stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import httpx
import pytest

from connectors.banking import BankingConnector
from connectors.errors import AgencyRejected, AgencyTimeout, AgencyUnavailable, CircuitOpen
from connectors.http import HTTPConnector, TransportSettings
from connectors.market import MarketConnector
from connectors.police import PoliceConnector
from connectors.resilience import Resilience, request_deadline
from sandbox.banking import DEFAULT_KEY
from sandbox.faults import Faults
from sandbox.world import World

QUIET = Resilience(
    retries=0,
    retry_backoff_s=0.001,
    retry_backoff_max_s=0.002,
    retry_budget_min=100,
    breaker_failures=1000,
    breaker_window=1000,
    breaker_failure_rate=1.0,
)
"""No retries and a breaker that never opens: each test switches on what it tests."""

Build = Callable[..., HTTPConnector]


@pytest.fixture
async def build(urls: dict[str, str]) -> AsyncIterator[Build]:
    """Make connectors to the session's sandbox; all are closed after the test."""
    made: list[HTTPConnector] = []

    def make(agency: str = "police", timeout_s: float = 2.0, **policy: object) -> HTTPConnector:
        settings = TransportSettings(
            urls[agency], timeout_s=timeout_s, resilience=replace(QUIET, **policy)
        )
        connector: HTTPConnector
        if agency == "banking":
            connector = BankingConnector(settings, "jointgate", DEFAULT_KEY)
        elif agency == "market":
            connector = MarketConnector(settings)
        else:
            connector = PoliceConnector(settings)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        await connector.aclose()


def _reseed(faults: Faults) -> None:
    """The same failures on every run, whatever earlier tests drew from the agency's generator."""
    faults._rng.seed(faults.seed)


async def _requests(urls: dict[str, str], agency: str) -> int:
    async with httpx.AsyncClient() as client:
        count: int = (await client.get(f"{urls[agency]}/_sandbox/stats")).json()["requests"]
        return count


async def _person(connector: HTTPConnector, world: World) -> None:
    person = world.scenario["person_id"]
    found = await connector.fetch_many("person", "id_number", [person], frozenset({"name"}))
    assert found[person], "the person is in the world"


# ------------------------------------------------------------------------ timeouts and deadline


async def test_a_slow_agency_times_out_within_its_timeout_and_is_not_retried(
    build: Build, urls: dict[str, str], clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["police"].update({"latency_ms": 1000})
    police = build(timeout_s=0.2, retries=3)
    before = await _requests(urls, "police")
    started = time.monotonic()
    with pytest.raises(AgencyTimeout, match=r"timed out after 0.2 s"):
        await _person(police, world)
    assert time.monotonic() - started < 0.5
    assert await _requests(urls, "police") - before == 1  # a timeout is not retried


async def test_the_request_deadline_cuts_a_call_shorter_than_the_agency_timeout(
    build: Build, urls: dict[str, str], clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["police"].update({"latency_ms": 1000})
    police = build(timeout_s=5.0)
    started = time.monotonic()
    with request_deadline(time.monotonic() + 0.2), pytest.raises(AgencyTimeout, match="deadline"):
        await _person(police, world)
    assert time.monotonic() - started < 0.5
    assert police.status()["consecutive_failures"] == 0  # our deadline, not the agency's fault


async def test_a_passed_deadline_calls_no_agency(
    build: Build, urls: dict[str, str], world: World
) -> None:
    police = build()
    before = await _requests(urls, "police")
    with request_deadline(time.monotonic() - 0.01), pytest.raises(AgencyTimeout, match="passed"):
        await _person(police, world)
    assert await _requests(urls, "police") == before


async def test_the_deadline_reaches_calls_in_tasks_started_inside_it(
    build: Build, clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["police"].update({"latency_ms": 1000})
    police = build(timeout_s=5.0)
    with request_deadline(time.monotonic() + 0.2):
        calls = [asyncio.create_task(_person(police, world)) for _ in range(3)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, AgencyTimeout) for r in results), results


# ------------------------------------------------------------------------------------ retries


async def test_a_flaky_agency_succeeds_through_retries(
    build: Build, urls: dict[str, str], clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["police"].update({"error_rate": 0.5})
    _reseed(clean_faults["police"])
    police = build(retries=4)
    before = await _requests(urls, "police")
    for _ in range(10):
        await _person(police, world)
    attempts = await _requests(urls, "police") - before
    assert attempts > 10  # some calls needed retries, and got them
    assert police.status()["retries_in_window"] == attempts - 10


async def test_banking_lookups_are_posts_marked_idempotent_and_retried(
    build: Build, urls: dict[str, str], clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["banking"].update({"down": True})
    banking = build("banking", retries=2)
    before = await _requests(urls, "banking")
    account = world.scenario["account_number"]
    with pytest.raises(AgencyUnavailable, match="HTTP 503"):
        await banking.fetch_many("account", "number", [account], frozenset({"bank"}))
    assert await _requests(urls, "banking") - before == 3
    clean_faults["banking"].update({"down": False, "error_rate": 0.5})
    _reseed(clean_faults["banking"])
    for _ in range(5):
        found = await banking.fetch_many("account", "number", [account], frozenset({"bank"}))
        assert found[account]


async def test_a_non_idempotent_call_is_never_retried(
    build: Build, urls: dict[str, str], clean_faults: dict[str, Faults]
) -> None:
    clean_faults["courts"].update({"down": True})
    courts = build("courts", retries=3)
    before = await _requests(urls, "courts")
    with pytest.raises(AgencyUnavailable):
        await courts.http.post("/graphql", b'{"query": "mutation { x }"}')  # POST: not by default
    with pytest.raises(AgencyUnavailable):
        await courts.http.send("GET", "/graphql", idempotent=False)
    assert await _requests(urls, "courts") - before == 2


async def test_a_refused_request_is_neither_retried_nor_held_against_the_agency(
    build: Build, urls: dict[str, str]
) -> None:
    police = build(retries=3, breaker_failures=1)
    before = await _requests(urls, "police")
    for _ in range(3):
        with pytest.raises(AgencyRejected, match="HTTP 400"):
            await police.fetch_many("person", "id_number", ["not-an-id"], frozenset({"name"}))
    assert await _requests(urls, "police") - before == 3
    assert police.status()["circuit"] == "closed"


async def test_retries_stop_at_the_budget(
    build: Build, urls: dict[str, str], clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["police"].update({"down": True})
    police = build(retries=3, retry_budget_ratio=0.2, retry_budget_min=0)
    before = await _requests(urls, "police")
    for _ in range(10):
        with pytest.raises(AgencyUnavailable):
            await _person(police, world)
    # without a budget 10 calls x 4 attempts; with it, retries are at most 20 % of 10 calls
    assert await _requests(urls, "police") - before == 12
    assert police.status()["retries_in_window"] == 2


# ------------------------------------------------------------------------------ the breaker


async def test_the_breaker_opens_fails_fast_half_opens_and_closes(
    build: Build, urls: dict[str, str], clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["market"].update({"down": True})
    market = build("market", breaker_failures=3, breaker_cooldown_s=0.3)
    uscc = world.scenario["enterprise_uscc"]

    async def lookup() -> None:
        await market.fetch_many("enterprise", "uscc", [uscc], frozenset({"name"}))

    for _ in range(3):
        with pytest.raises(AgencyUnavailable, match="HTTP 503"):
            await lookup()
    assert market.status()["circuit"] == "open"

    before = await _requests(urls, "market")
    started = time.monotonic()
    for _ in range(20):
        with pytest.raises(CircuitOpen, match="circuit open"):
            await lookup()
    assert time.monotonic() - started < 0.2  # failed fast
    assert await _requests(urls, "market") == before  # and nothing reached the agency

    clean_faults["market"].update({"down": False})
    await asyncio.sleep(0.35)
    assert market.status()["circuit"] == "half_open"
    await lookup()  # the probe
    assert market.status()["circuit"] == "closed"
    assert await _requests(urls, "market") - before == 1
    await lookup()
    assert market.status()["times_opened"] == 1


async def test_a_failed_probe_opens_the_circuit_again(
    build: Build, urls: dict[str, str], clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["police"].update({"down": True})
    police = build(breaker_failures=2, breaker_cooldown_s=0.2, retries=2)
    for _ in range(2):
        with pytest.raises(AgencyUnavailable):
            await _person(police, world)
    assert police.status()["circuit"] == "open"
    await asyncio.sleep(0.25)
    before = await _requests(urls, "police")
    with pytest.raises(AgencyUnavailable, match="HTTP 503"):
        await _person(police, world)  # the probe fails; its retry meets an open circuit
    assert await _requests(urls, "police") - before == 1
    # opened again (the state itself may already read half_open if this took over 0.2 s)
    assert police.status()["times_opened"] == 2
    assert police.status()["circuit"] != "closed"


async def test_while_the_probe_is_in_flight_other_calls_fail_fast(
    build: Build, clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["police"].update({"down": True})
    police = build(breaker_failures=1, breaker_cooldown_s=0.1)
    with pytest.raises(AgencyUnavailable):
        await _person(police, world)
    clean_faults["police"].update({"down": False, "latency_ms": 300})
    await asyncio.sleep(0.15)
    probe = asyncio.create_task(_person(police, world))
    await asyncio.sleep(0.05)
    with pytest.raises(CircuitOpen, match="probe is in flight"):
        await _person(police, world)
    await probe
    assert police.status()["circuit"] == "closed"


async def test_the_breaker_opens_on_the_failure_rate(
    build: Build, clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["police"].update({"error_rate": 0.6})
    _reseed(clean_faults["police"])
    police = build(breaker_failures=100, breaker_window=10, breaker_failure_rate=0.5)
    for _ in range(40):
        with contextlib.suppress(AgencyUnavailable):
            await _person(police, world)
        if police.status()["circuit"] == "open":
            break
    status = police.status()
    assert status["circuit"] == "open"
    assert status["recent_failure_rate"] >= 0.5 and status["consecutive_failures"] < 100


# ---------------------------------------------------------------------- the concurrency cap


async def test_the_concurrency_cap_holds(
    build: Build, clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["police"].update({"latency_ms": 150})
    police = build(max_concurrency=2)
    seen: list[int] = []

    async def sample() -> None:
        while True:
            seen.append(police.status()["in_flight"])
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    await asyncio.gather(*(_person(police, world) for _ in range(6)))
    elapsed = time.monotonic() - started
    sampler.cancel()
    assert max(seen) == 2
    assert elapsed >= 0.45  # three waves of two, not one wave of six (no upper bound: busy CI)


async def test_waiting_for_a_slot_counts_against_the_deadline(
    build: Build, clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["police"].update({"latency_ms": 300})
    police = build(max_concurrency=1)
    first = asyncio.create_task(_person(police, world))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with request_deadline(time.monotonic() + 0.1), pytest.raises(AgencyTimeout) as caught:
        await _person(police, world)
    assert time.monotonic() - started < 0.3
    assert "waiting for one of 1 call slots" in caught.value.detail
    await first
    assert police.status()["consecutive_failures"] == 0  # the agency answered in time
