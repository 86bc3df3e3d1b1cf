"""Fixtures for the HTTP-surface tests: the in-process gateway (tests/gateway/conftest.py) and a
live ``jointgate demo`` process for checks that need real sockets."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.issuer import mint_token
from tests.gateway.conftest import Harness, open_harness

START_TIMEOUT_S = 90


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    """``jointgate demo`` on a free port of 127.0.0.1, over a small sandbox world."""
    data_dir = tmp_path_factory.mktemp("live")
    port = free_port()
    log = data_dir / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "demo", "--port", str(port),
             "--data-dir", str(data_dir), "--scale", "0.05"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (
                f"jointgate demo did not start in {START_TIMEOUT_S} s"
            )
            time.sleep(0.2)
        yield LiveGateway(f"http://127.0.0.1:{port}/graphql", data_dir)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
