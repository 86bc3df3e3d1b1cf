"""Benchmark 2: the gateway's latency above the physical limit of its agency calls.

    python -m bench.overhead [--latency-ms 20] [--seconds 30]

Every sandbox agency gets the same added latency (fault knob ``latency_ms``). One client, one
request at a time (no queueing), takes three paths in turn (the order rotating) for the demo
investigation query (``bench/queries.py``) as ``jit.member``, so that every path sees the same
moments of a shared machine:

- **gateway**: through a JointGate process, need-to-know on, SQLite audit trail;
- **gateway, audit in memory**: the same without the durable commit (shows what the fsync of
  the audit commit costs);
- **direct**: the same agency calls made with the project's own connectors, in the same
  dependency order: market → (police person, banking accounts, courts cases, police cases in
  parallel) → banking transactions.

The direct path is checked to make the same calls per agency as the gateway (sandbox request
counters). The figures: the median over request pairs of gateway minus direct latency (the
critical path as measured; also the difference of the p50s), and gateway p50 minus
``3 × latency`` (three sequential levels: the floor). Target ≤ 1.5 ms. The client runs on
uvloop, as the gateway does.

Two probes put the figure in proportion: one durable 4 KiB write back to back (what the audit
commit's fsync costs on a warm machine), and the least work any audit-before-answer must do,
each time after the same pause as the agency latency (``sealed_write_ms``: AES-GCM, SHA-256,
an Ed25519 signature, an 8 KiB write with ``fdatasync``), since every request's last step runs
on cores and a disk that were idle while it waited for its agencies.
Writes bench/results/overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import uvloop

from bench.loadgen import _Connection, build_request
from bench.queries import DEMO_QUERY
from bench.stack import Server, Stack, graphql_headers, run_alone, save
from connectors.base import Connector
from connectors.registry import AgencySettings, build_connectors

TARGET_MS = 1.5
LEVELS = 3  # market → police/banking/courts → banking transactions


def _f(*names: str) -> frozenset[str]:
    return frozenset(names)


async def direct_calls(c: Mapping[str, Connector], uscc: str) -> bool:
    """The demo query's agency calls, as the gateway makes them, without the gateway."""
    fields = _f("name", "status", "legal_rep_id")
    found = await c["market"].fetch_many("enterprise", "uscc", [uscc], fields)
    rep = found[uscc][0].data["legal_rep_id"]
    _, accounts, _, _ = await asyncio.gather(
        c["police"].fetch_many("person", "id_number", [rep], _f("id_number", "name")),
        c["banking"].fetch_many("account", "holder_id", [uscc], _f("number", "bank", "balance")),
        c["courts"].fetch_many("court_case", "party_ids", [uscc], _f("cause_of_action")),
        c["police"].fetch_many("case", "enterprise_ids", [uscc], _f("charge", "status")),
    )  # fmt: skip
    numbers = [a.key for a in accounts[uscc]]
    await c["banking"].fetch_many(
        "transaction", "account_number", numbers, _f("amount", "counterparty_name"), 20
    )
    return True


def _connectors(stack: Stack) -> dict[str, Connector]:
    settings = {
        name: AgencySettings(url=url, key_id="jointgate", key=stack.bank_key)
        for name, url in stack.agencies.items()
    }
    return dict(build_connectors(settings))


async def _direct_once(stack: Stack, uscc: str) -> None:
    connectors = _connectors(stack)
    try:
        await direct_calls(connectors, uscc)
    finally:
        for connector in connectors.values():
            await connector.aclose()


async def _paired(
    stack: Stack,
    uscc: str,
    gateways: dict[str, Server],
    body: str,
    headers: dict[str, str],
    seconds: float,
    warmup_s: float = 1.0,
) -> dict[str, list[float]]:
    """One client, one request at a time, taking the paths in turn (order rotating), so every
    path sees the same moment of a shared machine; latencies in ms per path."""
    connectors = _connectors(stack)
    loop = asyncio.get_running_loop()
    senders: dict[str, Callable[[], Awaitable[bool]]] = {
        "direct": lambda: direct_calls(connectors, uscc)
    }
    for name, server in gateways.items():
        host, port, request = build_request(server.url + "/graphql", body, headers)
        _, connection = await loop.create_connection(_Connection, host, port)
        senders[name] = _sender(connection, request)
    samples: dict[str, list[float]] = {name: [] for name in senders}
    order = list(senders)
    began = time.perf_counter()
    try:
        while time.perf_counter() - began < warmup_s + seconds:
            measuring = time.perf_counter() - began >= warmup_s
            for name in order:
                started = time.perf_counter()
                if not await senders[name]():
                    raise SystemExit(f"{name}: the demo query failed")
                if measuring:
                    samples[name].append((time.perf_counter() - started) * 1e3)
            order.append(order.pop(0))
    finally:
        for connector in connectors.values():
            await connector.aclose()
    return samples


