"""A Redis cache of agency records, for registry data only, shared by every replica.

    loaders ─▶ CachingConnector.fetch_many(kind, by, keys, fields)
                 ├─ cacheable? (a cached kind, looked up by its own key, only registry fields)
                 │    MGET one entry per key ─▶ entries holding every asked field: hits
                 ├─ the rest ─▶ the agency (exactly the asked fields, as without a cache)
                 └─ SET the registry part of what came back, with the kind's TTL

What is cached, and why it cannot leak across users:

- Only fields whose category is ``registry`` with sensitivity 0, of kinds whose own key is such a
  field (``market`` enterprises today; :func:`registry_fields` derives it from the schema), and
  only records without links to cases and below handling code H3 (their labels would say more
  than registry data). Sensitive categories cannot be configured (ConfigError naming the key).
- An entry is a raw agency record (registry fields plus key and labels) per (agency, kind, key),
  with the list of fields it holds; nothing about who asked or what was decided. The Redis key
  is ``PREFIX AGENCY:KIND:`` and a keyed hash of the record key: no principal, no field value.
- Need-to-know is decided before the fetch: the loaders ask for the plan's fields only. A hit is
  served only if the entry holds every asked field, and is cut down to exactly those fields, so a
  caller gets from the cache what the agency would have answered; the record filter and the
  object builder then apply to it exactly as to a fetched record.
- Redis away: the cache is bypassed (never a failed request); checked again in the background
  every ``retry_s`` (gateway/redis.py).

``stats()`` gives hits, misses and the hit ratio (for ``/readyz`` and the metrics).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from connectors.base import LABEL_FIELDS, Connector, Grouped, Page, Record
from connectors.memory import project
from gateway.cache_settings import CACHEABLE_CATEGORIES, CacheSettings, ttl_key
from gateway.redis import RedisAway, RedisLink
from schema.base import SPECS_BY_NAME, Shape

if TYPE_CHECKING:
    from schema.catalog import Catalog, FieldResource

__all__ = [
    "CACHEABLE_CATEGORIES",
    "CacheRule",
    "CachedGroups",
    "CachingConnector",
    "RecordCache",
    "registry_fields",
]

log = logging.getLogger("jointgate.cache")


@dataclass(frozen=True, slots=True)
class CacheRule:
    """One cached kind: the agency-side fields an entry may hold, and for how long."""

    fields: frozenset[str]
    ttl_s: float


def registry_fields(catalog: Catalog) -> dict[tuple[str, str], frozenset[str]]:
    """(agency, kind) -> the agency-side fields (dotted inside embedded lists) that are registry
    data, for kinds whose own key is registry data; the names the analyzer asks connectors for."""
    by_type: dict[str, list[FieldResource]] = {}
    for resource in catalog.values():
        by_type.setdefault(resource.type_name, []).append(resource)

    def cacheable(resource: FieldResource) -> bool:
        return resource.category.value in CACHEABLE_CATEGORIES and resource.sensitivity == 0

    def values(type_name: str, prefix: str) -> tuple[set[str], bool]:
        """The cacheable paths of a type's values, and whether every value is cacheable."""
        paths: set[str] = set()
        complete = True
        for resource in by_type.get(type_name, ()):
            if resource.shape is Shape.LINK:
                continue
            if not cacheable(resource) or resource.source is None:
                complete = False
                continue
            if resource.shape is Shape.ATTR:
                paths.add(prefix + resource.source)
                continue
            inner, whole = values(resource.target or "", f"{prefix}{resource.source}.")
            paths |= inner
            if whole:  # the list asked for as a whole (no sub-fields) holds nothing else
                paths.add(prefix + resource.source)
            else:
                complete = False
        return paths, complete

    out: dict[tuple[str, str], frozenset[str]] = {}
    for type_name, spec in SPECS_BY_NAME.items():
        if spec.kind is None:
            continue
        key = next((r for r in by_type.get(type_name, ()) if r.python_name == spec.key), None)
        if key is None or not cacheable(key):
            continue
        out[(spec.agency, spec.kind)] = frozenset(values(type_name, "")[0])
    return out


