"""A least-recently-used map, the one every in-process cache of the house is made of.

    cache: LRU[str, Plan] = LRU(4096)
    plan = cache.get(key)          # a hit makes the entry the most recently used
    if plan is None:
        cache[key] = plan = build()  # the least recently used entry goes beyond 4096

An ``OrderedDict`` inside, so a hit and an eviction are O(1) (a plain dict evicting from its
front slows down as deleted slots pile up there). ``maxsize=None`` keeps everything; a caller
then trims by age with :meth:`oldest` and :meth:`pop_oldest` (the rate limiter's sliding
windows, ordered by when a member was last seen). Not thread-safe, like the dicts it replaces:
each cache lives on one event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, ItemsView, Iterator, ValuesView
from typing import Generic, TypeVar, cast, overload

__all__ = ["LRU"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")

_MISSING = object()


class LRU(Generic[K, V]):
    """At most ``maxsize`` entries (None: no bound; 0: none kept), least recently used first."""

    __slots__ = ("_data", "maxsize")

    def __init__(self, maxsize: int | None) -> None:
        if maxsize is not None and maxsize < 0:
            raise ValueError(f"an LRU's maxsize is a count of entries, got {maxsize}")
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()

    @overload
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: D) -> V | D: ...
    def get(self, key: K, default: object = None) -> object:
        """The value (now the most recently used), or ``default``."""
        data = self._data
        value = data.get(key, _MISSING)
        if value is _MISSING:
            return default
        data.move_to_end(key)
        return value

    def peek(self, key: K) -> V | None:
        """The value without making it recently used."""
        return self._data.get(key)

    def __setitem__(self, key: K, value: V) -> None:
        """Insert or replace, as the most recently used; evict beyond ``maxsize``."""
        data = self._data
        size = len(data)
        data[key] = value
        if len(data) == size:  # replaced: move it up
            data.move_to_end(key)
        elif self.maxsize is not None and size >= self.maxsize:
            data.popitem(last=False)

    def setdefault(self, key: K, value: V) -> V:
        """The value held for ``key`` (now the most recently used), else ``value`` stored."""
        found = self.get(key, _MISSING)
        if found is _MISSING:
            self[key] = value
            return value
        return cast(V, found)

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def oldest(self) -> tuple[K, V] | None:
        """The least recently used entry, left where it is; None if empty."""
        data = self._data
        if not data:
            return None
        key = next(iter(data))
        return key, data[key]

    def pop_oldest(self) -> tuple[K, V]:
        """Remove and return the least recently used entry (KeyError if empty)."""
        return self._data.popitem(last=False)

    def values(self) -> ValuesView[V]:
        """Least recently used first."""
        return self._data.values()

    def items(self) -> ItemsView[K, V]:
        """Least recently used first."""
        return self._data.items()

    def clear(self) -> None:
        self._data.clear()

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __repr__(self) -> str:
        return f"LRU(maxsize={self.maxsize}, size={len(self._data)})"
