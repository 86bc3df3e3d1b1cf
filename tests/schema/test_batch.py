"""schema/batch.py: keys of one tick in one fetch, each key fetched once, callers independent."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from schema.batch import BatchLoader


async def ticks() -> None:
    """Let every callback and task that is ready run (the fetch's dispatch takes three)."""
    for _ in range(5):
        await asyncio.sleep(0)


class Agency:
    """A fetch that records the key lists it was asked for and can be held open."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate: asyncio.Event | None = None

    async def fetch(self, keys: list[str]) -> list[str | BaseException]:
        self.calls.append(list(keys))
        if self.gate is not None:
            await self.gate.wait()
        return [ValueError(k) if k.startswith("bad") else k.upper() for k in keys]


async def test_keys_of_one_tick_are_one_fetch_in_first_asked_order() -> None:
    agency = Agency()
    loader = BatchLoader(agency.fetch)
    results = await asyncio.gather(
        loader.load("b"), loader.load_many(["a", "b", "c"]), loader.load("d")
    )
    assert results == ["B", ["A", "B", "C"], "D"]
    assert agency.calls == [["b", "a", "c", "d"]]


async def test_a_key_is_fetched_once_per_loader() -> None:
    agency = Agency()
    loader = BatchLoader(agency.fetch)
    assert await loader.load_many(["a", "b", "a"]) == ["A", "B", "A"]
    assert await loader.load_many(["b", "c"]) == ["B", "C"]
    assert await loader.load("a") == "A"
    assert agency.calls == [["a", "b"], ["c"]]


async def test_load_many_waits_for_keys_of_an_earlier_batch_still_running() -> None:
    agency = Agency()
    agency.gate = asyncio.Event()
    loader = BatchLoader(agency.fetch)
    first = asyncio.ensure_future(loader.load("a"))
    await ticks()  # dispatched, held at the gate
    second = asyncio.ensure_future(loader.load_many(["a", "b"]))
    await ticks()
    assert agency.calls == [["a"], ["b"]]
    agency.gate.set()
    assert await first == "A"
    assert await second == ["A", "B"]


async def test_an_exception_for_one_key_is_raised_for_that_key_only() -> None:
    loader = BatchLoader(Agency().fetch)
    ok, bad = await asyncio.gather(loader.load("a"), loader.load("bad1"), return_exceptions=True)
    assert ok == "A"
    assert isinstance(bad, ValueError) and str(bad) == "bad1"
    with pytest.raises(ValueError, match="bad1"):
        await loader.load_many(["a", "bad1"])


async def test_a_failing_fetch_fails_every_key_of_its_batch() -> None:
    calls: list[list[str]] = []

    async def fetch(keys: list[str]) -> list[str]:
        calls.append(keys)
        raise RuntimeError("agency down")

    loader: BatchLoader[str] = BatchLoader(fetch)
    results = await asyncio.gather(loader.load("a"), loader.load("b"), return_exceptions=True)
    assert [str(r) for r in results] == ["agency down", "agency down"]
    assert calls == [["a", "b"]]


async def test_a_fetch_answering_the_wrong_number_of_values_is_an_error() -> None:
    async def fetch(keys: list[str]) -> list[str]:
        return ["only one"]

    loader: BatchLoader[str] = BatchLoader(fetch)
    with pytest.raises(TypeError, match="1 values for 2 keys"):
        await loader.load_many(["a", "b"])


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    agency = Agency()
    agency.gate = asyncio.Event()
    loader = BatchLoader(agency.fetch)
    doomed = asyncio.ensure_future(loader.load_many(["a", "b"]))
    other = asyncio.ensure_future(loader.load("a"))
    await ticks()
    doomed.cancel()
    await ticks()
    agency.gate.set()
    assert await other == "A"
    assert doomed.cancelled()
    assert await loader.load("b") == "B"
    assert agency.calls == [["a", "b"]]


async def test_the_fetch_runs_in_the_context_of_the_first_caller() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("deadline", default="unset")
    seen: list[str] = []

    async def fetch(keys: list[str]) -> list[str]:
        seen.append(var.get())
        return keys

    loader: BatchLoader[str] = BatchLoader(fetch)

    async def caller() -> str:
        var.set("request deadline")
        return await loader.load("a")

    assert await asyncio.ensure_future(caller()) == "a"
    assert seen == ["request deadline"]
