"""The connector contract's helpers: chunking a lookup and running its calls."""

from __future__ import annotations

import asyncio

import pytest

from connectors.base import chunked, each_chunk


async def _task_and_value(value: int) -> tuple[asyncio.Task[object] | None, int]:
    await asyncio.sleep(0)
    return asyncio.current_task(), value


async def test_a_single_call_runs_in_the_callers_task() -> None:
    [(task, value)] = await each_chunk([_task_and_value(1)])
    assert value == 1
    assert task is asyncio.current_task()  # no task of its own, no extra loop turn


async def test_several_calls_run_concurrently_and_answer_in_order() -> None:
    started: list[int] = []
    all_started, release = asyncio.Event(), asyncio.Event()

    async def call(n: int) -> int:
        started.append(n)
        if len(started) == 3:
            all_started.set()
        await release.wait()
        return n * 10

    pending = asyncio.ensure_future(each_chunk([call(1), call(2), call(3)]))
    # all three wait at once: none waits for another to finish
    await asyncio.wait_for(all_started.wait(), 5)
    release.set()
    assert await pending == [10, 20, 30]


async def test_no_calls_answer_nothing() -> None:
    assert await each_chunk([]) == []


async def test_a_failing_single_call_raises_its_error() -> None:
    async def fail() -> int:
        raise ValueError("agency said no")

    with pytest.raises(ValueError, match="agency said no"):
        await each_chunk([fail()])


def test_keys_are_chunked_at_the_agencys_maximum() -> None:
    assert chunked(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert chunked([], 2) == []
