"""Shared fixtures: one small synthetic world, and the five sandbox agencies served over real
sockets for the whole session (sandbox, connector and end-to-end tests use them)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.faults import Faults
from sandbox.runner import AGENCIES, serve_sandbox
from sandbox.world import World, generate

SCALE = 0.05


@pytest.fixture(scope="session")
def world() -> World:
    return generate(SCALE)


@pytest.fixture(scope="session")
def faults() -> dict[str, Faults]:
    """The served agencies' fault settings; tests that change them must restore them."""
    return {name: Faults(seed=i) for i, name in enumerate(AGENCIES)}


@pytest_asyncio.fixture(scope="session")
async def urls(world: World, faults: dict[str, Faults]) -> AsyncIterator[dict[str, str]]:
    """The five agencies served by ``serve_sandbox`` on free ports, for the whole session."""
    loop = asyncio.get_running_loop()
    bound: asyncio.Future[dict[str, str]] = loop.create_future()
    server = asyncio.create_task(serve_sandbox(world, faults=faults, ready=bound.set_result))
    waiters: list[asyncio.Future[Any]] = [server, bound]
    await asyncio.wait(waiters, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if server.done():
        server.result()  # raises what went wrong
    assert bound.done(), "the sandbox did not start in time"
    yield bound.result()
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server


@pytest_asyncio.fixture(scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


@pytest.fixture
def clean_faults(faults: dict[str, Faults]) -> Iterator[dict[str, Faults]]:
    """Fault settings reset to defaults after the test."""
    yield faults
    for knobs in faults.values():
        knobs.update({"latency_ms": 0, "error_rate": 0.0, "down": False})
