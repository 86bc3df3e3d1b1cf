"""Rate and volume limits against the real Redis on 127.0.0.1:6379, and without it.

Every test writes under a key prefix of its own, deleted afterwards, and uses small rates and
windows, so the file runs in a few seconds. Tests marked with ``BACKENDS`` run once against
Redis and once against the in-process limiter: the same algorithms must give the same answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import time
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from gateway.ratelimit import Limiter, RateLimited, TooManyRequests, VolumeLimited
from gateway.ratelimit_settings import RateLimits
from gateway.settings import Settings
from kernel.config import ConfigError
from kernel.types import Principal
from tests.gateway.conftest import open_harness

REDIS_URL = "redis://127.0.0.1:6379/0"
KEY = bytes(range(32))
ALICE = Principal("alice@police", "police", frozenset({"investigator"}), 2)
BOB = Principal("bob@police", "police", frozenset({"investigator"}), 2)
CAROL = Principal("carol@market", "market", frozenset({"supervisor"}), 1)
BACKENDS = pytest.mark.parametrize("backend", ["redis", "local"])

Make = Callable[..., Limiter]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        pytest.fail(f"these tests need Redis on {REDIS_URL} (make services): {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix of the test's own; its keys are deleted afterwards."""
    prefix = f"jgtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def make(prefix: str) -> AsyncIterator[Make]:
    """``make("redis" | "local" | URL, key=..., **RateLimits fields)``; all closed afterwards."""
    made: list[Limiter] = []

    def build(backend: str = "redis", key: bytes = KEY, **overrides: Any) -> Limiter:
        url = {"redis": REDIS_URL, "local": ""}.get(backend, backend)
        if backend == "redis":
            # the live Redis: a loaded machine may take longer than the 0.1 s default to answer,
            # and a limiter that gives up falls back to local mode, which these tests are not about
            overrides.setdefault("timeout_s", 2.0)
        limits = RateLimits(redis_url=url, key_prefix=prefix, **overrides)
        made.append(Limiter(limits, key))
        return made[-1]

    yield build
    for limiter in made:
        await limiter.aclose()


async def refused(admit: Awaitable[None]) -> TooManyRequests:
    with pytest.raises(TooManyRequests) as caught:
        await admit
    return caught.value


def assert_mode(limiter: Limiter, backend: str) -> None:
    status = limiter.status()
    assert status["mode"] == ("redis" if backend == "redis" else "local"), status
    assert status["healthy"] is True, status


# -- request rates ------------------------------------------------------------------------------


@BACKENDS
async def test_user_rate_refused_with_retry_after(make: Make, backend: str) -> None:
    limiter = make(backend, user_rate=1, user_burst=2)
    await limiter.admit(ALICE)
    await limiter.admit(ALICE)  # the burst
    error = await refused(limiter.admit(ALICE))
    assert isinstance(error, RateLimited) and error.limit == "user_rate"
    assert (error.code, error.status, error.headers) == ("RATE_LIMITED", 429, {"Retry-After": "1"})
    assert error.graphql_errors() == [
        {"message": error.message, "extensions": {"code": "RATE_LIMITED", "limit": "user_rate"}}
    ]
    assert "Retry after 1 s" in error.message and "alice" not in error.message
    await limiter.admit(BOB)  # another user of the same agency is not held back
    assert_mode(limiter, backend)


@BACKENDS
async def test_retry_after_is_the_time_until_the_next_request_passes(
    make: Make, backend: str
) -> None:
    slow = make(backend, user_rate=0.25, user_burst=1)  # one request per 4 s
    await slow.admit(ALICE)
    assert (await refused(slow.admit(ALICE))).headers == {"Retry-After": "4"}

    fast = make(backend, user_rate=20, user_burst=1)
    await fast.admit(BOB)
    error = await refused(fast.admit(BOB))
    assert error.headers == {"Retry-After": "1"}  # 50 ms, rounded up to a whole second
    await asyncio.sleep(0.06)
    await fast.admit(BOB)


@BACKENDS
async def test_agency_rate_counts_all_its_users(make: Make, backend: str) -> None:
    limiter = make(backend, agency_rate=0.5, agency_burst=3)
    for who in (ALICE, BOB, ALICE):
        await limiter.admit(who)
    error = await refused(limiter.admit(BOB))
    assert isinstance(error, RateLimited) and error.limit == "agency_rate"
    assert error.code == "RATE_LIMITED" and error.headers == {"Retry-After": "2"}
    assert "agency police" in error.message
    await limiter.admit(CAROL)  # another agency has its own budget


