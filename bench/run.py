"""The benchmark suite (issue #6): every benchmark in one run, a table and bench/results/*.json.

    python -m bench.run [--only peers,overhead,...] [--seconds S] [--rounds N] [--quick] [--audit]

One sandbox (``jointgate sandbox``) serves the whole run; each benchmark starts the gateways it
compares as separate processes and drives them from a separate load-generator process:

    peers        50 court cases x 10 fields: JointGate vs Apollo Gateway vs ariadne-graphql-proxy
    overhead     demo query, +20 ms in every agency: gateway p50 - critical path of agency calls
    enforcement  need-to-know + audit trail on vs off, requests/s
    fanout       agency calls per query for lists of 1, 10, 100 entities
    memory       gateway RSS under load and by result size
    workflow     the joint office (issue #18): leads list vs peers query, submitLead, replay
    signals      the flow detectors (issue #19) on one account of 100,000 transactions
    audit        appends/s, verify records/s, search latency on 1M records: the latest
                 bench/results/audit.json, unless ``--audit`` runs bench.audit_bench (~15 min)

Each benchmark also runs alone (``python -m bench.peers_bench`` ...). ``--quick`` shortens every
measurement to check that the suite works; its figures are not worth keeping. Writes one JSON
file per benchmark and bench/results/summary.json with the targets, met or missed; after a full
run (every benchmark, not ``--quick``) also the results section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import enforcement, fanout, memory, overhead, peers_bench, signals, workflow
from bench import stack as stack_module
from bench.report import update_doc
from bench.stack import RESULTS, Stack, machine, save

BENCHMARKS: dict[str, ModuleType] = {
    "peers": peers_bench,
    "overhead": overhead,
    "enforcement": enforcement,
    "fanout": fanout,
    "memory": memory,
    "workflow": workflow,
    "signals": signals,
}
AUDIT_TARGETS = {"appends_per_s": 5_000, "verify_records_per_s": 200_000, "search_p99_ms": 100}


def _args(module: ModuleType, overrides: dict[str, Any]) -> argparse.Namespace:
    """The benchmark's default arguments, with the run's --seconds and --rounds if given."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    args = parser.parse_args([])
    for name, value in overrides.items():
        if value is not None and hasattr(args, name):
            setattr(args, name, value)
    return args


def audit_summary() -> dict[str, Any] | None:
    path = RESULTS / "audit.json"
    if not path.exists():
        return None
    audit: dict[str, Any] = json.loads(path.read_text())
    large = audit["sqlite_large_log"]
    return {
        "date": audit.get("date", ""),
        "appends_per_s": max(a["appends_per_s"] for a in audit["appends"]["sqlite"]),
        "verify_records_per_s": large["verify"]["chain_records_per_s"],
        "verify_full_records_per_s": large["verify"].get("full_records_per_s"),
        "verify_workers": large["verify"].get("workers", 1),
        "records": large["fill"]["records"],
        "search_p50_ms": large["search_by_entity"]["p50_ms"],
        "search_p99_ms": large["search_by_entity"]["p99_ms"],
    }


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def row(benchmark: str, measure: str, target: str, measured: str, met: bool | None) -> None:
        rows.append({"benchmark": benchmark, "measure": measure, "target": target,
                     "measured": measured, "met": met})  # fmt: skip

    if "peers" in results:
        p = results["peers"]
        first = next(iter(p["backends"]))
        b = p["backends"][first]
        jg = b["peers"]["jointgate"]
        for other, target in (("apollo", 1.0), ("ariadne", 3.0)):
            ratio = b[f"jointgate_over_{other}"]
            row("1 peers", f"JointGate / {other} req/s ({first} subgraph)", f">= {target}",
                f"{ratio:.2f} ({jg['rps']:.0f} vs {b['peers'][other]['rps']:.0f} req/s)",
                ratio >= target)  # fmt: skip
        if "workers" in b:
            n = b["workers"]
            row(
                "1 peers",
                f"JointGate / apollo, both with {n} worker processes ({first} subgraph)",
                "(information)",
                f"{b['jointgate_over_apollo_workers']:.2f}"
                f" ({b['peers'][f'jointgate-x{n}']['rps']:.0f} vs"
                f" {b['peers'][f'apollo-x{n}']['rps']:.0f} req/s)",
                None,
            )
        if "live" in p["backends"] and first != "live":
            live = p["backends"]["live"]
            row(
                "1 peers",
                "JointGate / apollo, / ariadne (live subgraph)",
                "(information)",
                f"{live['jointgate_over_apollo']:.2f}, {live['jointgate_over_ariadne']:.2f}",
                None,
            )
    if "overhead" in results:
        o = results["overhead"]
        above = o["overhead"]["gateway"]["above_direct_ms"]
        memory_audit = o["overhead"]["gateway_audit_in_memory"]["above_direct_ms"]
        durable = o.get("durable_write_ms", {}).get("p50")
        sealed = o.get("sealed_write_after_idle_ms", {}).get("all")
        row(
            "2 overhead",
            "gateway p50 - critical path (direct p50)",
            "<= 1.5 ms",
            f"{above:.1f} ms ({memory_audit:.1f} ms with the audit in memory"
            + (f"; one fdatasync here: {durable:.2f} ms" if durable is not None else "")
            + (
                f"; sealed durable write after the pause: {sealed:.2f} ms"
                if sealed is not None
                else ""
            )
            + ")",
            above <= 1.5,
        )
    if "enforcement" in results:
        e = results["enforcement"]
        row("3 enforcement", "req/s need-to-know + audit on / off", ">= 0.85",
            f"{e['on_over_off']:.2f} (CPU per request off/on {e['cpu_off_over_on']:.2f})",
            e["on_over_off"] >= 0.85)  # fmt: skip
    if "fanout" in results:
        f = results["fanout"]
        totals = ", ".join(f"{n}: {r['total']}" for n, r in f["lists"].items())
        row("4 fan-out", "agency calls per query, lists of N", "constant", totals,
            f["target"]["met"])  # fmt: skip
    if results.get("audit"):
        a = results["audit"]
        row(
            "5 audit",
            f"SQLite durable appends/s (group commit, {a['date']})",
            ">= 5,000",
            f"{a['appends_per_s']:,.0f}",
            a["appends_per_s"] >= AUDIT_TARGETS["appends_per_s"],
        )
        full = a.get("verify_full_records_per_s")
        row("5 audit",
            f"verify records/s on {a['records']:,} records (chain, {a['verify_workers']} workers)",
            ">= 200,000",
            f"{a['verify_records_per_s']:,.0f}"
            + (f" ({full:,.0f} with the blind-index check)" if full else ""),
            a["verify_records_per_s"] >= AUDIT_TARGETS["verify_records_per_s"])  # fmt: skip
        row("5 audit", "search by entity p50 / p99", "<= 100 ms",
            f"{a['search_p50_ms']} / {a['search_p99_ms']} ms",
            a["search_p99_ms"] <= AUDIT_TARGETS["search_p99_ms"])  # fmt: skip
    if "memory" in results:
        steps = results["memory"]["steps"]
        last = steps[-1]
        peers_rss = ""
        if "peers" in results:
            b = next(iter(results["peers"]["backends"].values()))["peers"]
            peers_rss = ", ".join(f"{n} {r['peak_rss_kib'] / 1024:.0f}" for n, r in b.items())
            peers_rss = f"; peak under peers load (MiB): {peers_rss}"
        row("6 memory", "gateway peak RSS, by result size", "(no target)",
            f"{steps[0]['rss_kib'] / 1024:.0f} MiB at start, {last['peak_rss_kib'] / 1024:.0f} MiB"
            f" at {last['rows']} rows ({last['peak_above_start_per_row_kib']} KiB/row)"
            f"{peers_rss}", None)  # fmt: skip
    if "workflow" in results:
        w = results["workflow"]
        work, ratio = w["workloads"], w["leads_over_peers"]
        row("7 workflow", "leads(first: 20) / peers query req/s (CPU/request)",
            "(information)",
            f"{ratio['rps']:.2f} ({ratio['cpu_ms_per_request']:.2f}); submitLead "
            f"{work['submit']['rps']:.0f} req/s, {work['submit']['cpu_ms_per_request']:.1f} ms "
            f"CPU; replayed {work['replay']['rps']:.0f} req/s", None)  # fmt: skip
    if "signals" in results:
        s = results["signals"]
        row("8 signals", f"flow detectors on {s['rows']:,} transactions, median / p95",
            "< 1,000 ms", f"{s['detect']['median_ms']:.0f} / {s['detect']['p95_ms']:.0f} ms"
            f" ({s['detect_with_pooling']['median_ms']:.0f} ms with fund pooling)",
            s["detect"]["p95_ms"] < 1_000)  # fmt: skip
    return rows


