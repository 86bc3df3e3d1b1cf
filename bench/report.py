"""The latest results as Markdown, written into docs/performance.md between two markers.

    python -m bench.report          # rewrite the section from bench/results/*.json

``bench.run`` calls :func:`update_doc` after a full run (not with ``--quick`` or ``--only``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.stack import RESULTS

DOC = Path(__file__).parent.parent / "docs" / "performance.md"
BEGIN = "<!-- bench:results (written by `python -m bench.report`; edit around it) -->"
END = "<!-- /bench:results -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def markdown() -> str:
    summary = _load("summary")
    lines: list[str] = []
    if summary is not None:
        m, settings = summary["machine"], summary["settings"]
        lengths = (
            f"measurements of {settings['seconds']} s"
            if settings.get("seconds")
            else "each benchmark's default measurement lengths"
        ) + (f", {settings['rounds']} round(s)" if settings.get("rounds") else "")
        lines += [
            f"Latest run: {summary['when']} on {m['cpus']} cores ({m['cpu_model']}), Python "
            f"{m['python']}, Node {m['node']}, {m['platform']}; {lengths}.",
            "",
        ]
        if (settings.get("seconds") and settings["seconds"] < 5) or settings.get("rounds") == 1:
            lines += [
                "*A short validation run: one round of short measurements on a shared machine, "
                "so the figures are indicative only. Run `make bench` on a quiet machine for "
                "numbers worth quoting.*",
                "",
            ]
        lines += _table(
            ["benchmark", "measure", "target", "met", "measured"],
            [[r["benchmark"], r["measure"], r["target"],
              "—" if r["met"] is None else ("yes" if r["met"] else "**no**"), r["measured"]]
             for r in summary["rows"]],
        )  # fmt: skip
    peers = _load("peers")
    if peers is not None:
        lines.append("**1. Peers** (50 court cases × 10 fields, 20 concurrent clients):")
        lines.append("")
        rows = []
        for backend, b in peers["backends"].items():
            for name, r in b["peers"].items():
                rows.append([name, backend, r["rps"], r["p50_ms"], r["p99_ms"],
                             r["cpu_ms_per_request"], round(r["peak_rss_kib"] / 1024),
                             r["errors"]])  # fmt: skip
        lines += _table(
            ["gateway", "subgraph", "req/s", "p50 ms", "p99 ms", "CPU ms/request",
             "peak RSS MiB", "errors"], rows,
        )  # fmt: skip
        c = peers["load_generator_ceiling"]
        lines += [
            f"Load generator ceiling against a trivial endpoint with a {c['body_bytes']}-byte "
            f"answer: {c['rps']:,.0f} req/s (p50 {c['p50_ms']} ms).",
            "",
        ]
    overhead = _load("overhead")
    if overhead is not None:
        lat = overhead["latency_ms_per_agency"]
        lines.append(f"**2. Overhead** (demo query, +{lat} ms in every agency, one client):")
        lines.append("")
        rows = []
        for name, p in overhead["paths"].items():
            o = overhead["overhead"].get(name) or {"above_direct_ms": "—", "above_floor_ms": "—"}
            rows.append([name, p["p50_ms"], p["p99_ms"], o["above_direct_ms"], o["above_floor_ms"]])
        header = ["path", "p50 ms", "p99 ms", "− direct (median of pairs)", "p50 − 3×latency"]
        lines += _table(header, rows)
        lines += [f"Calls per query: {overhead['calls_per_agency']}.", ""]
        if "durable_write_ms" in overhead:
            own = overhead["overhead"]["gateway"]["above_direct_minus_durable_write_ms"]
            lines += [
                f"One durable 4 KiB write (overwrite + `fdatasync`) in the data dir's file system"
                f" took {overhead['durable_write_ms']['p50']} ms (p50, measured before and after"
                f" the run): the audit commit must wait for one before the answer leaves, so the"
                f" gateway's own work above the agencies and that write was {own:.2f} ms.",
                "",
            ]
        if "sealed_write_after_idle_ms" in overhead:
            w = overhead["sealed_write_after_idle_ms"]
            lines += [
                f"The least an audit-before-answer costs after the same {w['idle_ms']:g} ms"
                f" pause (AES-GCM of 2 KB, its SHA-256, an Ed25519 signature, one 8 KiB write"
                f" with `fdatasync`; no Python around them): p50 {w['all']} ms (the write"
                f" {w['write']}, seal {w['seal']}, hash {w['sha256']}, signature {w['sign']}).",
                "",
            ]
    enforcement = _load("enforcement")
    if enforcement is not None:
        lines.append("**3. Enforcement** (demo query, 20 concurrent clients):")
        lines.append("")
        rows = [[name, s["rps"], s["p50_ms"], s["p99_ms"], s["cpu_ms_per_request"], s["errors"]]
                for name, s in enforcement["sides"].items()]  # fmt: skip
        lines += _table(["side", "req/s", "p50 ms", "p99 ms", "CPU ms/request", "errors"], rows)
        cost = enforcement["decision_cost_50_fields"]
        lines += [
            f"on/off requests/s **{enforcement['on_over_off']}**, CPU per request off/on "
            f"{enforcement['cpu_off_over_on']}; planning a {cost['fields']}-field operation: "
            f"cold {cost['cold_ms']} ms, warm (cached plan) "
            f"{cost['warm_us_including_team_lookup']} µs.",
            "",
        ]
    fanout = _load("fanout")
    if fanout is not None:
        lines.append("**4. Fan-out** (agency calls per query):")
        lines.append("")
        agencies = list(next(iter(fanout["lists"].values()))["calls"])
        rows = [[f"{n} enterprises", *(r["calls"][a] for a in agencies), r["total"]]
                for n, r in fanout["lists"].items()]  # fmt: skip
        p = fanout["peers_query_50_cases"]
        rows.append(["peers query, 50 cases", *(p["calls"][a] for a in agencies), p["total"]])
        lines += _table(["list of", *agencies, "total"], rows)
    memory = _load("memory")
    if memory is not None:
        lines.append("**6. Memory** (one gateway process, 20 concurrent clients, sizes in turn):")
        lines.append("")
        rows = [[s["step"], s.get("rows", "—"), s.get("response_bytes", "—"),
                 round(s["rss_kib"] / 1024, 1), round(s["peak_rss_kib"] / 1024, 1)]
                for s in memory["steps"]]  # fmt: skip
        lines += _table(["after", "rows", "response bytes", "RSS MiB", "peak RSS MiB"], rows)
    workflow = _load("workflow")
    if workflow is not None:
        clients = workflow["settings"]["concurrency"]
        lines.append(f"**7. Workflow** (issue #18, {clients} concurrent clients, "
                     f"{workflow['leads_total_at_start']} leads at the start):")  # fmt: skip
        lines.append("")
        rows = [[name, w["rps"], w["p50_ms"], w["p99_ms"], w["cpu_ms_per_request"], w["errors"]]
                for name, w in workflow["workloads"].items()]  # fmt: skip
        lines += _table(["workload", "req/s", "p50 ms", "p99 ms", "CPU ms/request", "errors"], rows)
        ratio = workflow["leads_over_peers"]
        lines += [
            f"leads/peers requests/s **{ratio['rps']}**, CPU per request "
            f"{ratio['cpu_ms_per_request']}.",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def update_doc(doc: Path = DOC) -> None:
    text = doc.read_text()
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"{doc}: the markers {BEGIN!r} and {END!r} are missing")
    doc.write_text(f"{head}{BEGIN}\n\n{markdown()}\n{END}{tail}")


def main() -> int:
    update_doc()
    print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
