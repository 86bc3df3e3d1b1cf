"""The lead events' bus (gateway/events.py) on a real Redis: two buses stand for two replicas."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from gateway.events import EventBus, OverdueSweep
from gateway.subscription_settings import SubscriptionSettings
from kernel.workflow import EventKind, LeadEvent, LeadState
from policies.db import Database
from tests.office.conftest import declared, make_office, official, submission
from tests.policies.conftest import database  # noqa: F401  (the fixture, both databases)

REDIS = "redis://127.0.0.1:6379/0"
NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens there


def event(kind: EventKind = EventKind.SUBMITTED, lead: str = "L-2026-000001") -> LeadEvent:
    return LeadEvent(
        event_id=uuid.uuid4().hex,
        kind=kind,
        lead_id=lead,
        state=LeadState.SUBMITTED,
        at=time.time(),
        actor_agency="banking",
    )


def settings(url: str, channel: str, backlog: int = 1000) -> SubscriptionSettings:
    return SubscriptionSettings(
        redis_url=url, redis_password_env="", channel=channel, retry_s=0.2, backlog=backlog
    )


def collect(bus: EventBus) -> list[LeadEvent]:
    got: list[LeadEvent] = []
    bus.listen(got.append)
    return got


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5.0
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[EventBus, EventBus]]:
    channel = f"jointgate:test-events:{uuid.uuid4().hex}"
    one = EventBus(settings(REDIS, channel), origin="replica-1")
    two = EventBus(settings(REDIS, channel), origin="replica-2")
    await one.start()
    await two.start()
    try:
        yield one, two
    finally:
        await one.aclose()
        await two.aclose()


async def test_an_event_reaches_every_replica_once(pair: tuple[EventBus, EventBus]) -> None:
    one, two = pair
    assert one.mode == two.mode == "redis"
    on_one, on_two = collect(one), collect(two)
    sent = event()
    one.publish(sent)
    assert on_one == [sent]  # at once, here
    await until(lambda: len(on_two) == 1)
    assert on_two == [sent]
    await asyncio.sleep(0.3)  # its own copy came back from Redis: not delivered again
    assert on_one == [sent] and on_two == [sent]
    assert two.received == 1 and one.received == 0


async def test_an_event_relayed_twice_is_delivered_once(pair: tuple[EventBus, EventBus]) -> None:
    one, two = pair
    on_two = collect(two)
    sent = event()
    one.publish(sent)
    one.publish(sent)  # the same event again (a retry): already delivered, not relayed
    three = EventBus(settings(REDIS, one.settings.channel), origin="replica-3")
    await three.start()
    try:
        three.publish(sent)  # a third replica relays the same event id
        await asyncio.sleep(0.3)
    finally:
        await three.aclose()
    assert on_two == [sent]
    assert one.duplicates == 2 and two.duplicates == 1  # the retry, and the third replica's


async def test_events_published_from_a_worker_thread_are_delivered_on_the_loop(
    pair: tuple[EventBus, EventBus],
) -> None:
    one, two = pair
    threads: list[int] = []
    one.listen(lambda e: threads.append(threading.get_ident()))
    on_two = collect(two)
    await asyncio.to_thread(one.publish, event())
    await until(lambda: len(threads) == 1 and len(on_two) == 1)
    assert threads == [threading.get_ident()]


async def test_a_listener_that_stops_gets_nothing_more(pair: tuple[EventBus, EventBus]) -> None:
    one, _ = pair
    got: list[LeadEvent] = []
    stop = one.listen(got.append)
    one.publish(event())
    stop()
    one.publish(event())
    assert len(got) == 1 and one.listeners == 0


async def test_a_listener_that_fails_does_not_keep_the_event_from_others(
    pair: tuple[EventBus, EventBus], caplog: pytest.LogCaptureFixture
) -> None:
    one, _ = pair

    def broken(e: LeadEvent) -> None:
        raise RuntimeError("bug")

    one.listen(broken)
    got = collect(one)
    one.publish(event())
    assert len(got) == 1
    assert "listener failed" in caplog.text


async def test_garbage_on_the_channel_is_ignored(pair: tuple[EventBus, EventBus]) -> None:
    one, two = pair
    on_two = collect(two)
    assert one.redis is not None
    await one.redis.client.publish(one.settings.channel, b"not json")
    await one.redis.client.publish(one.settings.channel, b'{"origin": "x", "event": {}}')
    sent = event()
    one.publish(sent)
    await until(lambda: len(on_two) == 1)
    assert on_two == [sent]


async def test_without_redis_local_delivery_goes_on_and_the_outage_shows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "jointgate.events")
    bus = EventBus(settings(NOWHERE, "jointgate:test-events:nowhere", backlog=2))
    await bus.start()
    try:
        got = collect(bus)
        sent = [event() for _ in range(3)]
        for e in sent:
            bus.publish(e)
        assert got == sent
        await asyncio.sleep(0.05)
        status = bus.status()
        assert status["mode"] == "local" and status["error"]
        assert status["waiting"] == 2 and status["dropped"] == 1  # the backlog holds two
        assert bus.redis is not None and bus.redis.health()["state"] == "away"
        assert "lead events: Redis at redis://127.0.0.1:1/0 unreachable" in caplog.text
    finally:
        await bus.aclose()


async def test_events_kept_while_redis_was_away_are_relayed_once_it_is_back() -> None:
    """Published while Redis is away: kept, and relayed when the subscription is made again."""
    channel = f"jointgate:test-events:{uuid.uuid4().hex}"
    two = EventBus(settings(REDIS, channel), origin="replica-2")
    one = EventBus(settings(REDIS, channel), origin="replica-1")
    await two.start()
    try:
        on_two = collect(two)
        assert one.redis is not None
        one.redis.failed(ConnectionError("down for the test"))  # away, as after a failed call
        one._loop, one._thread = asyncio.get_running_loop(), threading.get_ident()
        sent = event(EventKind.MAJOR_FLAGGED)
        one.publish(sent)
        await asyncio.sleep(0.1)
        assert one.status()["waiting"] == 1 and on_two == []
        await one.start()  # Redis answers: subscribed again, what waited is relayed
        await until(lambda: len(on_two) == 1)
        assert on_two == [sent] and one.status()["waiting"] == 0
    finally:
        await one.aclose()
        await two.aclose()


async def test_before_start_events_are_delivered_here_only() -> None:
    bus = EventBus(settings("", "jointgate:test-events:none"))
    got = collect(bus)
    bus.publish(event())
    assert len(got) == 1 and bus.status()["mode"] == "local"


# --- the overdue sweep, over the office's real desk ---------------------------------------------


async def test_an_overdue_major_event_is_announced_once_across_replicas(
    database: Database,  # noqa: F811
    pair: tuple[EventBus, EventBus],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two replicas sweep the same database: the lead is claimed by one, announced to both
    replicas' subscribers once, logged once; both count it for the metric."""
    caplog.set_level(logging.WARNING, "jointgate.office")
    one, two = pair
    first = make_office(database)
    second = make_office(database, clock=first.clock)
    first.desk.publish, second.desk.publish = one.publish, two.publish
    done = await first.desk.submit(
        official("bank.analyst"), declared("risk-monitoring"), "k1", submission(amount=5e7)
    )
    assert done.lead.major and done.lead.major_deadline is not None
    on_one, on_two = collect(one), collect(two)
    clock = first.clock
    sweeps = [OverdueSweep(d.desk, bus, 60.0, clock) for d, bus in ((first, one), (second, two))]
    assert [await s.sweep() for s in sweeps] == [[], []]  # not yet due
    assert sweeps[0].count == 0
    clock.now = done.lead.major_deadline + 1
    found = await sweeps[0].sweep() + await sweeps[1].sweep()
    assert [e.kind for e in found] == [EventKind.MAJOR_OVERDUE]
    assert found[0].lead_id == done.lead.id

    def overdue(got: list[LeadEvent]) -> list[str]:
        return [e.event_id for e in got if e.kind == EventKind.MAJOR_OVERDUE]

    await until(lambda: len(overdue(on_two)) == 1)
    await asyncio.sleep(0.2)
    assert overdue(on_one) == overdue(on_two) == [found[0].event_id]
    assert sweeps[0].count == sweeps[1].count == 1
    warnings = [r for r in caplog.records if r.name == "jointgate.office"]
    assert len(warnings) == 1 and done.lead.id in warnings[0].getMessage()
    assert await sweeps[0].sweep() == []  # claimed already


async def test_a_failing_sweep_is_logged_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        calls = 0

        async def sweep_overdue(self, now: float) -> list[LeadEvent]:
            self.calls += 1
            raise ConnectionError("database away")

        async def overdue_count(self, now: float) -> int:
            return 0

    desk = Broken()
    sweep = OverdueSweep(desk, EventBus(settings("", "unused")), 0.01)
    task = asyncio.create_task(sweep.run_forever())
    await until(lambda: desk.calls >= 2)
    task.cancel()
    assert sweep.failures >= 2 and "the overdue sweep failed" in caplog.text