@BACKENDS
async def test_a_refused_request_uses_no_quota(make: Make, backend: str) -> None:
    limiter = make(backend, user_rate=0.1, user_burst=1, agency_rate=0.1, agency_burst=1)
    await limiter.admit(ALICE)
    error = await refused(limiter.admit(BOB))
    assert isinstance(error, RateLimited) and error.limit == "agency_rate"
    # Bob's own budget is untouched: as a member of another agency he passes
    await limiter.admit(Principal(BOB.subject, "market", BOB.roles, BOB.clearance))


async def test_replicas_share_the_limits(make: Make) -> None:
    one, two = make(user_rate=0.1, user_burst=2), make(user_rate=0.1, user_burst=2)
    await one.admit(ALICE)
    await two.admit(ALICE)
    await refused(one.admit(ALICE))
    await refused(two.admit(ALICE))

    one, two = make(volume={"Person": 2}), make(volume={"Person": 2})
    assert await one.account(BOB, {"Person": {"P1"}}) == []
    assert await two.account(BOB, {"Person": {"P1", "P2"}}) == []
    await refused(one.admit(BOB))


# -- volume caps --------------------------------------------------------------------------------


@BACKENDS
async def test_volume_cap_counts_distinct_records(make: Make, backend: str) -> None:
    limiter = make(backend, volume={"Person": 3, "BankAccount": 10})
    assert await limiter.account(ALICE, {"Person": {"P1", "P2"}}) == []
    many = {f"U{i}" for i in range(50)}
    assert await limiter.account(ALICE, {"Person": {"P1", "P2"}, "Enterprise": many}) == []
    await limiter.admit(ALICE)  # two distinct persons: P1 and P2 seen twice count once
    assert await limiter.account(ALICE, {"Person": {"P3"}, "BankAccount": {"A1"}}) == []
    error = await refused(limiter.admit(ALICE))  # at the cap: the next request is refused
    assert isinstance(error, VolumeLimited)
    assert (error.code, error.status, error.flags) == ("VOLUME_LIMITED", 429, ("volume-cap",))
    assert (error.type_name, error.cap, error.limit) == ("Person", 3, "volume.Person")
    assert error.graphql_errors()[0]["extensions"] == {
        "code": "VOLUME_LIMITED",
        "limit": "volume.Person",
    }
    assert 3590 <= int(error.headers["Retry-After"]) <= 3600
    assert "3 distinct Person records" in error.message
    await limiter.admit(BOB)  # per user
    # a request that goes past the cap (it was admitted before) is flagged
    assert await limiter.account(ALICE, {"Person": {"P4"}}) == ["volume-cap"]
    assert await limiter.account(BOB, {"Person": {"P1", "P2", "P3"}}) == []
    assert_mode(limiter, backend)


@BACKENDS
async def test_volume_window_slides(make: Make, backend: str) -> None:
    limiter = make(backend, volume={"Person": 2}, volume_window_s=0.5)
    await limiter.account(ALICE, {"Person": {"P1"}})
    await asyncio.sleep(0.25)
    await limiter.account(ALICE, {"Person": {"P2"}})
    assert (await refused(limiter.admit(ALICE))).headers == {"Retry-After": "1"}
    await asyncio.sleep(0.3)  # P1 has left the window, P2 has not
    await limiter.admit(ALICE)
    await limiter.account(ALICE, {"Person": {"P3"}})
    await refused(limiter.admit(ALICE))


async def test_redis_holds_no_names_and_no_record_keys(
    make: Make, redis: Redis, prefix: str
) -> None:
    limiter = make(volume={"Person": 5})
    await limiter.admit(ALICE)
    await limiter.account(ALICE, {"Person": {"110105198001011234"}})
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    assert any(b":v:Person:" in key for key in keys) and any(b":a:police" in key for key in keys)
    dump = b" ".join(keys)
    for key in keys:
        if await redis.type(key) == b"zset":
            dump += b" ".join(cast(list[bytes], await redis.zrange(key, 0, -1)))
    for secret in (b"alice", b"110105198001011234", b"11010519800101"):
        assert secret not in dump


# -- without Redis --------------------------------------------------------------------------------


