"""Fault test: ``jointgate demo`` killed with SIGKILL in the middle of a load run and restarted
on the same data dir. Every response the client received with status 200 has its record, and the
trail verifies. Loopback only, bounded in time and requests."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from audit.config import load_config
from audit.verify import verify_store
from gateway.issuer import mint_token
from gateway.settings import AuditSettings
from sandbox.world import World

ROOT = Path(__file__).parents[2]
QUERY = """query($u: USCC!) { enterprise(uscc: $u) { name legalRepresentative { idNumber name }
  bankAccounts { number balance } courtCases { caseNumber } } }"""
WORKERS = 12
KILL_AFTER_S = 2.0
LOAD_LIMIT_S = 15.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_demo(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "demo", "--port", str(port),
             "--data-dir", str(data_dir), "--scale", "0.05"],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, f"http://127.0.0.1:{port}/graphql"
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the demo did not start within 90 s"
        time.sleep(0.2)


async def load(
    url: str, headers: dict[str, str], uscc: str, stop_at: float
) -> list[tuple[int, str]]:
    """Concurrent clients until the gateway stops answering (or the time limit)."""
    received: list[tuple[int, str]] = []

    async def client(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop_at:
            try:
                r = await http.post(url, json={"query": QUERY, "variables": {"u": uscc}},
                                    headers=headers)  # fmt: skip
            except httpx.HTTPError:
                return  # the gateway is gone
            received.append((r.status_code, r.headers.get("x-request-id", "")))

    async with httpx.AsyncClient(timeout=10) as http:
        await asyncio.gather(*(client(http) for _ in range(WORKERS)))
    return received


async def test_sigkill_mid_load_loses_no_answered_request(tmp_path: Path, world: World) -> None:
    log = tmp_path / "demo.log"
    process, url = start_demo(tmp_path, log)
    headers = {
        "authorization": f"Bearer {mint_token('jit.member', tmp_path)}",
        "x-purpose": "investigation",
        "x-case-id": "JIT-2026-001",
    }
    uscc = world.scenario["enterprise_uscc"]
    try:
        running = asyncio.create_task(load(url, headers, uscc, time.monotonic() + LOAD_LIMIT_S))
        await asyncio.sleep(KILL_AFTER_S)
        process.kill()  # SIGKILL: no drain, no shutdown hooks
        process.wait(timeout=10)
        before = await running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert sum(1 for status, _ in before if status == 200) >= 10, before[:5]

    process, url = start_demo(tmp_path, log)  # same data dir, same log
    try:
        after = await load(url, headers, uscc, time.monotonic() + 1.0)
    finally:
        process.kill()
        process.wait()

    answered = {rid for status, rid in before + after if status == 200}
    config = load_config(AuditSettings(), tmp_path)
    store = config.new_store()
    try:
        stored = {row[0] for row in store.execute("SELECT request_id FROM {records}")}
        assert answered <= stored, f"{len(answered - stored)} answered requests have no record"
        reports = verify_store(store, config.signer.public, config.archive_dir)
        assert reports and all(r.ok for r in reports), [r.problems for r in reports]
    finally:
        store.close()
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "audit.cli", "verify", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
