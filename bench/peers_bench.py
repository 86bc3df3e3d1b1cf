"""Benchmark 1, peers: 50 court cases × 10 fields through JointGate, Apollo Gateway and ariadne.

    python -m bench.peers_bench [--seconds 8] [--rounds 2] [--concurrency 20] [--backend both]

The same 50 cases and 10 fields (``bench/queries.py``) through

- **jointgate**: a JointGate process (``bench/gateway_server.py``) with need-to-know on and the
  SQLite audit trail, as the demo user ``court.clerk`` (purpose ``supervision``);
- **apollo**: ``@apollo/gateway`` 2.14 on ``@apollo/server`` 5 (Node), supergraph composed from
  the courts subgraph's ``_service { sdl }``;
- **ariadne**: ``ariadne-graphql-proxy`` 0.5.1 on uvicorn, proxying the courts subgraph.

Before measuring, the three answers are checked to hold the same data. Each gateway runs over
two backends, in one run:

- ``replay`` (the headline figure): the courts subgraph's real answers replayed from memory
  (``bench/replay.py``), so the gateways, not the Python subgraph, are what is measured;
- ``live``: the sandbox's courts subgraph itself (strawberry), which caps all three.

Rounds alternate the gateways (jointgate, apollo, ariadne, jointgate, ...) and the figures are
the medians over rounds. The load generator (``bench/loadgen.py``, its own process) is first
measured against a trivial endpoint answering a canned body of the same size: its ceiling.
Writes bench/results/peers.json, including each gateway's peak RSS after the load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from typing import Any

import httpx

from bench.queries import PEERS_SUBGRAPH_QUERY, peers_jointgate_query
from bench.stack import Server, Stack, graphql_headers, load, run_alone, save

TARGET_APOLLO = 1.0
TARGET_ARIADNE = 3.0
CASES = 50


def requests(stack: Stack, numbers: list[str]) -> dict[str, tuple[str, dict[str, str]]]:
    """Body and headers each peer is sent (JointGate needs a token and a purpose)."""
    subgraph = json.dumps({"query": PEERS_SUBGRAPH_QUERY, "variables": {"numbers": numbers}})
    plain = {"Content-Type": "application/json"}
    jointgate = json.dumps({"query": peers_jointgate_query(numbers)})
    return {
        "jointgate": (jointgate, graphql_headers(stack.token("court.clerk"), "supervision")),
        "apollo": (subgraph, plain),
        "ariadne": (subgraph, plain),
    }


def check_same_data(
    servers: dict[str, Server], bodies: dict[str, tuple[str, dict[str, str]]]
) -> dict[str, int]:
    """Every peer answers the same 50 cases with the same fields; their response sizes."""
    cases: dict[str, Any] = {}
    sizes = {}
    for name, server in servers.items():
        body, headers = bodies[name]
        response = httpx.post(
            server.url + "/graphql", content=body, headers=headers, trust_env=False, timeout=30
        )
        payload = response.json()
        if response.status_code != 200 or payload.get("errors"):
            raise SystemExit(f"{name}: {response.status_code} {response.text[:500]}")
        data = payload["data"]
        cases[name] = data["courtCases"]
        sizes[name] = len(response.content)
    first = cases["jointgate"]
    if len(first) != CASES or any(c is None for c in first):
        raise SystemExit("jointgate did not return 50 cases")
    for name, other in cases.items():
        if other != first:
            raise SystemExit(f"{name} returned different data from jointgate")
    return sizes


def ceiling(stack: Stack, body_bytes: int, args: argparse.Namespace) -> dict[str, Any]:
    """The load generator against a trivial endpoint with a same-size canned answer."""
    trivial = stack.trivial(body_bytes)
    try:
        result = load(
            "trivial", trivial.url + "/", "{}", {"Content-Type": "application/json"},
            concurrency=args.concurrency, seconds=min(args.seconds, 5.0),
        )  # fmt: skip
    finally:
        stack.retire(trivial)
    return {**result, "body_bytes": body_bytes}


def measure_backend(
    stack: Stack, backend: str, numbers: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    if backend == "replay":
        replay = stack.replay(stack.agencies["courts"])
        courts = replay.url
    else:
        replay, courts = None, stack.agencies["courts"]
    servers = {
        "jointgate": stack.gateway(f"peers-{backend}", agencies={"courts": courts}),
        "apollo": stack.apollo(courts),
        "ariadne": stack.ariadne(courts),
    }
    workers = args.workers
    if workers > 1 and backend == "replay":  # each gateway as a host with N cores runs it
        servers[f"jointgate-x{workers}"] = stack.gateway(
            f"peers-{backend}-x{workers}", agencies={"courts": courts}, workers=workers
        )
        servers[f"apollo-x{workers}"] = stack.apollo(courts, workers=workers)
    bodies = requests(stack, numbers)
    bodies.update({name: bodies[name.split("-x")[0]] for name in servers if "-x" in name})
    sizes = check_same_data(servers, bodies)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for _ in range(args.rounds):
        for name in servers:
            body, headers = bodies[name]
            server = servers[name]
            result = load(
                name, server.url + "/graphql", body, headers,
                concurrency=args.concurrency, seconds=args.seconds, server=server,
            )  # fmt: skip
            rounds[name].append(result)
    out: dict[str, Any] = {"peers": {}}
    for name in servers:
        runs = rounds[name]
        out["peers"][name] = {
            **{k: median(runs, k) for k in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request")},
            "errors": sum(r["errors"] for r in runs),
            "response_bytes": sizes[name],
            **servers[name].memory_kib(),
            "rounds": runs,
        }
    peers = out["peers"]
    out["jointgate_over_apollo"] = round(peers["jointgate"]["rps"] / peers["apollo"]["rps"], 3)
    out["jointgate_over_ariadne"] = round(peers["jointgate"]["rps"] / peers["ariadne"]["rps"], 3)
    jointgate_cpu = peers["jointgate"]["cpu_ms_per_request"]
    out["cpu_per_request_apollo_over_jointgate"] = round(
        peers["apollo"]["cpu_ms_per_request"] / jointgate_cpu, 3
    )
    out["cpu_per_request_ariadne_over_jointgate"] = round(
        peers["ariadne"]["cpu_ms_per_request"] / jointgate_cpu, 3
    )
    if f"jointgate-x{workers}" in peers:
        out["workers"] = workers
        out["jointgate_over_apollo_workers"] = round(
            peers[f"jointgate-x{workers}"]["rps"] / peers[f"apollo-x{workers}"]["rps"], 3
        )
        out["jointgate_workers_over_apollo"] = round(
            peers[f"jointgate-x{workers}"]["rps"] / peers["apollo"]["rps"], 3
        )
    for server in servers.values():
        stack.retire(server)
    if replay is not None:
        stack.retire(replay)
    return out


def median(runs: list[dict[str, Any]], key: str) -> float:
    return round(float(statistics.median(r[key] for r in runs)), 2)


def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    numbers = sorted(stack.world.court_cases)[:CASES]
    backends = ("replay", "live") if args.backend == "both" else (args.backend,)
    result: dict[str, Any] = {"cases": CASES, "fields": 10, "backends": {}}
    for backend in backends:
        result["backends"][backend] = measure_backend(stack, backend, numbers, args)
    size = next(iter(result["backends"].values()))["peers"]["jointgate"]["response_bytes"]
    result["load_generator_ceiling"] = ceiling(stack, size, args)
    headline = result["backends"][backends[0]]
    result["targets"] = {
        "jointgate_over_apollo": {
            "target": f">= {TARGET_APOLLO}",
            "measured": headline["jointgate_over_apollo"],
            "met": headline["jointgate_over_apollo"] >= TARGET_APOLLO,
        },
        "jointgate_over_ariadne": {
            "target": f">= {TARGET_ARIADNE}",
            "measured": headline["jointgate_over_ariadne"],
            "met": headline["jointgate_over_ariadne"] >= TARGET_ARIADNE,
        },
    }
    save("peers", vars(args) | {"scale": stack.scale}, result)
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"{'peers (50 cases x 10 fields)':34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
             f"{'errors':>8}{'CPU ms/req':>12}{'peak RSS MiB':>14}"]  # fmt: skip
    for backend, measured in result["backends"].items():
        for name, r in measured["peers"].items():
            lines.append(
                f"{name + ' / ' + backend:34}{r['rps']:9.1f}{r['p50_ms']:9.2f}{r['p99_ms']:9.2f}"
                f"{r['errors']:8}{r['cpu_ms_per_request']:12.2f}{r['peak_rss_kib'] / 1024:14.1f}"
            )
        lines.append(
            f"  {backend}: jointgate/apollo {measured['jointgate_over_apollo']:.2f} (target >= "
            f"{TARGET_APOLLO}), jointgate/ariadne {measured['jointgate_over_ariadne']:.2f} "
            f"(target >= {TARGET_ARIADNE})"
        )
        if "workers" in measured:
            n = measured["workers"]
            lines.append(
                f"  {backend}, {n} worker processes each: jointgate/apollo"
                f" {measured['jointgate_over_apollo_workers']:.2f}; jointgate x{n} / apollo"
                f" (one process) {measured['jointgate_workers_over_apollo']:.2f}"
            )
    c = result["load_generator_ceiling"]
    lines.append(
        f"  load generator ceiling (trivial endpoint, {c['body_bytes']} B): {c['rps']:.0f} req/s, "
        f"p50 {c['p50_ms']:.2f} ms"
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--backend", choices=("both", "replay", "live"), default="both")
    parser.add_argument(
        "--workers", type=int, default=min(os.cpu_count() or 1, 8),
        help="also JointGate and Apollo with this many worker processes (replay; 1: not)",
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(run_alone(__doc__, add_arguments, run, table))
