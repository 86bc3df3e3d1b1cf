"""The record cache on the real Redis: registry data only, hits only for entries holding every
asked field, need-to-know applied to hits as to fetched records, nothing about users in it, and
a dead Redis bypassed."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from connectors.memory import MemoryConnector
from gateway.cache_settings import CacheSettings
from gateway.record_cache import CachingConnector, RecordCache, registry_fields
from gateway.settings import from_mapping
from kernel.config import ConfigError
from policies.engine import DEFAULT_DIR
from schema.unified import build_schema
from tests.gateway.conftest import LOOKUPS, Harness, labels, open_harness, small_world, uscc

REDIS = "redis://127.0.0.1:6379/0"
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
CATALOG = build_schema().catalog
KEY = bytes(range(32))
BASE = {
    "auth": {"issuer": "https://idp.example", "audience": "jg", "jwks_url": "https://idp/j"},
    "agencies": {
        n: {
            "url": f"http://{n}.example",
            **({"key_env": "PATH"} if n == "banking" else {}),
            **({"institution": "B1", "password_env": "PATH"} if n == "credit" else {}),
        }
        for n in LOOKUPS
    },
}


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"jg-test:cache:{uuid.uuid4().hex[:10]}:"
    yield name
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=name + "*", count=1000):
        client.delete(key)
    client.close()


def stored_keys(prefix: str) -> list[str]:
    client = redis.Redis.from_url(REDIS)
    try:
        return sorted(k.decode() for k in client.scan_iter(match=prefix + "*", count=1000))
    finally:
        client.close()


def stored_entries(prefix: str) -> bytes:
    client = redis.Redis.from_url(REDIS)
    try:
        return b"".join(client.get(k) or b"" for k in stored_keys(prefix))
    finally:
        client.close()


def market(rows: list[dict[str, Any]] | None = None) -> MemoryConnector:
    return MemoryConnector(
        "market", LOOKUPS["market"], {"enterprise": rows or small_world()["market"]["enterprise"]}
    )


@pytest.fixture
async def cached(prefix: str) -> AsyncIterator[tuple[CachingConnector, MemoryConnector]]:
    settings = CacheSettings(registry_market_ttl_s=60, redis_url=REDIS, key_prefix=prefix)
    cache = RecordCache.build(settings, KEY, CATALOG)
    assert cache is not None
    inner = market()
    wrapped = cache.wrap({"market": inner})["market"]
    assert isinstance(wrapped, CachingConnector)
    yield wrapped, inner
    await cache.aclose()


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("financial_market_ttl_s", "cache.financial_market_ttl_s: financial data is sensitive"),
        ("criminal_police_ttl_s", "cache.criminal_police_ttl_s: criminal data is sensitive"),
        ("judicial_courts_ttl_s", "cache.judicial_courts_ttl_s: judicial data is sensitive"),
        ("identity_banking_ttl_s", "cache.identity_banking_ttl_s: identity data is sensitive"),
        ("registry_ttl_s", "cache.registry_ttl_s: unknown key"),
    ],
)
def test_sensitive_categories_are_refused_at_start_naming_the_key(key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_mapping({**BASE, "cache": {"registry_market_ttl_s": 60, key: 60}})


def test_the_cache_is_off_unless_a_registry_ttl_is_set() -> None:
    assert not from_mapping(BASE).cache.enabled
    settings = from_mapping({**BASE, "cache": {"registry_market_ttl_s": 300}}).cache
    assert settings.enabled and dict(settings.ttl_s) == {("market", "registry"): 300.0}
    assert from_mapping({**BASE, "cache": {"registry_market_ttl_s": 0}}).cache.ttl_s == {}
    with pytest.raises(ConfigError, match=r"cache\.redis_url: secrets are not read"):
        from_mapping({**BASE, "cache": {"redis_url": "redis://:pw@redis:6379/0"}})


def test_the_demo_caches_no_records(tmp_path: Path) -> None:
    """A hit tells a user that somebody looked the record up (docs/cache.md, "What a hit
    reveals"): the demo, where users try things on each other, never turns it on."""
    from commands.demo import demo_settings, prepare

    jwks, bank_key = prepare(tmp_path)
    settings = demo_settings("127.0.0.1", 0, tmp_path, jwks, bank_key, {})
    assert not settings.cache.ttl_s
    assert not settings.cache.resolved(settings.rate_limits).enabled


def test_only_registry_fields_of_kinds_keyed_by_registry_data_are_cacheable() -> None:
    found = registry_fields(CATALOG)
    assert set(found) == {("market", "enterprise")}  # a defaulter is keyed by a person's ID
    fields = found[("market", "enterprise")]
    assert {"uscc", "name", "registered_capital", "abnormal_operations",
            "abnormal_operations.reason", "shareholders.holder_name"} <= fields  # fmt: skip
    # identity data inside the registry record, a link's key, a list holding identity data
    assert not {"shareholders.holder_id", "legal_rep_id", "shareholders"} & fields


# --- the connector ---------------------------------------------------------------------------


async def test_a_second_lookup_is_a_hit_and_asks_the_agency_nothing(
    cached: tuple[CachingConnector, MemoryConnector],
) -> None:
    connector, inner = cached
    keys = [uscc(1), uscc(2)]
    first = await connector.fetch_many("enterprise", "uscc", keys, frozenset({"name", "status"}))
    second = await connector.fetch_many("enterprise", "uscc", keys, frozenset({"name"}))
    assert len(inner.calls) == 1
    assert getattr(second, "from_cache", False) and not getattr(first, "from_cache", False)
    assert [r.data for r in second[uscc(1)]] == [
        {"uscc": uscc(1), "name": "测试1号财富管理有限公司", "handling_code": "H0",
         "sensitivity": 0, "linked_cases": []}
    ]  # fmt: skip  # cut down to the asked field: no "status" although the entry holds it
    assert second[uscc(1)][0].labels == first[uscc(1)][0].labels
    stats = connector.cache.stats()
    assert (stats["hits"], stats["misses"], stats["hit_ratio"]) == (2, 2, 0.5)
    assert stats["agencies"]["market"]["kinds"] == ["enterprise"]


async def test_an_entry_without_an_asked_field_is_a_miss(
    cached: tuple[CachingConnector, MemoryConnector],
) -> None:
    connector, inner = cached
    await connector.fetch_many("enterprise", "uscc", [uscc(1)], frozenset({"name"}))
    wider = frozenset({"name", "registered_capital"})
    await connector.fetch_many("enterprise", "uscc", [uscc(1)], wider)
    assert [c[3] for c in inner.calls] == [frozenset({"name"}), wider]  # never more than asked
    await connector.fetch_many("enterprise", "uscc", [uscc(1)], wider)
    assert len(inner.calls) == 2


async def test_non_registry_fields_go_to_the_agency_and_only_registry_data_is_kept(
    cached: tuple[CachingConnector, MemoryConnector], prefix: str
) -> None:
    connector, inner = cached
    asked = frozenset(
        {"name", "legal_rep_id", "shareholders.holder_id", "shareholders.holder_name"}
    )
    await connector.fetch_many("enterprise", "uscc", [uscc(4)], asked)
    await connector.fetch_many("enterprise", "uscc", [uscc(4)], asked)
    assert len(inner.calls) == 2  # legal_rep_id is identity data: never answered from the cache
    entry = stored_entries(prefix)
    assert len(stored_keys(prefix)) == 1
    assert b"holder_name" in entry and b"holder_id" not in entry and b"legal_rep_id" not in entry
    hit = await connector.fetch_many(
        "enterprise", "uscc", [uscc(4)], frozenset({"shareholders.holder_name"})
    )
    assert len(inner.calls) == 2 and hit[uscc(4)][0].data["shareholders"] == [
        {"holder_name": "法人4"}
    ]


async def test_cache_keys_name_no_user_and_no_value(
    cached: tuple[CachingConnector, MemoryConnector], prefix: str
) -> None:
    connector, _ = cached
    await connector.fetch_many("enterprise", "uscc", [uscc(5)], frozenset({"name"}))
    (key,) = stored_keys(prefix)
    assert key.startswith(prefix + "market:enterprise:")
    assert uscc(5) not in key and "测试" not in key
    assert len(key.removeprefix(prefix + "market:enterprise:")) == 32  # a keyed hash only


async def test_records_linked_to_cases_or_handled_h3_are_never_cached(prefix: str) -> None:
    rows = [
        labels({"uscc": uscc(1), "name": "甲"}),
        {**labels({"uscc": uscc(2), "name": "乙"}), "linked_cases": ["J110105202600001"]},
        labels({"uscc": uscc(3), "name": "丙"}, handling="H3"),
    ]
    settings = CacheSettings(registry_market_ttl_s=60, redis_url=REDIS, key_prefix=prefix)
    cache = RecordCache.build(settings, KEY, CATALOG)
    assert cache is not None
    inner = market(rows)
    connector = cache.wrap({"market": inner})["market"]
    keys = [uscc(1), uscc(2), uscc(3), uscc(9)]  # 9: no such enterprise
    await connector.fetch_many("enterprise", "uscc", keys, frozenset({"name"}))
    assert len(stored_keys(prefix)) == 1
    await connector.fetch_many("enterprise", "uscc", keys, frozenset({"name"}))
    assert inner.calls[-1][2] == 3  # only the cached one was not asked again
    await cache.aclose()


async def test_other_lookups_and_search_pass_through(
    cached: tuple[CachingConnector, MemoryConnector], prefix: str
) -> None:
    connector, inner = cached
    await connector.fetch_many("enterprise", "legal_rep_id", ["x"], frozenset({"name"}))
    await connector.search("enterprise", "测试", frozenset({"name"}), 5, None)
    assert len(inner.calls) == 2 and stored_keys(prefix) == []


async def test_a_dead_redis_is_bypassed_without_failing(prefix: str) -> None:
    settings = CacheSettings(
        registry_market_ttl_s=60, redis_url=DEAD_REDIS, key_prefix=prefix, retry_s=60
    )
    cache = RecordCache.build(settings, KEY, CATALOG)
    assert cache is not None
    inner = market()
    connector = cache.wrap({"market": inner})["market"]
    for _ in range(3):
        got = await connector.fetch_many("enterprise", "uscc", [uscc(1)], frozenset({"name"}))
        assert got[uscc(1)][0].data["name"] == "测试1号财富管理有限公司"
    stats = cache.stats()
    assert stats["mode"] == "bypass" and stats["errors"] == 1  # not tried again within retry_s
    assert stats["hits"] == 0 and stats["bypassed"] == 3 and len(inner.calls) == 3
    await cache.aclose()


# --- through the gateway: the plan and the record filter still decide ---------------------------

FORBID_CAPITAL = """
@id("no-capital-for-courts-supervising-in-this-test")
forbid (principal, action == JointGate::Action::"read",
        resource == JointGate::Field::"Enterprise.registeredCapital")
when { principal.agency == "courts" && context.purpose == "supervision" };
"""  # other purposes allow it: the field stays in the clerk's schema, denied for supervision


async def test_a_hit_gives_a_user_only_what_the_plan_allows_them(
    tmp_path: Path, prefix: str
) -> None:
    policy_copy = tmp_path / "policies"
    policy_copy.mkdir()
    for path in [*DEFAULT_DIR.glob("*.cedar"), DEFAULT_DIR / "jointgate.cedarschema"]:
        shutil.copy(path, policy_copy)
    (policy_copy / "95-test.cedar").write_text(FORBID_CAPITAL)
    query = '{ enterprise(uscc: "%s") { name registeredCapital } }' % uscc(6)
    async with cached_harness(tmp_path / "data", prefix, policy_dir=policy_copy) as harness:
        market_calls = harness.agencies["market"].calls
        full = (await harness.query(query)).json()  # jit.member: both fields, now cached
        assert "errors" not in full and len(market_calls) == 1
        body = (await clerk(harness, query)).json()
        assert len(market_calls) == 1  # answered from the cache ...
        assert body["data"]["enterprise"] == {"name": full["data"]["enterprise"]["name"],
                                              "registeredCapital": None}  # fmt: skip
        assert [e["path"] for e in body["errors"]] == [["enterprise", "registeredCapital"]]
        assert harness.audit.records[-1].agency_calls[0].status == "cached"
        # ... and the entry the clerk was served held the capital: the plan cut it, not luck
        assert b"registered_capital" in stored_entries(prefix)
        assert _stats(harness)["hits"] == 1


async def test_a_hit_goes_through_the_record_filter(tmp_path: Path, prefix: str) -> None:
    async with cached_harness(tmp_path, prefix) as harness:
        for row in harness.agencies["market"]._records["enterprise"]:  # type: ignore[attr-defined]
            if row["uscc"] == uscc(7):
                row.update(handling_code="H2", sensitivity=3)  # above the court clerk's clearance
        query = '{ enterprise(uscc: "%s") { name } }' % uscc(7)
        seen = (await harness.query(query)).json()  # jit.member, clearance 3
        assert seen["data"]["enterprise"]["name"]
        hidden = (await clerk(harness, query)).json()
        assert hidden["data"]["enterprise"] is None
        assert hidden["errors"][0]["extensions"]["code"] == "FORBIDDEN_FIELD"
        assert len(harness.agencies["market"].calls) == 1 and _stats(harness)["hits"] == 1


async def clerk(harness: Harness, query: str) -> httpx.Response:
    return await harness.query(query, user="court.clerk", purpose="supervision", case=None)


@contextlib.asynccontextmanager
async def cached_harness(data_dir: Path, prefix: str, **settings: Any) -> AsyncIterator[Harness]:
    cache = CacheSettings(registry_market_ttl_s=60, key_prefix=prefix)
    async with open_harness(data_dir, cache=cache, **settings) as harness:
        try:
            yield harness
        finally:
            assert harness.gateway.cache is not None
            await harness.gateway.cache.aclose()


def _stats(harness: Harness) -> dict[str, Any]:
    assert harness.gateway.cache is not None
    return harness.gateway.cache.stats()
