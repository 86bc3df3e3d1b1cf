"""Benchmark: the demo query through the gateway vs the same agency calls made directly.

    python -m bench.run [--seconds 10] [--concurrency 20] [--scale 0.2]

Starts ``jointgate demo`` (sandbox agencies + gateway, real HTTP on loopback) in a temporary
data dir, then measures, in one run and with the same load generator:

- ``gateway``: the demo query (enterprise with legal representative, accounts with transactions,
  court and police cases) POSTed to /graphql with a real token and purpose;
- ``direct``: the same six agency calls, made straight to the sandbox with the project's own
  connectors (market → police, banking, courts in parallel → banking transactions), i.e. the
  critical path a client would pay without a gateway.

Prints a table and writes bench/results/demo_query.json. Numbers are only comparable within one
run (same machine, same moment); the ratio is the figure to watch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.load import LoadResult, run_load
from bench.queries import DEMO_QUERY
from connectors.registry import build_connectors
from gateway.issuer import mint_token
from gateway.settings import AgencySettings

RESULTS = Path(__file__).parent / "results"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_demo(data_dir: Path, port: int, scale: float) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gateway.cli", "demo", "--port", str(port),
               "--data-dir", str(data_dir), "--scale", str(scale)]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"jointgate demo exited with {child.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return child
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    child.kill()
    raise SystemExit("jointgate demo did not start in time")


def _scenario(scale: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "sandbox", "scenario", "--scale", str(scale)],
        check=True, capture_output=True,
    )  # fmt: skip
    scenario: dict[str, Any] = json.loads(out.stdout)
    return scenario


async def _measure(args: argparse.Namespace, data_dir: Path, port: int) -> list[LoadResult]:
    scenario = _scenario(args.scale)
    uscc = scenario["enterprise_uscc"]
    headers = {
        "authorization": f"Bearer {mint_token('jit.member', data_dir)}",
        "x-purpose": "investigation",
        "x-case-id": scenario["case_id"],
    }
    body = json.dumps({"query": DEMO_QUERY, "variables": {"uscc": uscc}})
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=args.concurrency * 2)
    client = httpx.AsyncClient(transport=AiohttpTransport(limits=limits), trust_env=False)
    url = f"http://127.0.0.1:{port}/graphql"

    async def via_gateway() -> bool:
        r = await client.post(
            url, content=body, headers={**headers, "content-type": "application/json"}
        )
        return r.status_code == 200 and b'"errors"' not in r.content

    first = await client.post(
        url, content=body, headers={**headers, "content-type": "application/json"}
    )
    if first.status_code != 200 or "errors" in first.json():
        raise SystemExit(f"demo query failed: {first.text[:500]}")

    urls = json.loads((data_dir / "sandbox" / "ports.json").read_text())
    key = (data_dir / "sandbox" / "bank.key").read_text().strip().encode()
    agencies = {n: AgencySettings(url=u, key_id="jointgate", key=key) for n, u in urls.items()}
    c = build_connectors(agencies)

    def f(*names: str) -> frozenset[str]:
        return frozenset(names)

    async def direct() -> bool:
        found = await c["market"].fetch_many(
            "enterprise", "uscc", [uscc], f("name", "status", "legal_rep_id")
        )
        rep = found[uscc][0].data["legal_rep_id"]
        _, accounts, _, _ = await asyncio.gather(
            c["police"].fetch_many("person", "id_number", [rep], f("id_number", "name")),
            c["banking"].fetch_many("account", "holder_id", [uscc], f("number", "bank", "balance")),
            c["courts"].fetch_many("court_case", "party_ids", [uscc], f("cause_of_action")),
            c["police"].fetch_many("case", "enterprise_ids", [uscc], f("charge", "status")),
        )
        numbers = [a.key for a in accounts[uscc]]
        await c["banking"].fetch_many(
            "transaction", "account_number", numbers, f("amount", "counterparty_name"), 20
        )
        return True

    results = []
    for name, fn in (("direct", direct), ("gateway", via_gateway)):
        results.append(await run_load(name, fn, concurrency=args.concurrency, seconds=args.seconds))
    await client.aclose()
    for connector in c.values():
        await connector.aclose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--scale", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jointgate-bench-") as tmp:
        data_dir = Path(tmp)
        port = _free_port()
        child = _start_demo(data_dir, port, args.scale)
        try:
            results = asyncio.run(_measure(args, data_dir, port))
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=30)
    direct, gateway = results
    ratio = gateway.rps / direct.rps if direct.rps else 0.0
    print(f"{'':10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for r in results:
        print(f"{r.name:10}{r.rps:10.1f}{r.p50_ms:10.2f}{r.p99_ms:10.2f}{r.errors:8}")
    print(f"gateway / direct throughput: {ratio:.2f}")
    RESULTS.mkdir(exist_ok=True)
    out = {
        "benchmark": "demo_query",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": vars(args),
        "results": [r.as_dict() for r in results],
        "gateway_over_direct_rps": round(ratio, 3),
    }
    (RESULTS / "demo_query.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