def _sender(connection: _Connection, request: bytes) -> Callable[[], Awaitable[bool]]:
    async def send() -> bool:
        status, answer = await connection.exchange(request)
        return status == 200 and b'"errors"' not in answer

    return send


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"p50_ms": round(statistics.median(ordered), 3), "p99_ms": round(p99, 3)}


def calls_per_agency(stack: Stack, once: Any) -> dict[str, int]:
    stack.reset_stats()
    once()
    return stack.stats()


def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    scenario = stack.world.scenario
    uscc = scenario["enterprise_uscc"]
    body = json.dumps({"query": DEMO_QUERY, "variables": {"uscc": uscc}})
    headers = graphql_headers(stack.token("jit.member"), "investigation", scenario["case_id"])
    gateways: dict[str, Server] = {
        "gateway": stack.gateway("overhead-trail"),
        "gateway_audit_in_memory": stack.gateway("overhead-memory", audit="memory"),
    }

    def via(server: Server) -> None:
        r = httpx.post(server.url + "/graphql", content=body, headers=headers, trust_env=False)
        if r.status_code != 200 or "errors" in r.json():
            raise SystemExit(f"the demo query failed: {r.text[:500]}")

    calls = {
        "gateway": calls_per_agency(stack, lambda: via(gateways["gateway"])),
        "direct": calls_per_agency(stack, lambda: uvloop.run(_direct_once(stack, uscc))),
    }
    if calls["gateway"] != calls["direct"]:
        raise SystemExit(f"the direct path makes other calls than the gateway: {calls}")
    stack.set_latency(args.latency_ms)
    try:
        durable = [durable_write_ms(stack.root)]
        samples = uvloop.run(_paired(stack, uscc, gateways, body, headers, args.seconds))
        durable.append(durable_write_ms(stack.root))
        floor_after_idle = sealed_write_ms(stack.root, idle_s=args.latency_ms / 1e3)
    finally:
        stack.set_latency(0)
        for server in gateways.values():
            stack.retire(server)
    paths = {name: {**_percentiles(v), "requests": len(v)} for name, v in samples.items()}
    direct_p50 = paths["direct"]["p50_ms"]
    floor = LEVELS * args.latency_ms
    overhead = {}
    for name in gateways:
        pairs = [g - d for g, d in zip(samples[name], samples["direct"], strict=False)]
        overhead[name] = {
            "above_direct_ms": round(statistics.median(pairs), 3),
            "p50_above_direct_ms": round(paths[name]["p50_ms"] - direct_p50, 3),
            "above_floor_ms": round(paths[name]["p50_ms"] - floor, 3),
        }
    fsync_ms = round(statistics.median(durable), 3)
    overhead["gateway"]["above_direct_minus_durable_write_ms"] = round(
        overhead["gateway"]["above_direct_ms"] - fsync_ms, 3
    )
    result = {
        "latency_ms_per_agency": args.latency_ms,
        "durable_write_ms": {"p50": fsync_ms, "before": durable[0], "after": durable[1]},
        "sealed_write_after_idle_ms": floor_after_idle,
        "calls_per_agency": calls["gateway"],
        "critical_path": {"levels": LEVELS, "floor_ms": floor, "direct_p50_ms": direct_p50},
        "paths": paths,
        "overhead": overhead,
        "target": {
            "target": f"gateway p50 - critical path <= {TARGET_MS} ms",
            "measured_ms": overhead["gateway"]["above_direct_ms"],
            "met": overhead["gateway"]["above_direct_ms"] <= TARGET_MS,
        },
    }
    save("overhead", vars(args) | {"scale": stack.scale}, result)
    return result


