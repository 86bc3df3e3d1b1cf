"""``jointgate demo`` as a child process on a free port, for the tests that need real sockets
(tests/commands/test_demo.py, tests/http/conftest.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.cases import register_fixture_cases

START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_demo(
    data_dir: Path, port: int, scale: str = "0.05", *, fixture_cases: bool = True
) -> subprocess.Popen[bytes]:
    """The demo, its output in ``data_dir/demo.log``; does not wait for it to be up. With
    ``fixture_cases`` the cases tests declare are registered beside those the demo seeds."""
    if fixture_cases:
        register_fixture_cases(data_dir)
    with (data_dir / "demo.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "commands.main", "demo", "--port", str(port),
             "--data-dir", str(data_dir), "--scale", scale],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def wait_until_up(
    process: subprocess.Popen[bytes], data_dir: Path, port: int, log: Path | None = None
) -> None:
    """Until /healthz answers; fails with the process's log (default: the demo's) if it exits
    or takes too long."""
    log = log or data_dir / "demo.log"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"not up in {START_TIMEOUT_S} s:\n{log.read_text()}"
        time.sleep(0.2)
