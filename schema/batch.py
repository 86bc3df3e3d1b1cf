"""A per-request batch loader: the keys asked for in one event-loop tick become one fetch.

It does what ``strawberry.dataloader.DataLoader(cache=True)`` does for ``schema/loaders.py``
(the same batches, in the same tick, every key fetched once per request) with less work per
key: a key is a dict entry in its batch, not a future of its own, and ``load_many`` waits once
for the batches its keys are in (usually one) instead of gathering a future per key. A root
list lookup of 100 identifiers therefore costs one waiter, not 100 futures and a gather.

Every caller waits on a future of its own, so a caller that is cancelled (a sibling field
failed, the request timed out) cancels nothing another caller waits for. The fetch runs as a
task started from the tick's first ``load`` (as DataLoader's dispatch does), so it inherits
that caller's context (the request deadline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["BatchLoader"]

V = TypeVar("V")

Fetch = Callable[[list[str]], Awaitable[Sequence["V | BaseException"]]]


class _Batch:
    """Keys collected in one tick; ``results`` is filled (key -> value or exception) once the
    fetch ends, ``error`` if the fetch itself failed."""

    __slots__ = ("error", "keys", "results", "waiters")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.results: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.waiters: list[asyncio.Future[None]] = []


class BatchLoader(Generic[V]):
    """``load(key)`` / ``load_many(keys)``; ``fetch(keys)`` answers a value or an exception
    per key, in the order of the keys (an exception raised by ``fetch`` fails every key)."""

    __slots__ = ("_fetch", "_known", "_open", "_tasks")

    def __init__(self, fetch: Fetch[V]) -> None:
        self._fetch = fetch
        self._known: dict[str, _Batch] = {}  # every key asked so far -> the batch it is in
        self._open: _Batch | None = None  # the batch of this tick, not yet dispatched
        self._tasks: set[asyncio.Task[None]] = set()  # running fetches (kept referenced)

    async def load(self, key: str) -> V:
        batch = self._known.get(key) or self._add([key])
        if batch.results is None and batch.error is None:
            await self._wait(batch)
        value: V = self._result(batch, key)
        return value

    async def load_many(self, keys: Sequence[str]) -> list[V]:
        """The values for ``keys`` in order; the first key's exception, if any, is raised."""
        known = self._known
        batches: list[_Batch] = []
        new: list[str] = []
        for key in keys:
            batch = known.get(key)
            if batch is None:
                new.append(key)
            elif batch not in batches:
                batches.append(batch)
        if new:
            batch = self._add(new)
            if batch not in batches:
                batches.append(batch)
        for batch in batches:
            if batch.results is None and batch.error is None:
                await self._wait(batch)
        return [self._result(known[key], key) for key in keys]

    def _add(self, keys: list[str]) -> _Batch:
        batch = self._open
        if batch is None:
            batch = self._open = _Batch()
            asyncio.get_running_loop().call_soon(self._dispatch, batch)
        known = self._known
        for key in keys:
            if key not in known:
                known[key] = batch
                batch.keys.append(key)
        return batch

    def _dispatch(self, batch: _Batch) -> None:
        self._open = None
        task = asyncio.ensure_future(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: _Batch) -> None:
        try:
            values = await self._fetch(batch.keys)
            if len(values) != len(batch.keys):
                raise TypeError(
                    f"the fetch answered {len(values)} values for {len(batch.keys)} keys"
                )
            batch.results = dict(zip(batch.keys, values, strict=True))
        except BaseException as exc:
            batch.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_result(None)
            batch.waiters.clear()

    @staticmethod
    async def _wait(batch: _Batch) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch.waiters.append(waiter)
        await waiter

    @staticmethod
    def _result(batch: _Batch, key: str) -> Any:
        if batch.error is not None:
            raise batch.error
        assert batch.results is not None
        value = batch.results[key]
        if isinstance(value, BaseException):
            raise value
        return value
