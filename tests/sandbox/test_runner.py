"""serve_sandbox: real ports, clean stops on cancel and on signals, the command line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

import sandbox.cli
from sandbox.runner import AGENCIES, serve_sandbox
from sandbox.world import World


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def _start(
    world: World, ports: dict[str, int] | None = None
) -> tuple[asyncio.Task[None], dict[str, str]]:
    bound: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_sandbox(world, ports=ports, ready=bound.set_result))
    waiters: list[asyncio.Future[Any]] = [task, bound]
    await asyncio.wait(waiters, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    return task, bound.result()


async def test_cancel_stops_every_server(world: World) -> None:
    task, urls = await _start(world)
    assert set(urls) == set(AGENCIES)
    ports = [int(url.rsplit(":", 1)[1]) for url in urls.values()]
    assert len(set(ports)) == len(AGENCIES)
    async with httpx.AsyncClient() as client:
        for url in urls.values():
            assert (await client.get(f"{url}/_sandbox/stats")).status_code == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(_port_is_free(port) for port in ports)


async def test_fixed_ports_and_bind_failure(world: World) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            await serve_sandbox(world, ports={"police": port})
    task, urls = await _start(world, ports={"market": port})
    assert urls["market"] == f"http://127.0.0.1:{port}"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need main thread"
)
async def test_sigterm_stops_cleanly(world: World) -> None:
    task, _ = await _start(world)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, timeout=5)  # returns normally


def test_command_line_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    port_file = tmp_path / "ports.json"
    script = (
        "import argparse, sys; from sandbox.cli import run_sandbox;"
        f"sys.exit(run_sandbox(argparse.Namespace(scale=0.01, seed=1, host='127.0.0.1',"
        f" port=[], port_file={str(port_file)!r}, bank_key_file=None, latency_ms=['police=1'],"
        " error_rate=[], down=['courts'], exit_with_parent=False)))"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if port_file.exists() or child.poll() is not None:
                break
            threading.Event().wait(0.05)
        urls = json.loads(port_file.read_text())
        assert set(urls) == set(AGENCIES)
        response = httpx.get(f"{urls['courts']}/graphql")
        assert response.status_code == 503
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
        assert child.stderr is not None
        child.stderr.close()


def test_the_command_line_freezes_the_world_before_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The collector's full passes must not walk the world (0.2-0.3 s pauses of every agency
    every few hundred requests at benchmark scale): it is frozen before the servers start."""
    seen: list[int] = []

    async def serve(*args: object) -> None:
        seen.append(gc.get_freeze_count())

    monkeypatch.setattr(sandbox.cli, "serve_sandbox", serve)
    args = argparse.Namespace(
        scale=0.01, seed=1, host="127.0.0.1", port=[], port_file=None, bank_key_file=None,
        latency_ms=[], error_rate=[], down=[], exit_with_parent=False,
    )  # fmt: skip
    try:
        assert sandbox.cli.run_sandbox(args) == 0
    finally:
        gc.unfreeze()
    assert seen and seen[0] > 10_000
