"""Stage 3, rate limits: request rates and record volumes per user, shared by every replica
through Redis.

    admit(principal)                      after authn, before the query costs anything:
                                          per-user and per-agency request rates (GCRA), then
                                          the user's volume caps (already at a cap: refused)
    account(principal, records_returned)  after execution: the distinct records of each capped
                                          type the user received in the sliding window

Each check is one Lua script, so it is atomic however many replicas share the keys, and uses
Redis's clock, so replicas' clocks need not agree. A refused request uses up no quota.
Volume caps keep, per user and type, a sorted set of keyed hashes of the record keys scored by
when they were last returned: exact distinct counts over a sliding window, and no record key or
user name in Redis (keys name the agency and a keyed hash of the subject).

When Redis cannot be reached, the same algorithms run in memory and the limiter says so
(``mode == "local"``, logged once per transition); it tries Redis again at most every
``retry_s`` in the background and goes back to it when it answers (gateway/redis.py).
docs/limits.md has the settings and what local mode means for several replicas.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gateway.ratelimit_settings import RateLimits
from gateway.redis import RedisAway, RedisLink
from kernel.errors import GatewayError
from kernel.lru import LRU
from kernel.types import Principal

__all__ = [
    "Limiter",
    "RateLimited",
    "TooManyRequests",
    "VolumeLimited",
    "open_limiter",
]

log = logging.getLogger("jointgate.ratelimit")

VOLUME_FLAG = "volume-cap"
T = TypeVar("T")


class TooManyRequests(GatewayError):
    """429 with ``Retry-After`` (whole seconds, at least 1). ``limit`` names the setting that
    refused, as QUERY_TOO_COMPLEX does; ``flags`` are for the audit record."""

    status = 429

    def __init__(self, message: str, limit: str, retry_after_s: float) -> None:
        self.limit = limit
        self.retry_after = max(1, math.ceil(retry_after_s))
        super().__init__(f"{message} Retry after {self.retry_after} s.")
        self.headers = {"Retry-After": str(self.retry_after)}

    def graphql_errors(self) -> Sequence[dict[str, Any]]:
        return [{"message": self.message, "extensions": {"code": self.code, "limit": self.limit}}]


class RateLimited(TooManyRequests):
    """A request rate: ``limit`` is ``user_rate`` or ``agency_rate``."""

    code = "RATE_LIMITED"


class VolumeLimited(TooManyRequests):
    """A volume cap: ``limit`` is ``volume.TYPE``; the request is flagged ``volume-cap``."""

    code = "VOLUME_LIMITED"
    flags = (VOLUME_FLAG,)

    def __init__(self, type_name: str, cap: int, window_s: float, retry_after_s: float) -> None:
        super().__init__(
            f"This user has received {cap} distinct {type_name} records in {window_s:g} s,"
            " the most allowed.",
            f"volume.{type_name}",
            retry_after_s,
        )
        self.type_name, self.cap = type_name, cap


@dataclass(frozen=True, slots=True)
class _Rate:
    key: str
    interval_s: float  # one request's share of the rate: 1 / rate
    burst: int


class _Store(Protocol):
    """Where the counts live. ``admit`` answers None or (index of the refusing limit among
    ``rates + volumes``, seconds until it would pass); ``account`` the distinct counts."""

    async def admit(
        self, rates: Sequence[_Rate], volumes: Sequence[tuple[str, int]]
    ) -> tuple[int, float] | None: ...

    async def account(self, volumes: Sequence[tuple[str, Sequence[bytes]]]) -> list[int]: ...


# KEYS: the rates' keys, then the volume sets. ARGV: number of rates, (interval µs, burst) per
# rate, window µs, cap per set. GCRA: a key holds the theoretical arrival time (TAT) of the next
# request; a request passes while TAT - burst * interval <= now.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nrates = tonumber(ARGV[1])
local tats = {}
for i = 1, nrates do
  local interval, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or now), now) + interval
  local wait = tat - burst * interval - now
  if wait > 0 then return {i, wait} end
  tats[i] = tat
end
local cutoff = now - tonumber(ARGV[2 + 2 * nrates])
for i = nrates + 1, #KEYS do
  local cap = tonumber(ARGV[2 + nrates + i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('%d', cutoff))
  local n = redis.call('ZCARD', KEYS[i])
  if n >= cap then
    local oldest = redis.call('ZRANGE', KEYS[i], n - cap, n - cap, 'WITHSCORES')
    return {i, tonumber(oldest[2]) - cutoff}
  end
end
for i = 1, nrates do
  local ttl = math.ceil((tats[i] - now) / 1000)
  redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX', ttl)
end
return {0, 0}
"""