def summary_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'benchmark':14}{'measure':52}{'target':>12}  {'met':5}measured"]
    for r in rows:
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        lines.append(
            f"{r['benchmark']:14}{r['measure']:52}{r['target']:>12}  {met:5}{r['measured']}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    every = ",".join([*BENCHMARKS, "audit"])
    parser.add_argument("--only", default=every, help=f"comma-separated subset of {every}")
    parser.add_argument(
        "--quick", action="store_true", help="2 s measurements, one round, results not saved"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        help="every measurement's length (default: each benchmark's own, 5-8 s)",
    )
    parser.add_argument("--rounds", type=int, help="rounds of alternating measurements")
    parser.add_argument("--audit", action="store_true", help="also run bench.audit_bench")
    parser.add_argument("--scale", type=float, default=0.2)
    args = parser.parse_args()
    chosen = [n for n in args.only.split(",") if n]
    unknown = sorted(set(chosen) - set(BENCHMARKS) - {"audit"})
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    started = time.monotonic()
    if args.quick:
        args.seconds, args.rounds = args.seconds or 2.0, args.rounds or 1
        stack_module.results_dir = Path(tempfile.mkdtemp(prefix="jointgate-bench-quick-"))
        print(f"--quick: results go to {stack_module.results_dir}")
    results: dict[str, Any] = {}
    with Stack(args.scale) as stack:
        for name in chosen:
            if name not in BENCHMARKS:
                continue
            module = BENCHMARKS[name]
            table: Callable[[dict[str, Any]], str] = module.table
            print(f"\n== {name}", flush=True)
            overrides = {"seconds": args.seconds, "rounds": args.rounds}
            results[name] = module.run(stack, _args(module, overrides))
            print(table(results[name]), flush=True)
    if args.audit:
        print("\n== audit (bench.audit_bench, about 15 minutes)", flush=True)
        subprocess.run([sys.executable, "-m", "bench.audit_bench"], check=True)
    if "audit" in chosen or args.audit:
        results["audit"] = audit_summary()
    rows = summary_rows(results)
    print("\n== summary\n" + summary_table(rows))
    print(f"\n{time.monotonic() - started:.0f} s; machine: {machine()}")
    save("summary", vars(args), {"benchmarks": chosen, "rows": rows})
    if not args.quick and set(chosen) >= set(BENCHMARKS):
        update_doc()
        print("docs/performance.md: results section updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
