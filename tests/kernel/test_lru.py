"""kernel/lru.py: the least-recently-used map every in-process cache is made of."""

from __future__ import annotations

import pytest

from kernel.lru import LRU


def test_a_hit_makes_an_entry_the_most_recently_used_and_the_oldest_goes_first() -> None:
    cache: LRU[str, int] = LRU(3)
    for i, key in enumerate("abc"):
        cache[key] = i
    assert cache.get("a") == 0  # a is now the most recent: b goes first
    cache["d"] = 3
    assert list(cache) == ["c", "a", "d"] and "b" not in cache and len(cache) == 3
    assert cache.get("b") is None and cache.get("b", -1) == -1


def test_replacing_a_value_refreshes_it_without_evicting() -> None:
    cache: LRU[str, int] = LRU(2)
    cache["a"], cache["b"] = 1, 2
    cache["a"] = 10
    assert list(cache.items()) == [("b", 2), ("a", 10)]
    cache["c"] = 3
    assert list(cache) == ["a", "c"]


def test_peek_and_membership_leave_the_order_alone() -> None:
    cache: LRU[str, int] = LRU(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.peek("a") == 1 and "a" in cache
    cache["c"] = 3
    assert list(cache) == ["b", "c"]


def test_setdefault_keeps_the_first_value() -> None:
    cache: LRU[str, str] = LRU(4)
    assert cache.setdefault("k", "first") == "first"
    assert cache.setdefault("k", "second") == "first"


def test_falsy_and_none_values_are_hits() -> None:
    cache: LRU[str, object] = LRU(2)
    cache["zero"], cache["none"] = 0, None
    assert cache.get("zero", "missing") == 0 and cache.get("none", "missing") is None
    cache.get("zero")
    cache["x"] = 1
    assert list(cache) == ["zero", "x"]


def test_unbounded_trimmed_by_the_caller_oldest_first() -> None:
    seen: LRU[bytes, float] = LRU(None)
    assert seen.oldest() is None and not seen
    for i in range(1000):
        seen[b"%d" % i] = float(i)
    seen[b"0"] = 2000.0  # seen again: now the newest
    assert len(seen) == 1000 and seen.oldest() == (b"1", 1.0)
    while (oldest := seen.oldest()) is not None and oldest[1] <= 500:
        seen.pop_oldest()
    assert next(iter(seen.values())) == 501.0 and list(seen)[-1] == b"0"
    assert seen.pop(b"0") == 2000.0 and seen.pop(b"0") is None
    seen.clear()
    assert len(seen) == 0
    with pytest.raises(KeyError):
        seen.pop_oldest()


def test_a_size_of_zero_keeps_nothing_and_a_negative_one_is_refused() -> None:
    cache: LRU[str, int] = LRU(0)
    cache["a"] = 1
    assert cache.get("a") is None and len(cache) == 0
    with pytest.raises(ValueError, match="count of entries"):
        LRU(-1)