async def test_redis_down_the_local_limiter_still_enforces(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = make(f"redis://127.0.0.1:{free_port()}/0", user_rate=0.1, user_burst=2,
                   volume={"Person": 1})  # fmt: skip
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, "jointgate.ratelimit"):
        await limiter.admit(ALICE)
        await limiter.admit(ALICE)
        assert (await refused(limiter.admit(ALICE))).code == "RATE_LIMITED"
        await limiter.account(BOB, {"Person": {"P1"}})
        assert (await refused(limiter.admit(BOB))).code == "VOLUME_LIMITED"
    assert time.perf_counter() - started < 0.5  # a closed port costs nothing like seconds
    status = limiter.status()
    assert (status["mode"], status["healthy"], limiter.mode, limiter.healthy) == (
        "local", False, "local", False,
    )  # fmt: skip
    assert "ConnectionError" in status["error"]
    assert len(caplog.records) == 1 and "unreachable" in caplog.records[0].getMessage()


async def test_connect_checks_redis_at_start(make: Make) -> None:
    up, down = make(), make(f"redis://127.0.0.1:{free_port()}/0")
    await up.connect()
    await down.connect()
    assert (up.mode, up.healthy, down.mode, down.healthy) == ("redis", True, "local", False)


async def test_switched_off_nothing_is_limited(make: Make) -> None:
    limiter = make(enabled=False, user_rate=0.1, user_burst=1, volume={"Person": 1})
    for _ in range(3):
        await limiter.admit(ALICE)
        assert await limiter.account(ALICE, {"Person": {"P1", "P2"}}) == []
    assert (limiter.mode, limiter.healthy) == ("off", True)


async def test_local_only_is_healthy(make: Make) -> None:
    limiter = make("local")
    await limiter.admit(ALICE)
    assert limiter.status() == limiter.status() | {"mode": "local", "healthy": True, "redis": None}


class Proxy:
    """A TCP proxy to the real Redis that a test can stop and start (or make mute)."""

    def __init__(self, port: int, mute: bool = False) -> None:
        self.port, self.mute = port, mute
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    @contextlib.asynccontextmanager
    async def stopped(self) -> AsyncIterator[None]:
        """Stop it when the block ends, however it ends."""
        try:
            yield
        finally:
            if self._server is not None and self._server.is_serving():
                await self.stop()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._streams):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._streams.add(writer)
        try:
            if self.mute:  # reads, never answers
                while await reader.read(4096):
                    pass
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
            self._streams.add(up_writer)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (ConnectionError, OSError):
            pass
        finally:
            for stream in (writer, locals().get("up_writer")):
                if stream is not None:
                    self._streams.discard(stream)
                    stream.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def wait_for_mode(limiter: Limiter, mode: str) -> None:
    for _ in range(100):
        if limiter.mode == mode:
            return
        # a request is what starts a reconnection attempt
        await limiter.admit(Principal(uuid.uuid4().hex, "courts", frozenset(), 0))
        await asyncio.sleep(0.02)
    raise AssertionError(f"the limiter stayed in {limiter.mode} mode: {limiter.status()}")


