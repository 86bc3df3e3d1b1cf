"""Change notifications between replicas: Redis pub/sub says *when* to look, the database *what*.

    jointgate teams add-member ... ─▶ governance database ─▶ PUBLISH <channel> {"topic": "teams"}
    every replica: SUBSCRIBE <channel> ─▶ re-check that topic's version in the database
                                        ─▶ re-read it if the version moved

A message carries no state, only the topic to re-check (``teams``, ``policy``), so a lost,
repeated or forged message does no harm: the database stays the only source of truth. Pub/sub
delivers at most once, so each replica also re-checks every topic on its own: every ``recheck_s``
while subscribed, every ``poll_s`` while Redis is unreachable or not configured (mode
``polling``), and all at once whenever the subscription is made again. A change is therefore in
force everywhere within milliseconds with Redis, and within ``poll_s`` without it.

Example::

    notifier = ChangeNotifier(settings.notifications.resolved(settings.rate_limits))
    notifier.watch("teams", lambda: asyncio.to_thread(directory.check))
    await notifier.start()
    ...
    announce(settings.notifications.resolved(settings.rate_limits), "teams")  # after a change
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.notify_settings import NotifySettings

__all__ = ["TOPICS", "ChangeNotifier", "NotifySettings", "announce"]

log = logging.getLogger("jointgate.notify")

TOPICS = ("teams", "policy")
UNAVAILABLE = (RedisError, OSError, TimeoutError)
Check = Callable[[], Awaitable[object]]


def redis_client(url: str, password_env: str | None, timeout_s: float, **options: Any) -> Redis:
    password = os.environ.get(password_env) if password_env else None
    return Redis.from_url(
        url,
        password=password,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),  # the callers fall back instead of retrying
        **options,
    )


def where(url: str) -> str:
    """The address without credentials, for logs and /readyz."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2], query="").geturl()


def _message(topic: str, origin: str) -> bytes:
    return orjson.dumps({"topic": topic, "origin": origin, "at": round(time.time(), 3)})


