"""The flow detectors on one busy account: 100,000 transactions (issue 19).

    python -m bench.signals [--rows 100000] [--rounds 15]

A synthetic account with ``--rows`` transactions over the two years of history: a realistic mix
of many small payments in from thousands of customers, payments out to hundreds of suppliers
and staff, cash, a monthly payroll batch and some money passed on within hours, so that every
rule's cheap preconditions pass in some windows and its full check runs. :func:`signals.flows.
detect` (all four rules, fund pooling with ten feeders of 2,000 transactions each) is timed
``--rounds`` times in this process, pure Python, one core; medians and p95 in milliseconds.
No sandbox is needed; ``bench.run`` runs it with the rest. Writes bench/results/signals.json.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from signals.flows import detect, pool_feeder_candidates
from signals.model import Ledger
from signals.settings import SignalSettings

START = 1_704_038_400  # 2024-01-01T00:00:00+08:00
SPAN = 730 * 86_400
BANKS = ("中国工商银行", "中国建设银行", "招商银行", "中国银行", "交通银行")


def busy_account(rows: int, seed: int = 19, number: str = "6222000000000000019") -> Ledger:
    """``rows`` transactions, oldest first."""
    rng = random.Random(seed)
    customers = [f"62220100{i:011d}" for i in range(max(10, rows // 20))]
    suppliers = [f"62220200{i:011d}" for i in range(max(5, rows // 300))]
    staff = [f"62220300{i:011d}" for i in range(40)]
    txs: list[tuple[int, float, bool, str | None]] = []
    for month in range(24):  # payroll: the same staff, mid-month
        day = START + month * 30 * 86_400 + 14 * 86_400 + 36_000
        txs += [(day, float(rng.randint(30, 90) * 100), True, s) for s in staff]
    while len(txs) < rows:
        t = START + rng.randrange(SPAN)
        kind = rng.random()
        if kind < 0.6:  # customers paying
            txs.append((t, round(rng.lognormvariate(6.5, 1.0), 2), False, rng.choice(customers)))
        elif kind < 0.85:  # paying suppliers
            txs.append((t, round(rng.lognormvariate(9.0, 1.2), 2), True, rng.choice(suppliers)))
        elif kind < 0.95:  # cash
            txs.append((t, float(rng.randint(1, 50) * 100), rng.random() < 0.7, None))
        else:  # a large sum passed on within hours
            amount = float(rng.randint(10, 100) * 1_000)
            txs.append((t, amount, False, rng.choice(customers)))
            later = t + rng.randint(600, 20 * 3600)
            txs.append((later, amount * 0.99, True, rng.choice(suppliers)))
    txs = sorted(txs[:rows])
    return Ledger(
        number,
        [t[0] for t in txs],
        [t[1] for t in txs],
        [t[2] for t in txs],
        [t[3] for t in txs],
        [BANKS[int(t[3][-3:]) % len(BANKS)] if t[3] else None for t in txs],
    )


def feeders_of(ledger: Ledger, settings: SignalSettings, rows: int) -> dict[str, Ledger]:
    names = pool_feeder_candidates(ledger, settings)[:10]
    return {n: busy_account(rows, seed=i, number=n) for i, n in enumerate(names)}


def timed(fn: Any, rounds: int) -> dict[str, float]:
    fn()  # warm-up
    times, cpu = [], []
    for _ in range(rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1),
        "min_ms": round(times[0], 1),
        "max_ms": round(times[-1], 1),
        "cpu_median_ms": round(statistics.median(cpu), 1),
    }


def run(stack: Any, args: argparse.Namespace) -> dict[str, Any]:
    """``stack`` is unused: the detectors need no sandbox (bench.run passes its own)."""
    from bench.stack import save  # start-up: bench.stack pulls in the sandbox stack

    settings = SignalSettings()
    ledger = busy_account(args.rows)
    columns = {  # the ledger in the wire form of /v1/transactions:columns
        "account_number": ledger.account,
        "time": ledger.time,
        "amount": ledger.amount,
        "out": ledger.out,
        "counterparty_account": ledger.counterparty,
        "counterparty_bank": ledger.counterparty_bank,
    }
    wire = orjson.dumps(columns)
    feeders = feeders_of(ledger, settings, args.feeder_rows)
    signals = detect(ledger, settings, feeders)
    result = {
        "load_average": [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]],
        "rows": len(ledger),
        "feeders": len(feeders),
        "feeder_rows": args.feeder_rows,
        "signals": sorted(s.kind.value for s in signals),
        "detect": timed(lambda: detect(ledger, settings), args.rounds),
        "detect_with_pooling": timed(lambda: detect(ledger, settings, feeders), args.rounds),
        "pool_feeder_candidates": timed(
            lambda: pool_feeder_candidates(ledger, settings), args.rounds
        ),
        "from_wire": timed(lambda: Ledger.from_wire(columns), args.rounds),
        # the columns as the bank sends them (/v1/transactions:columns), parsed as the
        # connector and the evidence reader do: what a riskSignals query adds per such account
        "wire_bytes": len(wire),
        "parse_wire": timed(lambda: Ledger.from_wire(orjson.loads(wire)), args.rounds),
    }
    save("signals", vars(args), result)
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['rows']:,} transactions; signals: {', '.join(result['signals']) or '-'}",
             f"{'step':34}{'median ms':>11}{'p95 ms':>9}{'CPU ms':>9}"]  # fmt: skip
    steps = ("detect", "detect_with_pooling", "pool_feeder_candidates", "from_wire", "parse_wire")
    for step in steps:
        r = result[step]
        lines.append(f"{step:34}{r['median_ms']:11.1f}{r['p95_ms']:9.1f}{r['cpu_median_ms']:9.1f}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--feeder-rows", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=15)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_arguments(parser)
    print(table(run(None, parser.parse_args())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