def _holds(held: frozenset[str], wanted: str) -> bool:
    return wanted in held or wanted.partition(".")[0] in held


class CachedGroups(dict[str, list[Record]]):
    """``Grouped`` that says whether the agency was asked at all (for the audit record)."""

    from_cache: bool = False


class RecordCache:
    """Entries in Redis and the hit/miss counters; wraps connectors with :meth:`wrap`."""

    def __init__(
        self,
        settings: CacheSettings,
        hash_key: bytes,
        rules: Mapping[str, Mapping[str, CacheRule]],
    ) -> None:
        assert settings.redis_url, "resolve the settings first; no Redis, no cache"
        self.settings = settings
        self.rules = rules
        self._hash_key = hash_key
        self.link = RedisLink(
            settings.redis_url,
            settings.redis_password_env,
            service="record cache",
            log=log,
            timeout_s=settings.timeout_s,
            retry_s=settings.retry_s,
            away="bypassed",
            back="cache in use again",
        )
        self.client = self.link.client
        self._counts: dict[str, dict[str, int]] = {
            agency: {"hits": 0, "misses": 0, "bypassed": 0, "stored": 0} for agency in rules
        }

    @classmethod
    def build(
        cls, settings: CacheSettings, hash_key: bytes, catalog: Catalog
    ) -> RecordCache | None:
        """The cache for the configured agencies, or None if nothing is to be cached."""
        if not settings.enabled:
            return None
        found = registry_fields(catalog)
        rules: dict[str, dict[str, CacheRule]] = {}
        for (agency, category), ttl in settings.ttl_s.items():
            kinds = {k: f for (a, k), f in found.items() if a == agency}
            if not kinds:
                log.warning(
                    "cache.%s: %s has no records made of %s data only; nothing cached for it",
                    ttl_key(agency, category), agency, category,
                )  # fmt: skip
            for kind, fields in kinds.items():
                rules.setdefault(agency, {})[kind] = CacheRule(fields, ttl)
        return cls(settings, hash_key, rules) if rules else None

    def wrap(self, connectors: Mapping[str, Connector]) -> dict[str, Connector]:
        """The connectors, those of cached agencies behind a :class:`CachingConnector`."""
        return {
            name: CachingConnector(c, self, self.rules[name]) if name in self.rules else c
            for name, c in connectors.items()
        }

    @property
    def mode(self) -> str:
        """``redis``: in use; ``bypass``: Redis unreachable, every lookup goes to the agency."""
        return "bypass" if self.link.away else "redis"

    def stats(self) -> dict[str, Any]:
        """Counters since start, for /readyz and the metrics exporter."""
        totals = {
            name: sum(c[name] for c in self._counts.values())
            for name in ("hits", "misses", "bypassed", "stored")
        }
        looked_up = totals["hits"] + totals["misses"]
        return {
            "mode": self.mode,
            **totals,
            "hit_ratio": round(totals["hits"] / looked_up, 4) if looked_up else None,
            "errors": self.link.failures,
            "error": self.link.error or None,
            "agencies": {
                agency: {**self._counts[agency], "kinds": sorted(kinds)}
                for agency, kinds in self.rules.items()
            },
        }

    def key(self, agency: str, kind: str, record_key: str) -> str:
        digest = hashlib.blake2b(
            record_key.encode(), key=self._hash_key, digest_size=16, person=b"jg-cache"
        ).hexdigest()
        return f"{self.settings.key_prefix}{agency}:{kind}:{digest}"

    def count(self, agency: str, what: str, n: int) -> None:
        self._counts[agency][what] += n

    async def get(self, keys: Sequence[str]) -> list[bytes | None] | None:
        """The entries (None where absent), or None if Redis cannot be used now."""
        try:
            found: list[Any] = await self.link.run(lambda: self.client.mget(keys))
        except RedisAway:
            return None
        return found

    async def put(self, entries: Sequence[tuple[str, bytes, float]]) -> bool:
        """Store (key, entry, TTL) triples; a failure only means they are not cached."""
        if not entries:
            return False

        async def store() -> object:
            pipe = self.client.pipeline(transaction=False)
            for key, entry, ttl in entries:
                pipe.set(key, entry, px=max(1, round(ttl * 1000)))
            return await pipe.execute()

        try:
            await self.link.run(store)
        except RedisAway:
            return False
        return True

    async def aclose(self) -> None:
        await self.link.aclose()