async def test_back_to_redis_when_it_returns(
    make: Make, redis: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = Proxy(free_port())
    limiter = make(f"redis://127.0.0.1:{proxy.port}/0", retry_s=0.2, user_rate=0.1, user_burst=1)
    async with proxy.stopped():
        with caplog.at_level(logging.WARNING, "jointgate.ratelimit"):
            await limiter.admit(ALICE)  # counted in this process: Redis is away
            assert limiter.mode == "local"
            await proxy.start()
            await limiter.admit(BOB)
            assert limiter.mode == "local"  # the next attempt waits for retry_s, not per request
            await wait_for_mode(limiter, "redis")
            assert limiter.healthy and limiter.status()["error"] is None
            await limiter.admit(ALICE)  # Redis has not seen Alice yet
            assert [k async for k in redis.scan_iter(match=prefix + "u:*")]
            await refused(limiter.admit(ALICE))

            await proxy.stop()
            await limiter.admit(CAROL)  # the connection is gone: local again, at once
            assert limiter.mode == "local"
            await proxy.start()
            await wait_for_mode(limiter, "redis")
    messages = [r.getMessage() for r in caplog.records]
    assert [("unreachable" in m, "shared again" in m) for m in messages] == [
        (True, False), (False, True), (True, False), (False, True),
    ]  # fmt: skip


async def test_a_mute_redis_costs_one_timeout_not_one_per_request(make: Make) -> None:
    proxy = Proxy(free_port(), mute=True)
    await proxy.start()
    async with proxy.stopped():
        limiter = make(
            f"redis://127.0.0.1:{proxy.port}/0", timeout_s=0.05, retry_s=30, user_rate=1000,
            user_burst=100,
        )  # fmt: skip
        started = time.perf_counter()
        await limiter.admit(ALICE)
        assert time.perf_counter() - started < 0.5
        assert limiter.mode == "local" and "Timeout" in limiter.status()["error"]
        started = time.perf_counter()
        for _ in range(50):
            await limiter.admit(BOB)
        # one timeout each would take 50 x 0.05 s; well under that, however busy the machine
        assert time.perf_counter() - started < 1.0
        assert proxy.accepted == 1


async def test_replicas_with_different_hash_keys_are_reported(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    one, two = make(key=KEY), make(key=bytes(32))
    await one.admit(ALICE)
    with caplog.at_level(logging.ERROR, "jointgate.ratelimit"):
        await two.admit(ALICE)
        await two.admit(BOB)
    assert one.healthy and not two.healthy and two.status()["key_mismatch"] is True
    assert len(caplog.records) == 1 and "different key" in caplog.records[0].getMessage()


# -- settings -------------------------------------------------------------------------------------


def test_settings_defaults_and_a_toml_table(tmp_path: Path) -> None:
    assert RateLimits.from_mapping({}) == RateLimits()
    defaults = RateLimits()
    assert (defaults.user_rate, defaults.user_burst, defaults.agency_rate) == (20, 40, 200)
    assert dict(defaults.volume) == {"Person": 500, "BankAccount": 500, "PoliceCase": 200}
    table = tomllib.loads(
        """
        [rate_limits]
        user_rate = 5
        user_burst = 10
        agency_rate = 50.5
        volume_window_s = 86400
        redis_url = "rediss://redis.example.gov:6380/2"
        redis_password_env = "JOINTGATE_REDIS_PASSWORD"
        key_file = "secrets/ratelimit.key"

        [rate_limits.volume]
        Person = 100
        """
    )["rate_limits"]
    limits = RateLimits.from_mapping(table, base=tmp_path)
    assert (limits.user_rate, limits.user_burst, limits.agency_rate) == (5.0, 10, 50.5)
    assert dict(limits.volume) == {"Person": 100}  # the table names every capped type
    assert limits.key_file == tmp_path / "secrets/ratelimit.key"
    assert limits.redis_url == "rediss://redis.example.gov:6380/2"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"user_rate": 0}, "rate_limits.user_rate: must be a positive number, got 0"),
        ({"agency_rate": True}, "rate_limits.agency_rate: must be a positive number"),
        ({"user_burst": 1.5}, "rate_limits.user_burst: must be a whole number >= 1, got 1.5"),
        ({"volume": {"Person": 0}}, "rate_limits.volume.Person: must be a whole number >= 1"),
        ({"volume": 500}, "rate_limits.volume: must be a table"),
        ({"redis_url": "http://cache:6379"}, "rate_limits.redis_url: a redis://"),
        ({"redis_url": "redis://:hunter2@cache:6379/0"}, "use redis_password_env"),
        ({"redis_url": "redis://cache:6379/0?password=hunter2"}, "use redis_password_env"),
        ({"redis_url": "redis://cache/0?db=1&PASSWORD=hunter2"}, "use redis_password_env"),
        ({"key_prefix": ""}, "rate_limits.key_prefix: must not be empty"),
        ({"key_env": 5}, "rate_limits.key_env: must be a string"),
        ({"enabled": "no"}, "rate_limits.enabled: true or false, got 'no'"),
        ({"user_ratee": 5}, "rate_limits.user_ratee: unknown key"),
    ],
)
def test_settings_errors_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        RateLimits.from_mapping(table)
    assert message in str(error.value)
    assert "hunter2" not in str(error.value)


def test_volume_types_are_checked_against_the_schema() -> None:
    from schema.unified import build_schema

    types = {type_name for type_name, _ in build_schema().catalog}
    RateLimits().check_types(types)  # the defaults name real types
    with pytest.raises(ConfigError, match=r"rate_limits\.volume\.Persons: not a type"):
        RateLimits(volume={"Persons": 5}).check_types(types)


