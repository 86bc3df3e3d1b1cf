"""Fault test: ``jointgate demo`` killed with SIGKILL in the middle of a load run and restarted
on the same data dir. The load mixes answered requests with refused ones (no token, a bad token,
no purpose, an unknown purpose, an invalid query). Every response the client received has its
record, whatever its status; the one exception allowed is 503 AUDIT_UNAVAILABLE, which says the
record could not be committed (and carries no data). Then ``jointgate audit verify`` passes.
Loopback only, bounded in time and requests."""

from __future__ import annotations

import asyncio
import itertools
import socket
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from audit.config import AuditSettings, load_config
from audit.verify import verify_store
from sandbox.issuer import mint_token
from sandbox.world import World
from tests.audit.conftest import jointgate_command

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
            [*jointgate_command(), "demo", "--port", str(port),
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


@dataclass(frozen=True)
class Received:
    kind: str  # which of kinds() was sent
    status: int
    request_id: str
    code: str  # the first error code, "" if none


def kinds(token: str) -> dict[str, dict[str, Any]]:
    """What the load sends, by kind: headers and query text. Mostly answered requests."""
    good = {"authorization": f"Bearer {token}", "x-purpose": "investigation",
            "x-case-id": "JIT-2026-001"}  # fmt: skip
    return {
        "ok": {"headers": good, "query": QUERY},
        "no-token": {
            "headers": {k: v for k, v in good.items() if k != "authorization"},
            "query": QUERY,
        },
        "bad-token": {
            "headers": {**good, "authorization": f"Bearer {token[:-4]}AAAA"},
            "query": QUERY,
        },
        "no-purpose": {
            "headers": {k: v for k, v in good.items() if k != "x-purpose"},
            "query": QUERY,
        },
        "bad-purpose": {"headers": {**good, "x-purpose": "curiosity"}, "query": QUERY},
        "bad-query": {
            "headers": good,
            "query": "query($u: USCC!) { enterprise(uscc: $u) { nope } }",
        },
    }


MIX = ["ok", "no-token", "ok", "bad-token", "ok", "no-purpose", "ok", "bad-purpose", "bad-query"]


async def load(url: str, token: str, uscc: str, stop_at: float) -> list[Received]:
    """Concurrent clients until the gateway stops answering (or the time limit)."""
    received: list[Received] = []
    sent = kinds(token)
    mix = itertools.cycle(MIX)

    async def client(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop_at:
            kind = next(mix)
            try:
                r = await http.post(url, json={"query": sent[kind]["query"],
                                               "variables": {"u": uscc}},
                                    headers=sent[kind]["headers"])  # fmt: skip
            except httpx.HTTPError:
                return  # the gateway is gone
            errors = r.json().get("errors") or [{}]
            code = str(errors[0].get("extensions", {}).get("code", ""))
            received.append(Received(kind, r.status_code, r.headers.get("x-request-id", ""), code))

    async with httpx.AsyncClient(timeout=10) as http:
        await asyncio.gather(*(client(http) for _ in range(WORKERS)))
    return received


async def test_sigkill_mid_load_loses_no_received_response(tmp_path: Path, world: World) -> None:
    log = tmp_path / "demo.log"
    process, url = start_demo(tmp_path, log)
    token = mint_token("jit.member", tmp_path)
    uscc = world.scenario["enterprise_uscc"]
    try:
        running = asyncio.create_task(load(url, token, uscc, time.monotonic() + LOAD_LIMIT_S))
        await asyncio.sleep(KILL_AFTER_S)
        process.kill()  # SIGKILL: no drain, no shutdown hooks
        process.wait(timeout=10)
        before = await running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    statuses = Counter((r.kind, r.status) for r in before)
    assert statuses[("ok", 200)] >= 10, statuses
    for kind, status in (("no-token", 401), ("bad-token", 401), ("no-purpose", 400),
                         ("bad-purpose", 400)):  # fmt: skip
        assert statuses[(kind, status)] >= 1, statuses

    process, url = start_demo(tmp_path, log)  # same data dir, same log
    try:
        after = await load(url, token, uscc, time.monotonic() + 1.0)
    finally:
        process.kill()
        process.wait()

    received = before + after
    assert all(r.request_id for r in received), [r for r in received if not r.request_id][:3]
    unrecorded_allowed = {r.request_id for r in received if r.code == "AUDIT_UNAVAILABLE"}
    must_have = {r.request_id for r in received} - unrecorded_allowed
    config = load_config(AuditSettings(), tmp_path)
    store = config.new_store()
    try:
        rows = store.execute("SELECT request_id, json_extract(body, '$.status') FROM {records}")
        stored = dict(rows)
        missing = [r for r in received if r.request_id in must_have - stored.keys()]
        assert not missing, f"{len(missing)} received responses have no record: {missing[:3]}"
        wrong = [r for r in received if r.request_id in must_have
                 and stored[r.request_id] != r.status]  # fmt: skip
        assert not wrong, f"records with another status than the response: {wrong[:3]}"
        reports = verify_store(store, config.signer.public, config.archive_dir)
        assert reports and all(r.ok for r in reports), [r.problems for r in reports]
    finally:
        store.close()
    done = await asyncio.to_thread(
        subprocess.run,
        [*jointgate_command(), "audit", "verify", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
