"""Benchmark 4, fan-out: agency calls per query for lists of 1, 10 and 100 entities.

    python -m bench.fanout [--sizes 1,10,100]

A list of N enterprises (market regulation's name search), each with its legal representative
(police), bank accounts (banking), court cases (courts) and police cases (police): with the
loaders batching every link, the calls per agency must not grow with N. Each query is sent once
through a JointGate process (need-to-know on, as ``jit.member`` investigating JIT-2026-001),
and the sandbox's request counters (``/_sandbox/stats``) are read before and after. The peers
query (50 court cases named one by one) is counted the same way. Target: constant.
Writes bench/results/fanout.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from bench.queries import fanout_query, peers_jointgate_query
from bench.stack import Stack, graphql_headers, run_alone, save


def _count(stack: Stack, url: str, query: str, headers: dict[str, str]) -> dict[str, Any]:
    stack.reset_stats()
    response = httpx.post(
        url, content=json.dumps({"query": query}), headers=headers, trust_env=False, timeout=60
    )
    payload = response.json()
    if response.status_code != 200 or payload.get("errors"):
        raise SystemExit(f"fan-out query failed: {response.text[:500]}")
    calls = stack.stats()
    data = payload["data"]
    entities = len(data["enterprises"]["nodes"]) if "enterprises" in data else len(data)
    return {
        "entities": entities,
        "calls": calls,
        "total": sum(calls.values()),
        "response_bytes": len(response.content),
    }


def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")]
    gateway = stack.gateway("fanout")
    url = gateway.url + "/graphql"
    scenario = stack.world.scenario
    member = graphql_headers(stack.token("jit.member"), "investigation", scenario["case_id"])
    lists: dict[str, Any] = {}
    try:
        for size in sizes:
            counted = _count(stack, url, fanout_query(size), member)
            lists[str(size)] = counted
        numbers = sorted(stack.world.court_cases)[:50]
        clerk = graphql_headers(stack.token("court.clerk"), "supervision")
        peers = _count(stack, url, peers_jointgate_query(numbers), clerk)
    finally:
        stack.retire(gateway)
    totals = {size: r["total"] for size, r in lists.items()}
    constant = len(set(totals.values())) == 1
    result = {
        "query": "enterprises(nameContains, first: N) with legalRepresentative, bankAccounts, "
        "courtCases, policeCases",
        "lists": lists,
        "peers_query_50_cases": peers,
        "target": {"target": "agency calls per query constant in N", "measured": totals,
                   "met": constant},
    }  # fmt: skip
    save("fanout", vars(args) | {"scale": stack.scale}, result)
    return result


def table(result: dict[str, Any]) -> str:
    agencies = list(next(iter(result["lists"].values()))["calls"])
    lines = [f"{'fan-out: agency calls per query':34}{'returned':>9}"
             + "".join(f"{a:>9}" for a in agencies) + f"{'total':>8}"]  # fmt: skip
    rows = [(f"list of {n} enterprises", r) for n, r in result["lists"].items()]
    rows.append(("peers query (50 court cases)", result["peers_query_50_cases"]))
    for label, r in rows:
        lines.append(
            f"{label:34}{r['entities']:9}"
            + "".join(f"{r['calls'][a]:9}" for a in agencies)
            + f"{r['total']:8}"
        )
    lines.append(f"  constant in N: {'yes' if result['target']['met'] else 'NO'}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="1,10,100", help="list lengths (at most 100)")


if __name__ == "__main__":
    sys.exit(run_alone(__doc__, add_arguments, run, table))
