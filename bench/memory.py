"""Benchmark 6, memory: the gateway's resident set under load, and how it grows with results.

    python -m bench.memory [--seconds 5] [--concurrency 20] [--sizes 1x10,10x10,100x10]

A fresh JointGate process (need-to-know on, SQLite audit trail) over the sandbox agencies; its
RSS and peak RSS (``VmRSS``/``VmHWM`` from /proc) are read after start-up and one request, then
after 20 concurrent clients have sent, for each size in increasing order, a query for E
enterprises with their bank accounts and T transactions per account (``bench/queries.py``:
about E × (2 + T) rows). Since sizes grow, each peak is the peak of that size (or an earlier
one). The peak RSS of each gateway under the peers load is in peers.json (:mod:`bench.peers_bench`).
Writes bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from bench.queries import rows_query
from bench.stack import Stack, graphql_headers, load, run_alone, save


def _rows(payload: dict[str, Any]) -> int:
    nodes = payload["data"]["enterprises"]["nodes"]
    accounts = [a for n in nodes for a in n["bankAccounts"] or ()]
    return len(nodes) + len(accounts) + sum(len(a["transactions"] or ()) for a in accounts)


def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    gateway = stack.gateway("memory")
    url = gateway.url + "/graphql"
    scenario = stack.world.scenario
    headers = graphql_headers(stack.token("jit.member"), "investigation", scenario["case_id"])
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    steps: list[dict[str, Any]] = []
    try:
        for enterprises, transactions in sizes:
            body = json.dumps({"query": rows_query(enterprises, transactions)})
            response = httpx.post(url, content=body, headers=headers, trust_env=False, timeout=60)
            payload = response.json()
            if response.status_code != 200 or payload.get("errors"):
                raise SystemExit(f"memory query failed: {response.text[:500]}")
            if not steps:
                steps.append({"step": "after start-up and one request", **gateway.memory_kib()})
            measured = load(
                f"{enterprises}x{transactions}", url, body, headers,
                concurrency=args.concurrency, seconds=args.seconds, server=gateway,
            )  # fmt: skip
            steps.append({
                "step": f"{enterprises} enterprises x {transactions} transactions",
                "rows": _rows(payload),
                "response_bytes": len(response.content),
                "rps": measured["rps"],
                "errors": measured["errors"],
                **gateway.memory_kib(),
            })  # fmt: skip
    finally:
        stack.retire(gateway)
    base = steps[0]["rss_kib"]
    for step in steps[1:]:
        step["peak_above_start_kib"] = step["peak_rss_kib"] - base
        step["peak_above_start_per_row_kib"] = round(step["peak_above_start_kib"] / step["rows"], 2)
    result = {"concurrency": args.concurrency, "steps": steps}
    save("memory", vars(args) | {"scale": stack.scale}, result)
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"{'memory (20 clients)':38}{'rows':>7}{'bytes':>9}{'RSS MiB':>9}{'peak MiB':>10}"
             f"{'req/s':>8}"]  # fmt: skip
    for s in result["steps"]:
        lines.append(
            f"{s['step']:38}{s.get('rows', 0):7}{s.get('response_bytes', 0):9}"
            f"{s['rss_kib'] / 1024:9.1f}{s['peak_rss_kib'] / 1024:10.1f}{s.get('rps', 0):8.1f}"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5.0, help="per size")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--sizes", default="1x10,10x10,100x10", help="ENTERPRISESxTRANSACTIONS")


if __name__ == "__main__":
    sys.exit(run_alone(__doc__, add_arguments, run, table))
