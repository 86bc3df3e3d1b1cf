"""The joint office's workflow (issue #18) through the gateway: reading leads, submitting them.

    python -m bench.workflow [--seconds 5] [--rounds 3] [--concurrency 10] [--seed-leads 500]

One JointGate process (bench/gateway_server.py: need-to-know on, the durable SQLite audit trail,
the replaying courts subgraph as bench/ab.py runs it) over one sandbox, driven over loopback HTTP
by the load generator (:mod:`bench.loadgen`). First ``--seed-leads`` leads are submitted, so that
the list pages over real rows; then, in each round, one after the other:

- ``leads``: ``leads(first: 20) { nodes { id state category amount subjects { kind identifier } }
  totalCount }`` as office.coordinator (purpose supervision);
- ``peers``: bench/ab.py's peers query (50 court cases x 10 fields) as court.clerk, on the same
  gateway: the yardstick the leads list is compared with (``leads_over_peers``);
- ``submit``: ``submitLead`` as bank.analyst (risk-monitoring), a fresh idempotency key per
  request (the load generator numbers each one), the scenario's enterprise, person and account
  as subjects: a new lead, its audit record and its event per request;
- ``replay``: that mutation with one key again and again: the idempotent replay path.

Figures are medians over rounds: requests/s, p50/p99 latency and the gateway's CPU ms per
request (the steadier figure on a shared machine). Writes bench/results/workflow.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

import httpx

from bench.ab import workloads
from bench.stack import Server, Stack, graphql_headers, load, run_alone, save

LEADS = """{ leads(first: 20) {
  nodes { id state category amount subjects { kind identifier } } totalCount } }"""
SUBMIT = """mutation($input: SubmitLeadInput!, $key: String!) {
  submitLead(input: $input, idempotencyKey: $key) { replayed lead { id state } } }"""
UNIQUE = "__UNIQUE_REQUEST_NUMBER__"  # the load generator puts each request's number here
WORKLOADS = ("leads", "peers", "submit", "replay")
KEYS = ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request")


def submit_body(stack: Stack, key: str, n: int = 0) -> str:
    scenario = stack.world.scenario
    subjects = [
        scenario["enterprise_uscc"],
        f"resident-id:{scenario['person_id']}",
        scenario["account_number"],
    ]
    lead = {"category": "ILLEGAL_FUNDRAISING", "description": f"基准线索 {n}",
            "subjects": subjects, "amount": 50_000.0 + n, "victims": 3}  # fmt: skip
    return json.dumps({"query": SUBMIT, "variables": {"input": lead, "key": key}})


def post(server: Server, body: str, headers: dict[str, str]) -> dict[str, Any]:
    """One request; a 200 without errors, else the benchmark stops (it would time errors)."""
    response = httpx.post(
        server.url + "/graphql", content=body, headers=headers, trust_env=False, timeout=30
    )
    if response.status_code != 200 or response.json().get("errors"):
        raise SystemExit(f"workflow: {response.status_code} {response.text[:400]}")
    data: dict[str, Any] = response.json()["data"]
    return data


def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    replay = stack.replay(stack.agencies["courts"])
    server = stack.gateway("workflow", agencies={"courts": replay.url})
    analyst = graphql_headers(stack.token("bank.analyst"), "risk-monitoring")
    try:
        for n in range(args.seed_leads):
            post(server, submit_body(stack, f"seed-{n}", n), analyst)
        coordinator = graphql_headers(stack.token("office.coordinator"), "supervision")
        leads = json.dumps({"query": LEADS})
        seeded = post(server, leads, coordinator)["leads"]
        once = submit_body(stack, "replayed-key")
        post(server, once, analyst)
        if not post(server, once, analyst)["submitLead"]["replayed"]:
            raise SystemExit("workflow: the same key was not replayed")
        post(server, *workloads(stack)["peers"])
        runs: dict[str, list[dict[str, Any]]] = {work: [] for work in WORKLOADS}
        for i in range(args.rounds):
            bodies = {
                "leads": (leads, coordinator, ""),
                "peers": (*workloads(stack)["peers"], ""),
                "submit": (submit_body(stack, f"r{i}-{UNIQUE}"), analyst, UNIQUE),
                "replay": (once, analyst, ""),
            }
            for work, (body, headers, unique) in bodies.items():
                result = load(
                    work, server.url + "/graphql", body, headers,
                    concurrency=args.concurrency, seconds=args.seconds, server=server,
                    unique=unique,
                )  # fmt: skip
                runs[work].append(result)
        total = post(server, leads, coordinator)["leads"]["totalCount"]
    finally:
        stack.retire(server)
        stack.retire(replay)
    figures = {
        work: {k: round(statistics.median(r[k] for r in runs[work]), 3) for k in KEYS}
        | {"errors": sum(r["errors"] for r in runs[work]), "rounds": runs[work]}
        for work in WORKLOADS
    }
    result = {
        "gateway": "need-to-know on, SQLite audit trail (durable), courts replayed",
        "queries": {
            "leads": f"{' '.join(LEADS.split())} (office.coordinator, supervision)",
            "peers": "bench/ab.py peers: 50 court cases x 10 fields (court.clerk, supervision)",
            "submit": "submitLead, a new idempotency key per request (bank.analyst, "
            "risk-monitoring)",
            "replay": "submitLead with one idempotency key (replayed: true)",
        },
        "leads_seeded": args.seed_leads,
        "leads_total_at_start": seeded["totalCount"],
        "leads_total_at_end": total,
        "workloads": figures,
        "leads_over_peers": {
            "rps": round(figures["leads"]["rps"] / figures["peers"]["rps"], 3),
            "cpu_ms_per_request": round(
                figures["leads"]["cpu_ms_per_request"] / figures["peers"]["cpu_ms_per_request"],
                3,
            ),
        },
    }
    save("workflow", vars(args) | {"scale": stack.scale}, result)
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"{'workflow':10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}"
             f"{'errors':>8}"]  # fmt: skip
    for work, r in result["workloads"].items():
        lines.append(
            f"{work:10}{r['rps']:9.1f}{r['p50_ms']:9.2f}{r['p99_ms']:9.2f}"
            f"{r['cpu_ms_per_request']:12.3f}{r['errors']:8}"
        )
    ratio = result["leads_over_peers"]
    lines.append(
        f"  leads/peers: req/s {ratio['rps']:.3f}, CPU per request "
        f"{ratio['cpu_ms_per_request']:.3f}; leads {result['leads_total_at_start']} at start, "
        f"{result['leads_total_at_end']} at end"
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seed-leads", type=int, default=500, help="submitted before measuring")


if __name__ == "__main__":
    sys.exit(run_alone(__doc__, add_arguments, run, table))
