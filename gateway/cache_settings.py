"""The ``[cache]`` table (docs/cache.md): registry records shared in Redis, off unless some
``registry_AGENCY_ttl_s`` is set; gateway/record_cache.py keeps them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

from pydantic.dataclasses import dataclass

from gateway.redis_settings import (
    RedisHome,
    not_empty,
    optional_redis_url,
    optional_string,
    with_redis_of,
)
from kernel.settings import TABLE, Positive, Refused, Table, check, setting

AGENCIES = ("police", "market", "banking", "courts")
CACHEABLE_CATEGORIES = ("registry",)


def ttl_key(agency: str, category: str) -> str:
    """The ``[cache]`` key of one agency's category: ``registry_market_ttl_s``."""
    return f"{category}_{agency}_ttl_s"


def _ttl(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise Refused(f"seconds >= 0 (0: not cached), got {value!r}")
    return float(value)


TTL = Annotated[float, check(_ttl)]
_TTL_DOC = "seconds {agency} registry records stay in the shared cache; `0`: not cached"


@dataclass(frozen=True, slots=True, config=TABLE)
class CacheSettings(Table):
    """The ``[cache]`` table; any category but registry is refused (docs/cache.md)."""

    NAME = "cache"

    registry_police_ttl_s: TTL = setting(0.0, _TTL_DOC.format(agency="the police's"))
    registry_market_ttl_s: TTL = setting(0.0, _TTL_DOC.format(agency="the market regulator's"))
    registry_banking_ttl_s: TTL = setting(0.0, _TTL_DOC.format(agency="the banking system's"))
    registry_courts_ttl_s: TTL = setting(0.0, _TTL_DOC.format(agency="the courts'"))
    redis_url: Annotated[str | None, check(optional_redis_url)] = setting(
        None, 'the cache\'s Redis; `""`: no cache', shown="`rate_limits.redis_url`"
    )
    redis_password_env: Annotated[str | None, check(optional_string)] = setting(
        None,
        "environment variable holding that Redis's password",
        shown="`rate_limits.redis_password_env`",
    )
    key_prefix: Annotated[str, check(not_empty)] = setting(
        "jointgate:cache:", "prefix of the cache's Redis keys"
    )
    timeout_s: Annotated[float, Positive] = setting(
        0.05, "per Redis call; a dead Redis costs this once per `retry_s`"
    )
    retry_s: Annotated[float, Positive] = setting(
        2.0, "how long a failed Redis is bypassed before it is tried again"
    )

    @property
    def ttl_s(self) -> Mapping[tuple[str, str], float]:
        """(agency, category) -> seconds, for the kinds that are cached."""
        return MappingProxyType(
            {
                (agency, category): ttl
                for agency in AGENCIES
                for category in CACHEABLE_CATEGORIES
                if (ttl := getattr(self, ttl_key(agency, category))) > 0
            }
        )

    @property
    def enabled(self) -> bool:
        return bool(self.ttl_s) and self.redis_url != ""

    @classmethod
    def unknown_key(cls, key: str) -> str | None:
        from schema.base import Category  # start-up: strawberry only when a key is wrong

        category, _, rest = key.partition("_")
        agency = rest.removesuffix("_ttl_s")
        categories = [c.value for c in Category]
        if key.endswith("_ttl_s") and agency in AGENCIES and category in categories:
            return (
                f"{category} data is sensitive and never cached; only"
                f" {', '.join(CACHEABLE_CATEGORIES)} data can be (docs/cache.md)"
            )
        return None

    def resolved(self, rate_limits: RedisHome) -> CacheSettings:
        """Unset Redis settings taken from ``[rate_limits]``."""
        return with_redis_of(self, rate_limits)