class ChangeNotifier:
    """Runs each watched topic's check when told to by Redis, and periodically regardless."""

    def __init__(self, settings: NotifySettings, *, origin: str = "") -> None:
        assert settings.redis_url is not None, "resolve the settings first (resolved())"
        self.settings = settings
        self.origin = origin or socket.gethostname()
        self._checks: dict[str, Check] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: Redis | None = None
        if settings.redis_url:
            self._client = redis_client(
                settings.redis_url,
                settings.redis_password_env,
                settings.timeout_s,
                health_check_interval=max(1, round(settings.recheck_s / 2)),
                client_name=f"jointgate-notify-{self.origin}"[:64].replace(" ", "-"),
            )
        self._mode = "polling"
        self._since = time.time()
        self._error = "" if self._client is not None else "no Redis configured"
        self.messages = 0  # notifications received for a watched topic
        self.checks = 0  # checks run
        self.check_errors = 0

    @property
    def mode(self) -> str:
        """``redis``: subscribed; ``polling``: re-checking every ``poll_s`` on its own."""
        return self._mode

    def watch(self, topic: str, check: Check) -> None:
        """Run ``check`` (an async re-check of the topic's version) on each notification."""
        self._checks[topic] = check

    def status(self) -> dict[str, Any]:
        """For /readyz: reported, not required (polling still converges)."""
        return {
            "mode": self._mode,
            "redis": where(self.settings.redis_url or "") or None,
            "channel": self.settings.channel,
            "since": round(self._since, 3),
            "error": self._error or None,
            "messages": self.messages,
            "checks": self.checks,
            "check_errors": self.check_errors,
            "recheck_every_s": (
                self.settings.poll_s if self._mode == "polling" else self.settings.recheck_s
            ),
        }

    async def start(self) -> None:
        """Subscribe now (so /readyz is right from the start), then keep going in the background."""
        pubsub = await self._subscribe() if self._client is not None else None
        self._tasks = [
            asyncio.create_task(self._run(pubsub), name="jointgate-notify"),
            asyncio.create_task(self._work(), name="jointgate-notify-checks"),
        ]

    async def publish(self, topic: str) -> bool:
        """Tell every replica (this one included) to re-check ``topic``; False if Redis is away."""
        if self._client is None:
            return False
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                await self._client.publish(self.settings.channel, _message(topic, self.origin))
        except UNAVAILABLE as exc:
            log.warning("change notification for %s not sent (%s)", topic, _describe(exc))
            return False
        return True

    def recheck(self, *topics: str) -> None:
        """Mark topics (default: all) for the check worker."""
        self._dirty.update(topics or self._checks)
        self._wake.set()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _subscribe(self) -> PubSub | None:
        assert self._client is not None
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            async with asyncio.timeout(self.settings.timeout_s * 2):
                await pubsub.subscribe(self.settings.channel)
        except UNAVAILABLE as exc:
            await _close(pubsub)
            self._to_polling(exc)
            return None
        if self._mode != "redis":
            if self._error:
                log.warning("change notifications: Redis at %s is back", where(self._url))
            self._mode, self._since, self._error = "redis", time.time(), ""
        self.recheck()  # whatever changed while we were not listening
        return pubsub

    @property
    def _url(self) -> str:
        return self.settings.redis_url or ""

    async def _run(self, pubsub: PubSub | None) -> None:
        settings = self.settings
        while True:
            if pubsub is not None:
                try:
                    await self._listen(pubsub)
                except UNAVAILABLE as exc:
                    self._to_polling(exc)
                finally:
                    await _close(pubsub)
                pubsub = None
            retry_at = time.monotonic() + settings.retry_s
            while self._client is None or time.monotonic() < retry_at:
                await asyncio.sleep(settings.poll_s)
                self.recheck()
            pubsub = await self._subscribe()

    async def _listen(self, pubsub: PubSub) -> None:
        recheck_at = time.monotonic() + self.settings.recheck_s
        while True:
            message = await pubsub.get_message(timeout=min(1.0, self.settings.recheck_s))
            if message is not None and message.get("type") == "message":
                self._received(message.get("data"))
            if time.monotonic() >= recheck_at:
                recheck_at = time.monotonic() + self.settings.recheck_s
                self.recheck()

    def _received(self, data: Any) -> None:
        try:
            topic = orjson.loads(data).get("topic")
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            return
        if topic in self._checks:
            self.messages += 1
            self.recheck(topic)

    async def _work(self) -> None:
        """Run marked checks one at a time; marks made meanwhile coalesce into one more run."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            topics, self._dirty = self._dirty, set()
            for topic in sorted(topics):
                check = self._checks.get(topic)
                if check is None:
                    continue
                self.checks += 1
                try:
                    await check()
                except Exception as exc:  # a database hiccup: the next re-check tries again
                    self.check_errors += 1
                    log.warning("re-checking %s failed: %s", topic, _describe(exc))

    def _to_polling(self, exc: BaseException) -> None:
        error = _describe(exc)
        if self._mode != "polling" or not self._error:
            log.warning(
                "change notifications: Redis at %s unreachable (%s); re-checking the database"
                " every %g s until it is back",
                where(self._url),
                error,
                self.settings.poll_s,
            )
        if self._mode != "polling":
            self._since = time.time()
        self._mode, self._error = "polling", error


async def _close(pubsub: PubSub) -> None:
    with contextlib.suppress(*UNAVAILABLE):
        await pubsub.aclose()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def announce(settings: NotifySettings, topic: str, *, origin: str = "cli") -> bool:
    """Publish one change notification from a command-line tool (synchronous, bounded by
    ``timeout_s``); False if Redis is not configured or unreachable: replicas then see the
    change at their next periodic re-check."""
    url = settings.redis_url
    if not url:
        return False
    import redis

    password = os.environ.get(settings.redis_password_env) if settings.redis_password_env else None
    client = redis.Redis.from_url(
        url,
        password=password,
        socket_timeout=settings.timeout_s,
        socket_connect_timeout=settings.timeout_s,
    )
    try:
        client.publish(settings.channel, _message(topic, origin))
    except UNAVAILABLE as exc:
        log.warning("change notification for %s not sent (%s)", topic, _describe(exc))
        return False
    finally:
        client.close()
    return True
