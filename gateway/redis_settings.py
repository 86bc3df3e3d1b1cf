"""What the settings of every service that reaches Redis share (rate limits, notifications, the
record cache): the URL check, and taking the rate limiter's Redis where a table names none."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

from kernel.settings import Info, Refused, context, optional, string

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url(value: Any, info: Info) -> str:
    """A redis://, rediss:// or unix:// URL without a password, or "" (none); from code (no
    validation context) as given."""
    url = string(value)
    if not url or not context(info):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise Refused(f'a redis://, rediss:// or unix:// URL, or "", got {url!r}')
    query = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if parts.password or "password" in query:
        raise Refused("secrets are not read from the config; use redis_password_env")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise Refused(f"the port must be a number from 0 to 65535, got {url!r}") from None
    return url


def optional_redis_url(value: Any, info: Info) -> str | None:
    return None if value is None else redis_url(value, info)


optional_string = optional(string)


def not_empty(value: Any) -> str:
    if not string(value):
        raise Refused("must not be empty")
    return str(value)


class RedisHome(Protocol):
    """The Redis the others default to: ``[rate_limits]``."""

    @property
    def redis_url(self) -> str: ...

    @property
    def redis_password_env(self) -> str: ...


_Settings = TypeVar("_Settings")


def with_redis_of(settings: _Settings, home: RedisHome) -> _Settings:
    """``settings`` with the Redis URL and password variable it leaves unset (None) taken from
    ``home``: one Redis for every service unless told otherwise."""
    url: str | None = getattr(settings, "redis_url")  # noqa: B009
    password: str | None = getattr(settings, "redis_password_env")  # noqa: B009
    return dataclasses.replace(
        settings,  # type: ignore[type-var]
        redis_url=home.redis_url if url is None else url,
        redis_password_env=home.redis_password_env if password is None else password,
    )