# KEYS: the volume sets. ARGV: window µs, number of members per set, then the members.
_ACCOUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local stamp, cutoff = string.format('%d', now), string.format('%d', now - window)
local pos = 1 + #KEYS
local counts = {}
for i = 1, #KEYS do
  local n = tonumber(ARGV[1 + i])
  for first = 1, n, 256 do
    local args = {}
    for j = first, math.min(first + 255, n) do
      args[#args + 1] = stamp
      args[#args + 1] = ARGV[pos + j]
    end
    redis.call('ZADD', KEYS[i], unpack(args))
  end
  pos = pos + n
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', cutoff)
  redis.call('PEXPIRE', KEYS[i], math.ceil(window / 1000))
  counts[i] = redis.call('ZCARD', KEYS[i])
end
return counts
"""

# Replicas hashing with different keys would never share a count. Each replica renews its key's
# fingerprint every KEY_CHECK_S; the fingerprint outlives a missed renewal or two, and a replica
# finding another one there is hashing with a different key.
_KEY_ID = """
local stored = redis.call('GET', KEYS[1])
if stored and stored ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
KEY_CHECK_S = 60.0


class RedisStore:
    """The counts in Redis, through the limiter's :class:`RedisLink` (its deadline, its
    fallback); the link's background check is :meth:`check`."""

    def __init__(
        self, limits: RateLimits, fingerprint: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.link = RedisLink(
            limits.redis_url,
            limits.redis_password_env,
            service="rate limits",
            log=log,
            timeout_s=limits.timeout_s,
            retry_s=limits.retry_s,
            away="limiting in this process only",
            back="limits shared again",
            check=self.check,
            clock=clock,
        )
        client = self.link.client
        self._window_us = round(limits.volume_window_s * 1e6)
        self._admit = client.register_script(_ADMIT)
        self._account = client.register_script(_ACCOUNT)
        self._key_id = client.register_script(_KEY_ID)
        self._key_id_key = limits.key_prefix + "key-id"
        self._fingerprint = fingerprint
        self.check_at = 0.0  # monotonic time of the next key check; 0: at the next call
        self.key_mismatch = False

    async def check(self) -> None:
        """Reach Redis and renew (or compare) this replica's key fingerprint."""
        same = await self._key_id([self._key_id_key], [self._fingerprint, round(KEY_CHECK_S * 3e3)])
        if not same and not self.key_mismatch:
            log.error(
                "rate limits: another replica hashes with a different key, so limits are not"
                " shared; give every replica the same rate_limits.key_env or key_file"
            )
        elif same and self.key_mismatch:
            log.warning("rate limits: the replicas' hash keys agree again")
        self.key_mismatch = not same
        self.check_at = time.monotonic() + KEY_CHECK_S

    async def admit(
        self, rates: Sequence[_Rate], volumes: Sequence[tuple[str, int]]
    ) -> tuple[int, float] | None:
        if time.monotonic() >= self.check_at:
            await self.check()
        args: list[int] = [len(rates)]
        for rate in rates:
            args += [max(1, round(rate.interval_s * 1e6)), rate.burst]
        args += [self._window_us, *(cap for _, cap in volumes)]
        keys = [r.key for r in rates] + [k for k, _ in volumes]
        index, wait_us = await self._admit(keys, args)
        return None if index == 0 else (int(index) - 1, int(wait_us) / 1e6)

    async def account(self, volumes: Sequence[tuple[str, Sequence[bytes]]]) -> list[int]:
        args: list[int | bytes] = [self._window_us, *(len(m) for _, m in volumes)]
        for _, members in volumes:
            args += members
        counts = await self._account([k for k, _ in volumes], args)
        return [int(c) for c in counts]


class MemoryStore:
    """The same algorithms in this process, for when Redis is away (or not configured)."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._window_s = window_s
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._seen: dict[str, LRU[bytes, float]] = {}  # member -> last seen, oldest first
        self._sweep_at = clock() + 60

    async def admit(
        self, rates: Sequence[_Rate], volumes: Sequence[tuple[str, int]]
    ) -> tuple[int, float] | None:
        now = self._clock()
        if now >= self._sweep_at:
            self._sweep(now)
        tats = []
        for i, rate in enumerate(rates):
            tat = max(self._tats.get(rate.key, now), now) + rate.interval_s
            wait = tat - rate.burst * rate.interval_s - now
            if wait > 0:
                return i, wait
            tats.append(tat)
        cutoff = now - self._window_s
        for i, (key, cap) in enumerate(volumes, start=len(rates)):
            seen = self._trimmed(key, cutoff)
            if len(seen) >= cap:
                oldest = next(islice(seen.values(), len(seen) - cap, None))
                return i, oldest - cutoff
        self._tats.update((rate.key, tat) for rate, tat in zip(rates, tats, strict=True))
        return None

    async def account(self, volumes: Sequence[tuple[str, Sequence[bytes]]]) -> list[int]:
        now = self._clock()
        counts = []
        for key, members in volumes:
            seen = self._seen.setdefault(key, LRU(None))
            for member in members:
                seen[member] = now
            counts.append(len(self._trimmed(key, now - self._window_s)))
        return counts

    def _trimmed(self, key: str, cutoff: float) -> LRU[bytes, float]:
        seen = self._seen.get(key)
        if seen is None:
            return LRU(None)
        while (oldest := seen.oldest()) is not None and oldest[1] <= cutoff:
            seen.pop_oldest()
        return seen

    def _sweep(self, now: float) -> None:
        """Forget what no longer counts, so memory follows the active users."""
        self._tats = {k: tat for k, tat in self._tats.items() if tat > now}
        for key in list(self._seen):
            if not self._trimmed(key, now - self._window_s):
                del self._seen[key]
        self._sweep_at = now + 60


class Limiter:
    """Rate and volume limits for the pipeline.

    Example::

        limiter = open_limiter(settings.rate_limits, settings.data_dir, entity_types)
        await limiter.admit(principal)        # raises RateLimited / VolumeLimited
        ...execute...
        record.flag(*await limiter.account(principal, record.records_returned))
    """

    def __init__(
        self, limits: RateLimits, key: bytes, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._key = key
        self._clock = clock
        self._local = MemoryStore(limits.volume_window_s, clock)
        fingerprint = self._hash(b"key-id", b"").hex()
        shared = limits.enabled and limits.redis_url
        self._redis = RedisStore(limits, fingerprint, clock) if shared else None
        self._since = time.time()

    @property
    def mode(self) -> str:
        """``redis``: limits shared by all replicas; ``local``: this process only; ``off``."""
        if not self.limits.enabled:
            return "off"
        return "local" if self._redis is None or self._redis.link.away else "redis"

    @property
    def redis(self) -> RedisLink | None:
        """The link to the shared Redis, if one is configured."""
        return self._redis.link if self._redis else None

    @property
    def healthy(self) -> bool:
        """False while a configured Redis is away or replicas disagree on the hash key."""
        if self._redis is None:
            return True
        return not self._redis.link.away and not self._redis.key_mismatch

    def status(self) -> dict[str, Any]:
        """For /readyz: reported, not required (local mode still limits)."""
        link = self._redis.link if self._redis else None
        return {
            "mode": self.mode,
            "healthy": self.healthy,
            "redis": link.where if link else None,
            "since": round(link.since if link else self._since, 3),
            "error": (link.error or None) if link else None,
            "key_mismatch": bool(self._redis and self._redis.key_mismatch),
        }

    async def connect(self) -> None:
        """Check Redis now (at start-up) rather than at the next request."""
        if self._redis is not None:
            await self._redis.link.check()

    async def admit(self, principal: Principal) -> None:
        """Refuse the request if a rate is exceeded or the user is at a volume cap."""
        limits = self.limits
        if not limits.enabled:
            return
        user = self._hash(b"subject", principal.subject.encode()).hex()
        rates = [
            _Rate(f"{limits.key_prefix}u:{user}", 1 / limits.user_rate, limits.user_burst),
            _Rate(f"{limits.key_prefix}a:{principal.agency}", 1 / limits.agency_rate,
                  limits.agency_burst),
        ]  # fmt: skip
        types = list(limits.volume)
        volumes = [(self._volume_key(t, user), limits.volume[t]) for t in types]
        refusal = await self._run(lambda store: store.admit(rates, volumes))
        if refusal is None:
            return
        index, wait = refusal
        if index == 0:
            raise RateLimited(
                f"Too many requests from this user (at most {limits.user_rate:g} per second).",
                "user_rate",
                wait,
            )
        if index == 1:
            raise RateLimited(
                f"Too many requests from agency {principal.agency}"
                f" (at most {limits.agency_rate:g} per second).",
                "agency_rate",
                wait,
            )
        type_name = types[index - len(rates)]
        raise VolumeLimited(type_name, limits.volume[type_name], limits.volume_window_s, wait)

    async def account(
        self, principal: Principal, records_returned: Mapping[str, Collection[str]]
    ) -> list[str]:
        """Count the records this request returned; ``["volume-cap"]`` if it went past a cap."""
        capped = [t for t in self.limits.volume if records_returned.get(t)]
        if not capped or not self.limits.enabled:
            return []
        user = self._hash(b"subject", principal.subject.encode()).hex()
        volumes = [
            (
                self._volume_key(t, user),
                [self._hash(b"record", k.encode())[:10] for k in records_returned[t]],
            )
            for t in capped
        ]
        counts = await self._run(lambda store: store.account(volumes))
        over = any(n > self.limits.volume[t] for t, n in zip(capped, counts, strict=True))
        return [VOLUME_FLAG] if over else []

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.link.aclose()

    def _volume_key(self, type_name: str, user: str) -> str:
        return f"{self.limits.key_prefix}v:{type_name}:{user}"

    def _hash(self, what: bytes, data: bytes) -> bytes:
        return hashlib.blake2b(
            data, key=self._key, digest_size=16, person=b"jg-rl-" + what
        ).digest()

    async def _run(self, check: Callable[[_Store], Awaitable[T]]) -> T:
        redis = self._redis
        if redis is not None:
            try:
                return await redis.link.run(lambda: check(redis))
            except RedisAway:
                pass  # logged by the link; this request is counted here
        return await check(self._local)


def open_limiter(limits: RateLimits, data_dir: Path, known_types: Collection[str]) -> Limiter:
    """The limiter for a gateway: volume types checked against the schema, hash key loaded."""
    limits.check_types(known_types)
    return Limiter(limits, limits.hash_key(data_dir) if limits.enabled else bytes(32))
