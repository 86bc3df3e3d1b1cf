"""Change notifications between replicas: Redis pub/sub says *when* to look, the database *what*.

    jointgate teams add-member ... ─▶ governance database ─▶ PUBLISH <channel> {"topic": "teams"}
    every replica: SUBSCRIBE <channel> ─▶ re-check that topic's version in the database
                                        ─▶ re-read it if the version moved

A message carries no state, only the topic to re-check (``teams``, ``cases``, ``policy``), so a
lost, repeated or forged message does no harm: the database stays the only source of truth. Pub/sub
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
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio.client import PubSub

from gateway.notify_settings import NotifySettings
from gateway.redis import UNAVAILABLE, RedisAway, RedisLink, connect_sync, describe

__all__ = ["TOPICS", "ChangeNotifier", "announce"]

log = logging.getLogger("jointgate.notify")

TOPICS = ("teams", "cases", "policy")
Check = Callable[[], Awaitable[object]]


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
        self._link: RedisLink | None = None
        if settings.redis_url:
            self._link = RedisLink(
                settings.redis_url,
                settings.redis_password_env,
                service="change notifications",
                log=log,
                timeout_s=settings.timeout_s,
                retry_s=settings.retry_s,
                away=f"re-checking the database every {settings.poll_s:g} s",
                back="notified by Redis again",
                deadline_s=settings.timeout_s * 2,  # connect, subscribe
                reply_timeout=False,  # a subscriber waits for messages
                health_check_interval=max(1, round(settings.recheck_s / 2)),
                client_name=f"jointgate-notify-{self.origin}"[:64].replace(" ", "-"),
            )
        self._since = time.time()
        self.messages = 0  # notifications received for a watched topic
        self.checks = 0  # checks run
        self.check_errors = 0

    @property
    def mode(self) -> str:
        """``redis``: subscribed; ``polling``: re-checking every ``poll_s`` on its own."""
        return "redis" if self._link is not None and self._link.state == "up" else "polling"

    @property
    def redis(self) -> RedisLink | None:
        """The link to Redis, if one is configured."""
        return self._link

    def watch(self, topic: str, check: Check) -> None:
        """Run ``check`` (an async re-check of the topic's version) on each notification."""
        self._checks[topic] = check

    def status(self) -> dict[str, Any]:
        """For /readyz: reported, not required (polling still converges)."""
        link, mode = self._link, self.mode
        return {
            "mode": mode,
            "redis": link.where if link else None,
            "channel": self.settings.channel,
            "since": round(link.since if link else self._since, 3),
            "error": (link.error or None) if link else "no Redis configured",
            "messages": self.messages,
            "checks": self.checks,
            "check_errors": self.check_errors,
            "recheck_every_s": (
                self.settings.poll_s if mode == "polling" else self.settings.recheck_s
            ),
        }

    async def start(self) -> None:
        """Subscribe now (so /readyz is right from the start), then keep going in the background."""
        pubsub = await self._subscribe() if self._link is not None else None
        self._tasks = [
            asyncio.create_task(self._run(pubsub), name="jointgate-notify"),
            asyncio.create_task(self._work(), name="jointgate-notify-checks"),
        ]

    async def publish(self, topic: str) -> bool:
        """Tell every replica (this one included) to re-check ``topic``; False if Redis is away."""
        if self._link is None:
            return False
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                await self._link.client.publish(self.settings.channel, _message(topic, self.origin))
        except UNAVAILABLE as exc:
            log.warning("change notification for %s not sent (%s)", topic, describe(exc))
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
        if self._link is not None:
            await self._link.aclose()

    async def _subscribe(self) -> PubSub | None:
        assert self._link is not None
        pubsub = self._link.client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._link.attempt(lambda: pubsub.subscribe(self.settings.channel))
        except RedisAway:
            await _close(pubsub)
            return None
        self.recheck()  # whatever changed while we were not listening
        return pubsub

    async def _run(self, pubsub: PubSub | None) -> None:
        link = self._link
        while True:
            if pubsub is not None:
                assert link is not None
                try:
                    await self._listen(pubsub)
                except UNAVAILABLE as exc:
                    link.failed(exc)
                finally:
                    await _close(pubsub)
                pubsub = None
            while link is None or not link.due():
                await asyncio.sleep(self.settings.poll_s)
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
                    log.warning("re-checking %s failed: %s", topic, describe(exc))


async def _close(pubsub: PubSub) -> None:
    with contextlib.suppress(*UNAVAILABLE):
        await pubsub.aclose()


def announce(settings: NotifySettings, topic: str, *, origin: str = "cli") -> bool:
    """Publish one change notification from a command-line tool (synchronous, bounded by
    ``timeout_s``); False if Redis is not configured or unreachable: replicas then see the
    change at their next periodic re-check."""
    url = settings.redis_url
    if not url:
        return False
    client = connect_sync(url, settings.redis_password_env, settings.timeout_s)
    try:
        client.publish(settings.channel, _message(topic, origin))
    except UNAVAILABLE as exc:
        log.warning("change notification for %s not sent (%s)", topic, describe(exc))
        return False
    finally:
        client.close()
    return True
