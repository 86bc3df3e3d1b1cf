"""The connector contract's helpers: chunking a lookup and running a call per chunk."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from connectors.base import chunked, each_chunk


async def _task_and_keys(
    keys: Sequence[str],
) -> tuple[asyncio.Task[object] | None, list[str]]:
    await asyncio.sleep(0)
    return asyncio.current_task(), list(keys)


async def test_a_single_call_runs_in_the_callers_task() -> None:
    [(task, keys)] = await each_chunk(["a", "b"], 2, _task_and_keys)
    assert keys == ["a", "b"]
    assert task is asyncio.current_task()  # no task of its own, no extra loop turn


async def test_several_calls_run_concurrently_and_answer_in_order() -> None:
    started: list[int] = []
    all_started, release = asyncio.Event(), asyncio.Event()

    async def call(chunk: Sequence[str]) -> int:
        n = int(chunk[0])
        started.append(n)
        if len(started) == 3:
            all_started.set()
        await release.wait()
        return n * 10

    pending = asyncio.ensure_future(each_chunk(["1", "2", "3"], 1, call))
    # all three wait at once: none waits for another to finish
    await asyncio.wait_for(all_started.wait(), 5)
    release.set()
    assert await pending == [10, 20, 30]


async def test_no_calls_answer_nothing() -> None:
    assert await each_chunk([], 2, _task_and_keys) == []


async def test_a_failing_single_call_raises_its_error() -> None:
    async def fail(chunk: Sequence[str]) -> int:
        raise ValueError("agency said no")

    with pytest.raises(ValueError, match="agency said no"):
        await each_chunk(["a"], 2, fail)


def test_keys_are_chunked_at_the_agencys_maximum() -> None:
    assert chunked(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert chunked([], 2) == []
