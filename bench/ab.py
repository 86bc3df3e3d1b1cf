"""JointGate against another checkout of itself: is a change faster, slower, or within noise?

    python -m bench.ab BASE_DIR [--seconds 6] [--rounds 3] [--concurrency 20] [--scale 0.2]

``BASE_DIR`` is another checkout of the project (``git worktree add /tmp/base <rev>``). Both
gateways run with this checkout's interpreter and installed dependencies, so only the code
differs, over one sandbox and the replaying courts subgraph, with need-to-know and the durable
SQLite audit trail on, as the peers benchmark runs them. Rounds alternate the two (this, base,
this, base, ...) with the same load; the figures are medians over rounds and the verdict is the
ratio this/base of requests per second and of CPU per request, measured in one run:

- ``peers``: 50 court cases × 10 fields as court.clerk (supervision), benchmark 1's query;
- ``demo``: the demo investigation query as jit.member (one enterprise across four agencies).

Nothing is saved: it prints a table (and ``--json`` the figures).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import httpx

from bench.queries import DEMO_QUERY, peers_jointgate_query
from bench.stack import Server, Stack, graphql_headers, load


def workloads(stack: Stack) -> dict[str, tuple[str, dict[str, str]]]:
    numbers = sorted(stack.world.court_cases)[:50]
    uscc = stack.world.scenario["enterprise_uscc"]
    demo = {"query": DEMO_QUERY, "variables": {"uscc": uscc}}
    return {
        "peers": (
            json.dumps({"query": peers_jointgate_query(numbers)}),
            graphql_headers(stack.token("court.clerk"), "supervision"),
        ),
        "demo": (
            json.dumps(demo),
            graphql_headers(stack.token("jit.member"), "investigation", "JIT-2026-001"),
        ),
    }


def check(server: Server, body: str, headers: dict[str, str]) -> int:
    """The answer is a 200 without errors (else the comparison would be of error paths)."""
    response = httpx.post(
        server.url + "/graphql", content=body, headers=headers, trust_env=False, timeout=30
    )
    if response.status_code != 200 or response.json().get("errors"):
        raise SystemExit(f"{server.name}: {response.status_code} {response.text[:400]}")
    return len(response.content)


def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    replay = stack.replay(stack.agencies["courts"])
    courts = {"courts": replay.url}
    servers = {
        "this": stack.gateway("ab-this", agencies=courts),
        "base": stack.gateway("ab-base", agencies=courts, checkout=args.base),
    }
    loads = workloads(stack)
    sizes = {
        (name, work): check(server, *loads[work])
        for name, server in servers.items()
        for work in loads
    }
    for work in loads:
        if sizes[("this", work)] != sizes[("base", work)]:
            print(f"note: {work} answers differ in size: {sizes}", file=sys.stderr)
    rounds: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for work, (body, headers) in loads.items():
            for name, server in servers.items():
                result = load(
                    f"{name}-{work}", server.url + "/graphql", body, headers,
                    concurrency=args.concurrency, seconds=args.seconds, server=server,
                )  # fmt: skip
                rounds.setdefault((name, work), []).append(result)
    out: dict[str, Any] = {"base": str(args.base), "rounds": args.rounds, "workloads": {}}
    for work in loads:
        figures = {
            name: {
                key: round(statistics.median(r[key] for r in rounds[(name, work)]), 3)
                for key in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request")
            }
            | {"errors": sum(r["errors"] for r in rounds[(name, work)])}
            for name in servers
        }
        this, base = figures["this"], figures["base"]
        out["workloads"][work] = {
            **figures,
            "rps_this_over_base": round(this["rps"] / base["rps"], 3),
            "cpu_per_request_this_over_base": round(
                this["cpu_ms_per_request"] / base["cpu_ms_per_request"], 3
            ),
        }
    return out


def table(result: dict[str, Any]) -> str:
    lines = [f"{'workload':10}{'gateway':8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
             f"{'CPU ms/req':>12}{'errors':>8}"]  # fmt: skip
    for work, measured in result["workloads"].items():
        for name in ("this", "base"):
            r = measured[name]
            lines.append(
                f"{work:10}{name:8}{r['rps']:9.1f}{r['p50_ms']:9.2f}{r['p99_ms']:9.2f}"
                f"{r['cpu_ms_per_request']:12.3f}{r['errors']:8}"
            )
        lines.append(
            f"{work:10}{'ratio':8}{measured['rps_this_over_base']:9.3f}{'':18}"
            f"{measured['cpu_per_request_this_over_base']:12.3f}   (this / base)"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("base", type=Path, help="another checkout of the project")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not (args.base / "bench" / "gateway_server.py").is_file():
        parser.error(f"{args.base}: not a checkout of the project (no bench/gateway_server.py)")
    with Stack(args.scale) as stack:
        result = run(stack, args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
