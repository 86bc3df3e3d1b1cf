"""Fixtures for the HTTP-surface tests: the in-process gateway (tests/gateway/conftest.py) and a
live ``jointgate demo`` process for checks that need real sockets."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.issuer import mint_token
from tests.demo_process import free_port, start_demo, wait_until_up
from tests.gateway.conftest import Harness, open_harness


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        yield opened


@dataclass
class LiveGateway:
    url: str  # the /graphql endpoint
    data_dir: Path

    def headers(
        self, user: str = "jit.member", purpose: str = "investigation", case: str | None = None
    ) -> dict[str, str]:
        headers = {
            "authorization": f"Bearer {mint_token(user, self.data_dir)}",
            "x-purpose": purpose,
        }
        if purpose == "investigation":
            headers["x-case-id"] = case or "JIT-2026-001"
        return headers


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    """``jointgate demo`` on a free port of 127.0.0.1, over a small sandbox world."""
    data_dir = tmp_path_factory.mktemp("live")
    port = free_port()
    process = start_demo(data_dir, port)
    try:
        wait_until_up(process, data_dir, port)
        yield LiveGateway(f"http://127.0.0.1:{port}/graphql", data_dir)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
