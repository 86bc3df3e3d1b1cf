"""The ``[subscriptions]`` table (docs/subscriptions.md): the live events of the joint office's
work, their way between replicas (gateway/events.py) and the WebSocket endpoint that delivers
them (gateway/subscriptions.py); also how often the overdue major events are swept."""

from __future__ import annotations

from typing import Annotated

from pydantic.dataclasses import dataclass

from gateway.redis_settings import (
    RedisHome,
    not_empty,
    optional_redis_url,
    optional_string,
    with_redis_of,
)
from kernel.settings import TABLE, Flag, Positive, Table, check, setting, whole


@dataclass(frozen=True, slots=True, config=TABLE)
class SubscriptionSettings(Table):
    """The ``[subscriptions]`` table: GraphQL subscriptions over WebSocket."""

    NAME = "subscriptions"

    enabled: Annotated[bool, Flag] = setting(
        True, "accept WebSocket connections at `/graphql` (subprotocol `graphql-transport-ws`)"
    )
    redis_url: Annotated[str | None, check(optional_redis_url)] = setting(
        None,
        'the Redis whose pub/sub carries lead events between replicas; `""`: none (each replica'
        " delivers only the events of its own changes)",
        shown="`rate_limits.redis_url`",
    )
    redis_password_env: Annotated[str | None, check(optional_string)] = setting(
        None,
        "environment variable holding that Redis's password",
        shown="`rate_limits.redis_password_env`",
    )
    channel: Annotated[str, check(not_empty)] = setting(
        "jointgate:lead-events", "pub/sub channel of the lead events; the same on every replica"
    )
    timeout_s: Annotated[float, Positive] = setting(
        0.5, "connecting, subscribing and publishing to Redis"
    )
    retry_s: Annotated[float, Positive] = setting(
        2.0, "how often to try Redis again while it is unreachable"
    )
    backlog: Annotated[int, whole(0)] = setting(
        1000,
        "events kept while Redis is unreachable, relayed to the other replicas once it is back"
        " (the oldest are dropped beyond this)",
    )
    init_timeout_s: Annotated[float, Positive] = setting(
        10.0, "a client must send `connection_init` within this, else close 4408"
    )
    max_per_connection: Annotated[int, whole(1)] = setting(
        20, "subscriptions open at once on one connection; one more: close 4429"
    )
    queue: Annotated[int, whole(1)] = setting(
        256,
        "events waiting for one slow subscriber; beyond this the subscription ends with an"
        " error (it would miss events otherwise)",
    )
    overdue_sweep_s: Annotated[float, Positive] = setting(
        60.0,
        "how often a replica looks for major events past their reporting deadline (each is"
        " announced once, by one replica)",
    )

    def resolved(self, rate_limits: RedisHome) -> SubscriptionSettings:
        """Unset Redis settings taken from ``[rate_limits]``: one Redis unless told otherwise."""
        return with_redis_of(self, rate_limits)
