"""The ``[notifications]`` table (docs/deployment.md#change-propagation); gateway/notify.py
sends and receives the notifications."""

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
from kernel.settings import TABLE, Positive, Table, check, setting


@dataclass(frozen=True, slots=True, config=TABLE)
class NotifySettings(Table):
    """The ``[notifications]`` table: team and policy changes reach every replica."""

    NAME = "notifications"

    redis_url: Annotated[str | None, check(optional_redis_url)] = setting(
        None,
        'the Redis whose pub/sub announces team and policy changes; `""`: none (replicas poll'
        " the database)",
        shown="`rate_limits.redis_url`",
    )
    redis_password_env: Annotated[str | None, check(optional_string)] = setting(
        None,
        "environment variable holding that Redis's password",
        shown="`rate_limits.redis_password_env`",
    )
    channel: Annotated[str, check(not_empty)] = setting(
        "jointgate:changes", "pub/sub channel; the same on every replica and for the CLI"
    )
    poll_s: Annotated[float, Positive] = setting(
        1.0,
        "how often a replica re-checks teams and policy version in the database while Redis is"
        " unreachable",
    )
    recheck_s: Annotated[float, Positive] = setting(
        10.0, "the same while subscribed, in case a notification was lost"
    )
    timeout_s: Annotated[float, Positive] = setting(
        0.5, "connecting and subscribing (and the CLI's publish)"
    )
    retry_s: Annotated[float, Positive] = setting(2.0, "how often to try Redis again while polling")

    def resolved(self, rate_limits: RedisHome) -> NotifySettings:
        """Unset Redis settings taken from ``[rate_limits]``: one Redis unless told otherwise."""
        return with_redis_of(self, rate_limits)