def durable_write_ms(directory: Path, samples: int = 100) -> float:
    """p50 of one durable 4 KiB write (overwrite + fdatasync) in ``directory``: what any commit
    that must reach the disk before the answer costs on this machine, whatever the database."""
    times = []
    with _probe_file(directory / "durable-write.probe", 64 * 4096) as fd:
        for i in range(samples):
            os.pwrite(fd, os.urandom(4096), (i % 64) * 4096)
            started = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - started) * 1e3)
    return round(statistics.median(times), 3)


@contextlib.contextmanager
def _probe_file(path: Path, size: int) -> Iterator[int]:
    """A file of ``size`` bytes already on disk, open for writing; removed afterwards."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.write(fd, bytes(size))
        os.fsync(fd)
        yield fd
    finally:
        os.close(fd)
        path.unlink()


def sealed_write_ms(directory: Path, idle_s: float, samples: int = 60) -> dict[str, float]:
    """The least any audit-before-answer costs here after the pause a request spends waiting
    for its agencies, whatever the code around it: AES-GCM of a 2 KB body, its SHA-256, an
    Ed25519 signature and one 8 KiB write with ``fdatasync``, each started ``idle_s`` after the
    last (p50 per step and of the whole; the cores and the disk are idle when the answers of the
    last agency call arrive, and both start up slowly on a shared VM)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead, signer = AESGCM(AESGCM.generate_key(256)), Ed25519PrivateKey.generate()
    body, nonce, page = os.urandom(2048), bytes(12), os.urandom(8192)
    steps: dict[str, list[float]] = {"seal": [], "sha256": [], "sign": [], "write": [], "all": []}
    with _probe_file(directory / "sealed-write.probe", 64 * 8192) as fd:
        for i in range(samples):
            time.sleep(idle_s)
            t0 = time.perf_counter()
            aead.encrypt(nonce, body, b"probe")
            t1 = time.perf_counter()
            hashlib.sha256(body).digest()
            t2 = time.perf_counter()
            signer.sign(body[:96])
            t3 = time.perf_counter()
            os.pwrite(fd, page, (i % 64) * 8192)
            os.fdatasync(fd)
            t4 = time.perf_counter()
            for name, a, b in (("seal", t0, t1), ("sha256", t1, t2), ("sign", t2, t3),
                               ("write", t3, t4), ("all", t0, t4)):  # fmt: skip
                steps[name].append((b - a) * 1e3)
    return {"idle_ms": idle_s * 1e3} | {
        name: round(statistics.median(values), 3) for name, values in steps.items()
    }


def table(result: dict[str, Any]) -> str:
    floor = result["critical_path"]["floor_ms"]
    lines = [
        f"{'overhead (demo query, +' + str(result['latency_ms_per_agency']) + ' ms per agency)':50}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'- direct*':>10}{'- floor':>9}"
    ]
    for name, p in result["paths"].items():
        direct = {"above_direct_ms": 0.0, "above_floor_ms": p["p50_ms"] - floor}
        o = result["overhead"].get(name, direct)
        lines.append(
            f"{name:50}{p['p50_ms']:9.2f}{p['p99_ms']:9.2f}{o['above_direct_ms']:10.2f}"
            f"{o['above_floor_ms']:9.2f}"
        )
    lines.append(
        f"  calls per query {result['calls_per_agency']}; floor = "
        f"{result['critical_path']['levels']} levels x latency = {floor} ms; "
        f"target: gateway - direct <= {TARGET_MS} ms\n  * median over request pairs"
    )
    if "durable_write_ms" in result:
        own = result["overhead"]["gateway"]["above_direct_minus_durable_write_ms"]
        lines.append(
            f"  one durable 4 KiB write (fdatasync) here: p50 {result['durable_write_ms']['p50']}"
            f" ms; gateway - direct - that: {own:.2f} ms"
        )
    if "sealed_write_after_idle_ms" in result:
        w = result["sealed_write_after_idle_ms"]
        lines.append(
            f"  seal + hash + sign + 8 KiB durable write, each {w['idle_ms']:g} ms after the last:"
            f" p50 {w['all']} ms (write {w['write']}, seal {w['seal']}, sha256 {w['sha256']},"
            f" sign {w['sign']})"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="paths taken in turn (~120 requests each)"
    )


if __name__ == "__main__":
    sys.exit(run_alone(__doc__, add_arguments, run, table))
