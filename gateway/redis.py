"""One service's Redis, and what happens while it is away: the rate limits, the change
notifications and the record cache each hold a :class:`RedisLink`.

    link = RedisLink(url, password_env, service="record cache", log=log, timeout_s=0.05,
                     retry_s=2.0, away="bypassed", back="cache in use again")
    try:
        found = await link.run(lambda: link.client.mget(keys))
    except RedisAway:
        ...  # the service's fallback: limit in this process, poll the database, ask the agency

A link is ``unknown`` until its first answer, then ``up`` or ``away``. A failed call (a
connection refused, a reset, no reply within the deadline) makes it ``away`` and is logged once,
on the service's own logger; while away :meth:`RedisLink.run` raises :class:`RedisAway` at once
(a dead Redis costs one timeout, not one per request) and, once ``retry_s`` has passed since the
last failure, checks Redis in the background (``check``: PING unless the service brings its own).
The first answer after that is logged once too (``... is back``). A service that keeps a
connection open (the notifications' subscription) calls :meth:`RedisLink.attempt` itself when
:meth:`RedisLink.due` says so. :meth:`RedisLink.health` is the state for /readyz and the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import redis as sync_redis
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

__all__ = [
    "UNAVAILABLE",
    "RedisAway",
    "RedisLink",
    "connect",
    "connect_sync",
    "describe",
    "where",
]

UNAVAILABLE = (RedisError, OSError, TimeoutError)
State = Literal["unknown", "up", "away"]
T = TypeVar("T")


class RedisAway(Exception):
    """Redis is not to be used for this call: unreachable now or lately (``error`` says why)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def where(url: str) -> str:
    """The address without credentials, for logs and /readyz."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2], query="").geturl()


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _password(password_env: str | None) -> str | None:
    return os.environ.get(password_env) if password_env else None


def connect(
    url: str, password_env: str | None, timeout_s: float, *, reply_timeout: bool = True,
    **options: Any,
) -> Redis:  # fmt: skip
    """An asyncio client that never retries on its own (the services fall back instead).
    ``timeout_s`` bounds connecting and, with ``reply_timeout``, every reply (a subscriber
    waiting for messages leaves it off)."""
    if reply_timeout:
        options["socket_timeout"] = timeout_s
    return Redis.from_url(
        url,
        password=_password(password_env),
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        **options,
    )


def connect_sync(url: str, password_env: str | None, timeout_s: float) -> sync_redis.Redis:
    """A blocking client for the command-line tools, every call bounded by ``timeout_s``."""
    return sync_redis.Redis.from_url(
        url,
        password=_password(password_env),
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )


class RedisLink:
    """A service's client and its Redis state; logs on the service's logger."""

    def __init__(
        self,
        url: str,
        password_env: str | None,
        *,
        service: str,  # "rate limits": starts the log lines
        log: logging.Logger,
        timeout_s: float,
        retry_s: float,
        away: str,  # what the service does meanwhile: "limiting in this process only"
        back: str,  # "limits shared again"
        deadline_s: float | None = None,  # per call; default: connect, send, reply
        check: Callable[[], Awaitable[object]] | None = None,  # the background check; PING
        clock: Callable[[], float] = time.monotonic,
        reply_timeout: bool = True,
        **options: Any,
    ) -> None:
        self.client = connect(url, password_env, timeout_s, reply_timeout=reply_timeout, **options)
        self.where = where(url)
        self.service, self.log, self.retry_s = service, log, retry_s
        self._away_text, self._back_text = away, back
        self.deadline_s = deadline_s if deadline_s is not None else timeout_s * 3
        self._check = check or self.client.ping
        self._clock = clock
        self.state: State = "unknown"
        self.since = time.time()  # wall clock of the last change of state
        self.error = ""  # why the last call failed, while away
        self.failures = 0  # failed calls and checks since start
        self._retry_at = 0.0
        self._checking: asyncio.Task[bool] | None = None

    @property
    def away(self) -> bool:
        return self.state == "away"

    def due(self) -> bool:
        """``retry_s`` has passed since the last failure (always, unless away)."""
        return self.state != "away" or self._clock() >= self._retry_at

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` within the deadline; :class:`RedisAway` if it fails, or at once while
        Redis is away (then a background check once the back-off has passed)."""
        if self.state == "away":
            if self._checking is None and self._clock() >= self._retry_at:
                self._checking = asyncio.create_task(self.check())
                self._checking.add_done_callback(self._checked)
            raise RedisAway(self.error)
        return await self.attempt(call)

    async def attempt(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` within the deadline, away or not; its outcome sets the state."""
        try:
            async with asyncio.timeout(self.deadline_s):
                result = await call()
        except UNAVAILABLE as exc:
            self.failed(exc)
            raise RedisAway(self.error) from exc
        if self.state != "up":
            self.answered()
        return result

    async def check(self) -> bool:
        """Try Redis now (at start-up rather than at the first request); True if it answered."""
        try:
            await self.attempt(self._check)
        except RedisAway:
            return False
        return True

    def failed(self, exc: BaseException) -> None:
        """A call failed: away until a call or check after ``retry_s`` answers; logged once."""
        self.failures += 1
        self.error = describe(exc)
        self._retry_at = self._clock() + self.retry_s
        if self.state != "away":
            self.state, self.since = "away", time.time()
            self.log.warning(
                "%s: Redis at %s unreachable (%s); %s until it is back",
                self.service, self.where, self.error, self._away_text,
            )  # fmt: skip

    def answered(self) -> None:
        """Redis answered: up (logged if it was away)."""
        if self.state == "away":
            self.log.warning(
                "%s: Redis at %s is back; %s", self.service, self.where, self._back_text
            )
        self.state, self.since, self.error = "up", time.time(), ""

    def health(self) -> dict[str, Any]:
        """For /readyz and the metrics: reported, never required (every service falls back)."""
        return {
            "redis": self.where,
            "state": self.state,
            "since": round(self.since, 3),
            "error": self.error or None,
            "failures": self.failures,
        }

    async def aclose(self) -> None:
        if self._checking is not None:
            self._checking.cancel()
            await asyncio.gather(self._checking, return_exceptions=True)
        await self.client.aclose()

    def _checked(self, task: asyncio.Task[bool]) -> None:
        self._checking = None