def test_hash_key_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = RateLimits()
    key = limits.hash_key(tmp_path)  # created on first use, kept afterwards
    path = tmp_path / limits.key_file
    assert len(key) == 32 and limits.hash_key(tmp_path) == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    from_env = RateLimits(key_env="JG_TEST_RL_KEY")
    with pytest.raises(ConfigError, match=r"rate_limits\.key_env: environment variable"):
        from_env.hash_key(tmp_path)
    monkeypatch.setenv("JG_TEST_RL_KEY", "zz")
    with pytest.raises(ConfigError, match="64 hex characters"):
        from_env.hash_key(tmp_path)
    monkeypatch.setenv("JG_TEST_RL_KEY", KEY.hex())
    assert from_env.hash_key(tmp_path) == KEY


# -- through the pipeline ---------------------------------------------------------------------------

PERSONS = (
    '{ enterprises(nameContains: "测试", first: %d) { nodes { legalRepresentative { name } } } }'
)


@pytest.mark.skipif(
    "rate_limits" not in Settings.__dataclass_fields__,
    reason="until gateway/settings.py, app.py and pipeline.py wire the limiter in",
)
async def test_through_the_pipeline_429_retry_after_and_audit_flags(
    tmp_path: Path, prefix: str
) -> None:
    limits = RateLimits(key_prefix=prefix, user_rate=0.1, user_burst=3, volume={"Person": 2})
    async with open_harness(tmp_path, rate_limits=limits) as harness:
        records = harness.audit.records
        answered = await harness.query(PERSONS % 3)  # admitted at 0 persons, returns 3
        assert answered.status_code == 200, answered.text
        assert len(records[-1].records_returned["Person"]) == 3
        assert "volume-cap" in records[-1].flags  # it went past the cap

        capped = await harness.query(PERSONS % 1)
        assert (capped.status_code, capped.headers["retry-after"]) == (429, "3600")
        [error] = capped.json()["errors"]
        assert error["extensions"] == {"code": "VOLUME_LIMITED", "limit": "volume.Person"}
        assert "data" not in capped.json()
        refused = records[-1]
        assert (refused.status, refused.subject, refused.error_codes) == (
            429, "jit.member", ["VOLUME_LIMITED"],
        )  # fmt: skip
        assert refused.flags == ["volume-cap"] and not refused.records_returned

        # a user at a volume cap is refused for it alone; another one meets the request rate
        officer = {"user": "market.officer", "purpose": "supervision", "case": None}
        for _ in range(3):  # the burst
            assert (await harness.query("{ __typename }", **officer)).status_code == 200
        limited = await harness.query("{ __typename }", **officer)
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "10")
        [error] = limited.json()["errors"]
        assert error["extensions"] == {"code": "RATE_LIMITED", "limit": "user_rate"}
        assert (records[-1].status, records[-1].error_codes) == (429, ["RATE_LIMITED"])
        ready = (await harness.client.get("/readyz")).json()
        assert ready["checks"]["rate_limits"]["mode"] == "redis"


async def test_identities_shown_inside_other_records_count_against_the_volume_caps(
    tmp_path: Path, prefix: str
) -> None:
    """An investigator reading court cases' parties sees their resident IDs in clear (decided as
    Person.idNumber: the police's own field): each is a person disclosed, counted against the
    Person cap as a person lookup would be."""
    from tests.gateway.conftest import resident_id

    limits = RateLimits(key_prefix=prefix, volume={"Person": 3})
    async with open_harness(tmp_path, rate_limits=limits) as harness:
        cases = harness.agencies["courts"]._records["court_case"]
        for i, case in enumerate(cases):
            case["parties"] = [*case["parties"], {"party_id": resident_id(i), "role": "第三人"}]
        numbers = ", ".join(f'"{c["case_number"]}"' for c in cases[:4])
        parties = "{ courtCases(caseNumbers: [%s]) { parties { partyId } } }" % numbers
        reader = {"user": "police.investigator", "purpose": "investigation",
                 "case": "J1101052026000001"}  # fmt: skip
        answered = await harness.query(parties, **reader)  # admitted at 0 persons, shows 4
        assert answered.status_code == 200, answered.text
        assert resident_id(3) in answered.text
        assert "volume-cap" in harness.audit.records[-1].flags
        capped = await harness.query(parties, **reader)
        assert capped.status_code == 429
        [error] = capped.json()["errors"]
        assert error["extensions"] == {"code": "VOLUME_LIMITED", "limit": "volume.Person"}
