"""The lead events' bus: each change of the joint office's work reaches every subscriber on
every replica, once.

    OfficeDesk (a committed change) ─▶ EventBus.publish(event)
        ├─▶ this replica's subscribers, at once (even while Redis is away)
        └─▶ PUBLISH <channel> {"origin": ..., "event": {...}}
              every other replica: SUBSCRIBE <channel> ─▶ its subscribers

An event carries no personal data (``kernel.workflow.LeadEvent``: ids, states, the acting
agency): each subscription reads the lead itself, under its subscriber's need-to-know
(gateway/subscriptions.py). Each replica delivers an event once: the ids of the events it has
delivered lately are kept (:attr:`EventBus.SEEN`), so its own events coming back from Redis, or
one relayed twice, are dropped.

Redis going away (gateway/redis.py's :class:`RedisLink`, as the change notifications use it) is
logged once, reported in /readyz (:meth:`EventBus.status`) and in the metrics
(``jointgate_redis_up{service="events"}``); meanwhile this replica's own subscribers still get
its events, and up to ``backlog`` events wait to be relayed to the others once Redis is back.
Pub/sub delivers at most once: an event lost between replicas is not repeated (a subscriber
that must not miss one reads ``leads`` after reconnecting).

:meth:`EventBus.publish` may be called from any thread (the desk commits in worker threads):
delivery happens on the event loop the bus was started on.

:class:`OverdueSweep` is the gateway's periodic task (``subscriptions.overdue_sweep_s``) that
has the desk claim the major events past their reporting deadline (each once across replicas),
announces each as ``MAJOR_OVERDUE``, logs it on ``jointgate.office`` and counts the overdue
ones for the metric ``jointgate_major_events_overdue``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, runtime_checkable

import orjson
from redis.asyncio.client import PubSub

from gateway.redis import UNAVAILABLE, RedisAway, RedisLink, describe
from gateway.subscription_settings import SubscriptionSettings
from kernel.lru import LRU
from kernel.workflow import LeadEvent

__all__ = ["EventBus", "Listener", "OverdueSweep", "Sweeper"]

log = logging.getLogger("jointgate.events")
office_log = logging.getLogger("jointgate.office")

Listener = Callable[[LeadEvent], None]


class EventBus:
    """This replica's subscribers, and the other replicas through Redis pub/sub."""

    SEEN = 10_000  # event ids remembered to deliver each once

    def __init__(self, settings: SubscriptionSettings, *, origin: str = "") -> None:
        assert settings.redis_url is not None, "resolve the settings first (resolved())"
        self.settings = settings
        # this bus alone (workers on one host share its name, replicas may share a log id)
        self.origin = f"{origin or socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._listeners: dict[int, Listener] = {}
        self._next = 0
        self._seen: LRU[str, None] = LRU(self.SEEN)
        self._backlog: collections.deque[bytes] = collections.deque(maxlen=settings.backlog)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._link: RedisLink | None = None
        if settings.redis_url:
            self._link = RedisLink(
                settings.redis_url,
                settings.redis_password_env,
                service="lead events",
                log=log,
                timeout_s=settings.timeout_s,
                retry_s=settings.retry_s,
                away="events reach this replica's subscribers only",
                back="events shared between replicas again",
                deadline_s=settings.timeout_s * 2,
                reply_timeout=False,  # a subscriber waits for messages
                health_check_interval=10,
                client_name=f"jointgate-events-{self.origin}"[:64].replace(" ", "-"),
            )
        self.published = 0  # events published here
        self.received = 0  # events received from other replicas
        self.duplicates = 0  # events dropped as delivered already
        self.dropped = 0  # events not relayed (backlog full while Redis was away)
        self.by_kind: dict[str, int] = {}  # events delivered on this replica, by kind

    @property
    def redis(self) -> RedisLink | None:
        return self._link

    @property
    def mode(self) -> str:
        """``redis``: shared with the other replicas; ``local``: this replica only."""
        return "redis" if self._link is not None and self._link.state == "up" else "local"

    def status(self) -> dict[str, Any]:
        """For /readyz: reported, not required (local delivery goes on without Redis)."""
        link = self._link
        return {
            "mode": self.mode,
            "redis": link.where if link else None,
            "channel": self.settings.channel,
            "error": (link.error or None) if link else "no Redis configured",
            "listeners": len(self._listeners),
            "published": self.published,
            "received": self.received,
            "waiting": len(self._backlog),
            "dropped": self.dropped,
        }

    # --- subscribers ------------------------------------------------------------------------

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` (on the event loop; it must not block) for every event from
        now on; returns the function that stops it."""
        key, self._next = self._next, self._next + 1
        self._listeners[key] = listener

        def stop() -> None:
            self._listeners.pop(key, None)

        return stop

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    # --- publishing -------------------------------------------------------------------------

    def publish(self, event: LeadEvent) -> None:
        """Deliver ``event`` here and relay it to the other replicas; from any thread. Before
        :meth:`start` (tools, tests without a loop): delivered here only."""
        loop = self._loop
        if loop is None or threading.get_ident() == self._thread:
            self._publish(event)
        else:
            loop.call_soon_threadsafe(self._publish, event)

    def _publish(self, event: LeadEvent) -> None:
        if not self._deliver(event):
            return
        self.published += 1
        if self._link is None or self._loop is None:
            return
        message = orjson.dumps({"origin": self.origin, "event": event.as_json()})
        self._keep(message) if self._link.away else self._send(message)

    def _send(self, message: bytes) -> None:
        task = asyncio.create_task(self._relay(message))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _relay(self, message: bytes) -> None:
        assert self._link is not None
        link = self._link
        try:
            await link.run(lambda: link.client.publish(self.settings.channel, message))
        except RedisAway:
            self._keep(message)

    def _keep(self, message: bytes) -> None:
        if len(self._backlog) == self._backlog.maxlen:
            self.dropped += 1
            if self._backlog.maxlen == 0:
                return
        self._backlog.append(message)

    def _deliver(self, event: LeadEvent) -> bool:
        """To this replica's listeners, unless delivered already; False if it was."""
        if event.event_id in self._seen:
            self.duplicates += 1
            return False
        self._seen[event.event_id] = None
        self.by_kind[event.kind.value] = self.by_kind.get(event.kind.value, 0) + 1
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:  # one subscriber's bug does not keep the event from the others
                log.exception("a lead event listener failed")
        return True

    # --- the Redis side ---------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to the running loop, subscribe (so /readyz is right from the start), then keep
        the subscription in the background."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        if self._link is None:
            return
        pubsub = await self._subscribe()
        self._tasks = [asyncio.create_task(self._run(pubsub), name="jointgate-events")]

    async def aclose(self) -> None:
        for task in [*self._tasks, *self._sending]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._sending, return_exceptions=True)
        self._tasks = []
        if self._link is not None:
            await self._link.aclose()
        self._loop = None

    async def _subscribe(self) -> PubSub | None:
        assert self._link is not None
        pubsub = self._link.client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._link.attempt(lambda: pubsub.subscribe(self.settings.channel))
        except RedisAway:
            await _close(pubsub)
            return None
        await self._flush()
        return pubsub

    async def _flush(self) -> None:
        """Relay what waited while Redis was away, oldest first."""
        link = self._link
        assert link is not None
        while self._backlog:
            message = self._backlog[0]
            try:
                await link.attempt(partial(link.client.publish, self.settings.channel, message))
            except RedisAway:
                return
            self._backlog.popleft()

    async def _run(self, pubsub: PubSub | None) -> None:
        link = self._link
        assert link is not None
        while True:
            if pubsub is not None:
                try:
                    await self._listen(pubsub)
                except UNAVAILABLE as exc:
                    link.failed(exc)
                finally:
                    await _close(pubsub)
                pubsub = None
            await asyncio.sleep(self.settings.retry_s)  # RedisLink.due() by then
            pubsub = await self._subscribe()

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None and message.get("type") == "message":
                self._received(message.get("data"))
            if self._backlog:
                await self._flush()

    def _received(self, data: Any) -> None:
        try:
            body = orjson.loads(data)
            event = LeadEvent.from_json(body["event"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("a lead event from Redis could not be read (%s)", describe(exc))
            return
        if body.get("origin") == self.origin:
            return  # our own, delivered when published
        if self._deliver(event):
            self.received += 1


async def _close(pubsub: PubSub) -> None:
    with contextlib.suppress(*UNAVAILABLE):
        await pubsub.aclose()


@runtime_checkable
class Sweeper(Protocol):
    """What the overdue sweep needs of the desk (office.desk.OfficeDesk)."""

    def sweep_overdue(self, now: float) -> Any: ...  # (awaitable) LeadEvents newly overdue
    def overdue_count(self, now: float) -> Any: ...  # (awaitable) int


class OverdueSweep:
    """Every ``overdue_sweep_s``: the desk claims the major events that have just passed their
    reporting deadline (each once, across replicas: one replica's claim wins), each is
    announced as ``MAJOR_OVERDUE`` to every subscriber and logged as a warning on
    ``jointgate.office``; and the number overdue now is counted for the metrics."""

    def __init__(
        self,
        desk: Sweeper,
        bus: EventBus,
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.desk, self.bus, self.interval_s, self.clock = desk, bus, interval_s, clock
        self.count: int | None = None  # overdue now, as last counted; None: not yet
        self.failures = 0

    async def sweep(self) -> list[LeadEvent]:
        now = self.clock()
        events = list(await _maybe(self.desk.sweep_overdue(now)))
        for event in events:
            self.bus.publish(event)  # the desk published it already: delivered once all the same
            office_log.warning(
                "major event overdue: lead %s was not acknowledged by its reporting deadline",
                event.lead_id,
                extra={"lead_id": event.lead_id, "event_id": event.event_id},
            )
        self.count = int(await _maybe(self.desk.overdue_count(now)))
        return events

    async def run_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # a database hiccup: the next sweep tries again
                self.failures += 1
                office_log.warning("the overdue sweep failed (%s)", describe(exc))
            await asyncio.sleep(self.interval_s)


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
