"""Benchmark: the audit trail (issue #4).

    python -m bench.audit_bench [--records 1000000] [--seconds 5] [--concurrency 1,16,64,256]
                                [--postgres DSN | --no-postgres] [--pg-records 200000]

Measures, on this machine:

- **durable appends/s** through :class:`audit.trail.AuditTrail` (group commit; a commit returns
  only once its transaction has committed with fsync) for N concurrent committers, SQLite and
  PostgreSQL;
- **verify records/s** over a log of ``--records`` records (chain: positions, leaf hashes,
  Merkle root against every checkpoint and the signed head; then the search-column and
  blind-index check);
- **search by entity key** latency on that log (p50/p99 over 200 lookups of keys that each occur
  in about ten records, decrypted results included).

The large log is written through the bulk path (``append_prepared`` in batches of 5,000): every
record is prepared, sealed, hashed and signed exactly as in the gateway, but without HTTP and
without waiting for group commit. Writes bench/results/audit.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from audit.append import append_prepared
from audit.config import AuditConfig, AuditSettings, load_config
from audit.reader import AuditReader, SearchFilter
from audit.record import prepare
from audit.replay import default_workers
from audit.store import SqlStore
from audit.trail import AuditTrail
from audit.verify import verify_log
from kernel.identifiers import resident_id_check_char, uscc_check_char
from kernel.types import AgencyCall, AuditRecord

RESULTS = Path(__file__).parent / "results"
QUERY = (
    "query Demo($uscc: USCC!) { enterprise(uscc: $uscc) { name status legalRepresentative"
    " { idNumber name } bankAccounts { number bank balance } courtCases { caseNumber } } }"
)


def uscc(n: int) -> str:
    body = f"91110105MA{n:07d}"
    return body + uscc_check_char(body)


def person(n: int) -> str:
    body = f"110105{1950 + n % 50}{n % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"
    return body + resident_id_check_char(body)


def make_record(rng: random.Random, persons: int, t: float) -> AuditRecord:
    """An investigator's enterprise lookup: one enterprise, its legal representative, two
    accounts, like the demo query."""
    e = rng.randrange(persons)
    rec = AuditRecord(
        request_id=uuid.uuid4().hex, received_at=t, client="10.1.2.3",
        trace_id=uuid.uuid4().hex, subject=f"officer.{rng.randrange(500)}",
        agency=rng.choice(("police", "market", "banking", "courts")),
        roles=("investigator",), purpose="investigation",
        case_id=f"J11010520260{rng.randrange(5000):05d}",
        justification="核查涉案企业及其法定代表人", operation_name="Demo", operation_type="query",
        query_hash="", query_text=QUERY, variables={"uscc": uscc(e)},
        fields_requested=["enterprise.name", "enterprise.status",
                          "enterprise.legalRepresentative.idNumber",
                          "enterprise.legalRepresentative.name", "enterprise.bankAccounts.number",
                          "enterprise.bankAccounts.balance", "enterprise.courtCases.caseNumber"],
        fields_allowed=["enterprise.name", "enterprise.status"],
        fields_masked=["enterprise.legalRepresentative.idNumber"],
        agency_calls=[AgencyCall("market", "enterprise", 1, "ok", 2.1),
                      AgencyCall("police", "person", 1, "ok", 3.4),
                      AgencyCall("banking", "account", 1, "ok", 4.2)],
        policy_version="bench", status=200, outcome="ok", response_size=2048,
        response_hash="ab" * 32, latency_ms=18.0,
    )  # fmt: skip
    rec.saw("Enterprise", uscc(e))
    rec.saw("Person", person(e))
    rec.saw("BankAccount", f"62220200{e:010d}1")
    rec.saw("BankAccount", f"62220200{e:010d}2")
    return rec


async def appends(config: AuditConfig, concurrency: int, seconds: float) -> dict[str, Any]:
    trail = AuditTrail(config)
    rng = random.Random(concurrency)
    # the pipeline builds records anyway: build them before the clock starts
    pool = [make_record(rng, 10_000, time.time()) for _ in range(20_000)]
    await trail.commit(pool[0])  # schema, first transaction
    done = 0
    batches_before = trail.batches
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    async def committer() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await trail.commit(pool[done % len(pool)])
            done += 1

    await asyncio.gather(*(committer() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    batches = trail.batches - batches_before
    await trail.aclose()
    return {
        "concurrency": concurrency,
        "appends": done,
        "seconds": round(elapsed, 3),
        "appends_per_s": round(done / elapsed, 1),
        "transactions": batches,
        "records_per_transaction": round(done / max(batches, 1), 1),
    }


def bulk_fill(config: AuditConfig, store: SqlStore, records: int, persons: int) -> dict[str, Any]:
    rng = random.Random(7)
    t0 = time.time() - records * 0.01
    started = time.perf_counter()
    batch = 5000
    for start in range(0, records, batch):
        items = [
            prepare(make_record(rng, persons, t0 + (start + i) * 0.01), config.key,
                    config.unindexed_types)
            for i in range(min(batch, records - start))
        ]  # fmt: skip
        append_prepared(config, store, items)
        if start % 100_000 == 0:
            print(f"  bulk: {start + len(items):,} records", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    return {
        "records": records,
        "seconds": round(elapsed, 1),
        "records_per_s": round(records / elapsed),
    }


def verify_speed(config: AuditConfig, store: SqlStore) -> dict[str, Any]:
    """``audit verify`` as the CLI runs it (worker processes on every core), chain only and
    with the blind-index check, and the chain in one process for comparison."""
    workers = default_workers()
    out: dict[str, Any] = {"workers": workers}
    for name, n, index in (("chain", workers, False), ("full", workers, True),
                           ("chain_one_process", 1, False)):  # fmt: skip
        started = time.perf_counter()
        report = verify_log(store, config.log_id, config.signer.public, config.archive_dir,
                            check_index=index, workers=n)  # fmt: skip
        seconds = time.perf_counter() - started
        assert report.ok, report.problems
        out[f"{name}_seconds"] = round(seconds, 2)
        out[f"{name}_records_per_s"] = round(report.records / seconds)
        out["records"], out["checkpoints"] = report.records, report.checkpoints
    return out


def search_latency(config: AuditConfig, store: SqlStore, persons: int) -> dict[str, Any]:
    reader = AuditReader(store, config.key)
    rng = random.Random(11)
    latencies, hits = [], []
    for _ in range(200):
        key = person(rng.randrange(persons))
        started = time.perf_counter()
        rows = reader.search(SearchFilter(entity=key), limit=100)
        latencies.append((time.perf_counter() - started) * 1e3)
        hits.append(len(rows))
    latencies.sort()
    return {
        "lookups": len(latencies),
        "mean_hits": round(statistics.mean(hits), 1),
        "p50_ms": round(latencies[len(latencies) // 2], 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "max_ms": round(latencies[-1], 2),
    }


def large_log(settings: AuditSettings, data_dir: Path, records: int) -> dict[str, Any]:
    config = load_config(settings, data_dir)
    store = config.new_store()
    store.create_schema()
    persons = max(records // 10, 1)  # each person's key occurs in about ten records
    result: dict[str, Any] = {"fill": bulk_fill(config, store, records, persons)}
    if settings.backend != "sqlite":
        store.execute("ANALYZE")  # as autovacuum would after a bulk load
    # SQLite: no statistics, as a gateway's trail grows with nobody running ANALYZE on it
    print(f"  filled: {result['fill']}", file=sys.stderr, flush=True)
    result["verify"] = verify_speed(config, store)
    print(f"  verify: {result['verify']}", file=sys.stderr, flush=True)
    result["search_by_entity"] = search_latency(config, store, persons)
    print(f"  search: {result['search_by_entity']}", file=sys.stderr, flush=True)
    if settings.backend == "sqlite":
        result["database_bytes"] = settings.resolved(data_dir).path.stat().st_size
    store.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--pg-records", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,16,64,256")
    parser.add_argument("--postgres", default="host=127.0.0.1 port=5432 user=postgres dbname=test")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--skip-appends", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "audit.json")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    work = Path(tempfile.mkdtemp(prefix="jointgate-audit-bench-"))
    schema = f"audit_bench_{uuid.uuid4().hex[:8]}"
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "appends": {},
    }
    backends = {"sqlite": AuditSettings(log_id="bench")}
    if not args.no_postgres:
        backends["postgres"] = AuditSettings(
            backend="postgres", postgres_dsn=args.postgres, postgres_schema=schema, log_id="bench"
        )
    try:
        for name, settings in backends.items():
            if args.skip_appends:
                break
            rows = []
            for level in levels:
                config = load_config(_with_log(settings, f"appends-{level}"), work / name)
                row = asyncio.run(appends(config, level, args.seconds))
                print(f"{name} appends: {row}", file=sys.stderr, flush=True)
                rows.append(row)
            results["appends"][name] = rows
        if args.records:
            print(f"sqlite: filling a log of {args.records:,} records", file=sys.stderr)
            results["sqlite_large_log"] = large_log(
                _with_log(backends["sqlite"], "large"), work / "sqlite-large", args.records
            )
        if "postgres" in backends and args.pg_records:
            print(f"postgres: filling a log of {args.pg_records:,} records", file=sys.stderr)
            results["postgres_large_log"] = large_log(
                _with_log(backends["postgres"], "large"), work / "pg-large", args.pg_records
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if "postgres" in backends:
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


def _with_log(settings: AuditSettings, log_id: str) -> AuditSettings:
    return replace(settings, log_id=log_id)


if __name__ == "__main__":
    sys.exit(main())
