"""Benchmark 3: what need-to-know enforcement and the audit trail cost the gateway.

    python -m bench.enforcement [--seconds 5] [--rounds 3] [--concurrency 20]

Two JointGate processes over the same sandbox agencies (real HTTP), side by side in one run:

- **on**: need-to-know enforced by the default policy set, every request committed to the
  SQLite audit trail (``audit.trail.AuditTrail``, fsync) before its answer leaves;
- **off**: ``Settings(enforcement=False)`` (the open policy) and an audit log that keeps
  nothing.

Both answer the demo query for ``jit.member`` (purpose ``investigation``, case JIT-2026-001)
from 20 concurrent clients, in alternating rounds; the figure is the ratio of their median
requests/s (target ≥ 0.85). The CPU time each gateway process spends per request is reported
too: on a 2-core machine the sandbox agencies and the load generator share the cores with the
gateway, so requests/s hides part of the gateway's own cost, the CPU ratio does not.

Then, in process, the decision cost of a 50-field operation: cold (no cached plan) and warm.
Writes bench/results/enforcement.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from audit.log import MemoryAuditLog
from bench.gateway_server import bench_settings
from bench.queries import DEMO_QUERY
from bench.stack import Stack, graphql_headers, load, run_alone, save
from commands.policy.cases import principal_for
from gateway.app import Gateway, build_gateway
from gateway.purpose import declare

TARGET = 0.85
FIFTY_FIELDS = """{ enterprise(uscc: "%s") {
  uscc name legalRepName registeredCapital establishedOn businessScope status address regionCode
  industry seriousViolation
  shareholders { holderId holderName holderType sharePct }
  abnormalOperations { listedOn reason authority removedOn }
  penalties { decisionNumber decidedOn violation amount authority }
  legalRepresentative { idNumber name gender birthDate ethnicity householdAddress phone }
  bankAccounts { number holderId holderName holderType bank branch openedOn balance currency status
    transactions(first: 5) {
      id time amount direction channel counterpartyName counterpartyAccount memo } }
  courtCases { caseNumber court causeOfAction stage filedOn }
} }"""


def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    scenario = stack.world.scenario
    body = json.dumps({"query": DEMO_QUERY, "variables": {"uscc": scenario["enterprise_uscc"]}})
    headers = graphql_headers(stack.token("jit.member"), "investigation", scenario["case_id"])
    servers = {
        "on": stack.gateway("enforcement-on"),
        "off": stack.gateway("enforcement-off", enforcement=False, audit="memory"),
    }
    rounds: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    try:
        for _ in range(args.rounds):
            for name, server in servers.items():
                url = server.url + "/graphql"
                result = load(
                    name, url, body, headers,
                    concurrency=args.concurrency, seconds=args.seconds, server=server,
                )  # fmt: skip
                rounds[name].append(result)
    finally:
        for server in servers.values():
            stack.retire(server)
    keys = ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request")
    sides = {
        name: {
            **{k: round(statistics.median(r[k] for r in runs), 3) for k in keys},
            "errors": sum(r["errors"] for r in runs),
            "rounds": runs,
        }
        for name, runs in rounds.items()
    }
    ratio = round(sides["on"]["rps"] / sides["off"]["rps"], 3)
    cpu_ratio = round(sides["off"]["cpu_ms_per_request"] / sides["on"]["cpu_ms_per_request"], 3)
    result = {
        "query": "demo investigation query (jit.member, investigation, JIT-2026-001)",
        "sides": sides,
        "on_over_off": ratio,
        "cpu_off_over_on": cpu_ratio,
        "decision_cost_50_fields": decision_cost(stack),
        "target": {"target": f"on/off requests/s >= {TARGET}", "measured": ratio,
                   "met": ratio >= TARGET},
    }  # fmt: skip
    save("enforcement", vars(args) | {"scale": stack.scale}, result)
    return result


def decision_cost(stack: Stack) -> dict[str, Any]:
    """Planning a 50-field operation for ``market.officer``: cold (no cached plan) and warm."""
    data_dir = stack.root / "decision-cost"
    data_dir.mkdir(exist_ok=True)
    settings = bench_settings(stack.shared, data_dir, 0)
    gateway: Gateway = build_gateway(settings, audit=MemoryAuditLog())
    pipeline = gateway.pipeline
    query = FIFTY_FIELDS % stack.world.scenario["enterprise_uscc"]
    operation = pipeline.analyzer.analyze(query, None)
    principal = principal_for("market.officer")
    declaration = declare({"x-purpose": "supervision"})
    authorizer = pipeline.authorizer
    context = authorizer.context(principal, declaration)
    cold = []
    for _ in range(20):
        authorizer._plans.clear()
        started = time.perf_counter()
        authorizer.plan(principal, context, operation)
        cold.append(time.perf_counter() - started)
    warm_runs = 20_000
    started = time.perf_counter()
    for _ in range(warm_runs):
        authorizer.plan(principal, authorizer.context(principal, declaration), operation)
    warm = (time.perf_counter() - started) / warm_runs
    gateway.governance.close()
    return {
        "fields": len({(t.resource.type_name, t.resource.field_name) for t in operation.touched}),
        "cold_ms": round(statistics.median(cold) * 1e3, 3),
        "warm_us_including_team_lookup": round(warm * 1e6, 2),
    }


def table(result: dict[str, Any]) -> str:
    lines = [f"{'enforcement (demo query, 20 clients)':40}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
             f"{'CPU ms/req':>12}{'errors':>8}"]  # fmt: skip
    for name, s in result["sides"].items():
        label = "on: need-to-know + audit trail" if name == "on" else "off: open policy, no audit"
        lines.append(
            f"{label:40}{s['rps']:9.1f}{s['p50_ms']:9.2f}{s['p99_ms']:9.2f}"
            f"{s['cpu_ms_per_request']:12.2f}{s['errors']:8}"
        )
    cost = result["decision_cost_50_fields"]
    lines.append(
        f"  on/off req/s {result['on_over_off']:.3f} (target >= {TARGET}); CPU per request "
        f"off/on {result['cpu_off_over_on']:.3f}; plan for {cost['fields']} fields: cold "
        f"{cost['cold_ms']} ms, warm {cost['warm_us_including_team_lookup']} us"
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)


if __name__ == "__main__":
    sys.exit(run_alone(__doc__, add_arguments, run, table))
