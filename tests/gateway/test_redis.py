"""The one Redis module (gateway/redis.py) against the real Redis on 127.0.0.1:6379, a dead port
(nothing listens on port 1) and a server that accepts and never answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest

from gateway.redis import RedisAway, RedisLink, connect, where
from gateway.telemetry import Telemetry, TelemetrySettings

REDIS = "redis://127.0.0.1:6379/0"
DEAD = "redis://127.0.0.1:1/0"
log = logging.getLogger("jointgate.test-redis")


class Clock:
    """Monotonic time the test moves by hand: back-offs pass without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., RedisLink]]:
    made: list[RedisLink] = []

    def build(url: str = REDIS, **overrides: object) -> RedisLink:
        options: dict[str, object] = {
            "service": "test service", "log": log, "timeout_s": 1.0, "retry_s": 5.0,
            "away": "doing without", "back": "using it again",
        }  # fmt: skip
        link = RedisLink(url, None, **(options | overrides))  # type: ignore[arg-type]
        made.append(link)
        return link

    yield build
    for link in made:
        await link.aclose()


@contextlib.asynccontextmanager
async def mute_server() -> AsyncIterator[int]:
    """A port that accepts connections and never answers."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while await reader.read(4096):
                pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_a_live_redis_answers_and_the_link_is_up(
    make: Callable[..., RedisLink], caplog: pytest.LogCaptureFixture
) -> None:
    link = make()
    assert (link.state, link.away, link.due()) == ("unknown", False, True)
    with caplog.at_level(logging.WARNING, log.name):
        assert await link.run(link.client.ping) is True
        assert await link.check()
    assert link.state == "up" and not caplog.records  # a first answer is nothing to report
    health = link.health()
    assert health == health | {"redis": REDIS, "state": "up", "error": None, "failures": 0}


async def test_a_dead_port_costs_one_attempt_is_logged_once_and_reported(
    make: Callable[..., RedisLink], caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    link = make(DEAD, clock=clock)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, log.name):
        with pytest.raises(RedisAway) as away:
            await link.run(link.client.ping)
        for _ in range(20):  # within retry_s: refused at once, Redis not tried
            with pytest.raises(RedisAway):
                await link.run(link.client.ping)
    assert time.perf_counter() - started < 0.5
    assert "ConnectionError" in away.value.error and link.away and not link.due()
    assert [r.getMessage() for r in caplog.records] == [
        "test service: Redis at redis://127.0.0.1:1/0 unreachable"
        f" ({link.error}); doing without until it is back"
    ]
    assert caplog.records[0].name == log.name  # on the service's own logger
    health = link.health()
    assert (health["state"], health["failures"], health["error"]) == ("away", 1, link.error)
    assert not await link.check()  # at start-up: tried, and still away
    assert link.failures == 2


async def test_after_the_back_off_a_background_check_brings_it_back(
    make: Callable[..., RedisLink], caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    link = make(clock=clock, retry_s=2.0)
    with caplog.at_level(logging.WARNING, log.name):
        link.failed(ConnectionError("reset by peer"))  # as a call failing mid-request would
        with pytest.raises(RedisAway):
            await link.run(link.client.ping)
        await asyncio.sleep(0)
        assert link.away  # not yet: the back-off has not passed, no check started
        clock.now += 2.0
        with pytest.raises(RedisAway):  # this call still does without; it starts the check
            await link.run(link.client.ping)
        for _ in range(100):
            if not link.away:
                break
            await asyncio.sleep(0.01)
        assert link.state == "up" and link.error == ""
        assert await link.run(link.client.ping) is True
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "test service: Redis at redis://127.0.0.1:6379/0 unreachable (ConnectionError: reset by"
        " peer); doing without until it is back",
        "test service: Redis at redis://127.0.0.1:6379/0 is back; using it again",
    ]


async def test_one_background_check_at_a_time_and_a_failed_one_waits_again(
    make: Callable[..., RedisLink],
) -> None:
    clock = Clock()
    checks: list[float] = []

    async def check() -> None:
        checks.append(clock.now)
        await asyncio.sleep(0.05)
        raise ConnectionError("still down")

    link = make(DEAD, clock=clock, retry_s=1.0, check=check)
    link.failed(ConnectionError("down"))
    clock.now += 1.0
    for _ in range(5):  # requests meanwhile start no second check
        with pytest.raises(RedisAway):
            await link.run(link.client.ping)
    await asyncio.sleep(0.1)
    assert checks == [1001.0] and link.away and link.failures == 2 and not link.due()
    clock.now += 1.0
    assert link.due()


async def test_a_mute_redis_costs_the_deadline_once(make: Callable[..., RedisLink]) -> None:
    async with mute_server() as port:
        link = make(f"redis://127.0.0.1:{port}/0", timeout_s=0.05)
        assert link.deadline_s == pytest.approx(0.15)
        started = time.perf_counter()
        with pytest.raises(RedisAway) as away:
            await link.run(link.client.ping)
        assert time.perf_counter() - started < 0.5
        assert "Timeout" in away.value.error
        started = time.perf_counter()
        for _ in range(50):
            with pytest.raises(RedisAway):
                await link.run(link.client.ping)
        assert time.perf_counter() - started < 0.1


async def test_attempt_always_tries_for_a_service_that_reconnects_itself(
    make: Callable[..., RedisLink], caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    link = make(clock=clock)
    link.failed(ConnectionError("dropped"))
    with caplog.at_level(logging.WARNING, log.name):
        assert not link.due()
        assert await link.attempt(link.client.ping) is True  # a subscriber's own retry
    assert link.state == "up" and "is back" in caplog.records[-1].getMessage()


async def test_closing_cancels_a_pending_check(make: Callable[..., RedisLink]) -> None:
    clock = Clock()
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    link = make(clock=clock, check=slow)
    link.failed(ConnectionError("down"))
    clock.now += 10
    with pytest.raises(RedisAway):
        await link.run(link.client.ping)
    await asyncio.wait_for(started.wait(), 1.0)
    await asyncio.wait_for(link.aclose(), 1.0)


def test_clients_are_bounded_and_addresses_shown_without_credentials() -> None:
    client = connect(REDIS, None, 0.25)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.25, 0.25)
    subscriber = connect(REDIS, None, 0.25, reply_timeout=False)
    assert subscriber.connection_pool.connection_kwargs.get("socket_timeout") is None
    assert where("rediss://user:secret@redis.example.gov:6380/2?x=1") == (
        "rediss://redis.example.gov:6380/2"
    )


async def test_the_metrics_show_each_services_redis(make: Callable[..., RedisLink]) -> None:
    up, away = make(), make(DEAD)
    await up.check()
    await away.check()
    telemetry = Telemetry(TelemetrySettings())
    telemetry.watch_redis({"rate_limits": up.health, "cache": away.health})
    text = telemetry.prometheus().decode()
    assert 'jointgate_redis_up{service="rate_limits"} 1' in text
    assert 'jointgate_redis_up{service="cache"} 0' in text
    assert 'jointgate_redis_failures_total{service="cache"} 1' in text
    telemetry.shutdown()