class CachingConnector(Connector):
    """An agency's connector behind the record cache; the same contract, fewer agency calls."""

    def __init__(
        self, inner: Connector, cache: RecordCache, rules: Mapping[str, CacheRule]
    ) -> None:
        self.inner = inner
        self.agency = inner.agency  # type: ignore[misc]
        self.lookups = inner.lookups  # type: ignore[misc]
        self.cache = cache
        self.rules = rules

    async def fetch_many(
        self,
        kind: str,
        by: str,
        keys: Sequence[str],
        fields: frozenset[str],
        limit_per_key: int | None = None,
    ) -> Grouped:
        rule = self.rules.get(kind)
        own_key = by == self.lookups.get(kind, ("",))[0]
        if rule is None or not own_key or limit_per_key is not None:
            return await self.inner.fetch_many(kind, by, keys, fields, limit_per_key)
        unique = list(dict.fromkeys(keys))
        if not all(_holds(rule.fields, f) for f in fields):
            # some asked field is not registry data: the agency answers it all; its registry
            # part is still worth keeping for the next caller
            self.cache.count(self.agency, "bypassed", len(unique))
            grouped = await self.inner.fetch_many(kind, by, keys, fields, limit_per_key)
            await self._store(kind, rule, grouped, fields)
            return grouped
        cache_keys = [self.cache.key(self.agency, kind, k) for k in unique]
        entries = await self.cache.get(cache_keys)
        if entries is None:
            self.cache.count(self.agency, "bypassed", len(unique))
            return await self.inner.fetch_many(kind, by, keys, fields, limit_per_key)
        always = (self.lookups[kind][0], by, *LABEL_FIELDS)
        hits: dict[str, list[Record]] = {}
        for key, raw in zip(unique, entries, strict=True):
            entry = _entry(raw)
            if entry is not None and all(_holds(entry[0], f) for f in fields):
                hits[key] = [self.record(kind, project(d, fields, always)) for d in entry[1]]
        missing = [k for k in unique if k not in hits]
        self.cache.count(self.agency, "hits", len(hits))
        self.cache.count(self.agency, "misses", len(missing))
        out = CachedGroups(hits)
        if missing:
            fetched = await self.inner.fetch_many(kind, by, missing, fields, limit_per_key)
            await self._store(kind, rule, fetched, fields)
            out.update(fetched)
        else:
            out.from_cache = True
        for key in keys:
            out.setdefault(key, [])
        return out

    async def _store(
        self, kind: str, rule: CacheRule, grouped: Grouped, asked: frozenset[str]
    ) -> None:
        held = frozenset(f for f in asked if _holds(rule.fields, f))
        always = (self.lookups[kind][0], *LABEL_FIELDS)
        entries = []
        for key, records in grouped.items():
            if not records or not all(_storable(r) for r in records):
                continue  # absent keys are not cached; nor is a group missing a record
            entry = {"f": sorted(held), "r": [project(r.data, held, always) for r in records]}
            entries.append((self.cache.key(self.agency, kind, key), orjson.dumps(entry),
                            rule.ttl_s))  # fmt: skip
        if await self.cache.put(entries):
            self.cache.count(self.agency, "stored", len(entries))

    async def search(
        self, kind: str, text: str, fields: frozenset[str], first: int, after: str | None
    ) -> Page:
        return await self.inner.search(kind, text, fields, first, after)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def status(self) -> dict[str, Any]:
        return self.inner.status()


def _storable(record: Record) -> bool:
    """Records whose labels are about registry data only: no case links, not H3."""
    return not record.labels.cases and record.labels.handling != "H3"


def _entry(raw: bytes | None) -> tuple[frozenset[str], list[dict[str, Any]]] | None:
    if raw is None:
        return None
    try:
        entry = orjson.loads(raw)
        return frozenset(entry["f"]), list(entry["r"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None  # written by another version: a miss, overwritten by the fetch
