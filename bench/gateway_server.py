"""One JointGate process for the benchmarks: ``jointgate demo``'s gateway, with bench settings.

    python -m bench.gateway_server --shared DIR --data-dir DIR --port N
                                   [--enforcement on|off] [--audit trail|memory]
                                   [--agency NAME=URL ...]

Served exactly as ``jointgate serve`` serves (``gateway.serve.run_gateway``: uvicorn, uvloop,
httptools) over the sandbox agencies whose URLs ``jointgate sandbox`` wrote to
``SHARED/sandbox/ports.json``. ``--shared`` holds what every gateway of one run shares: the demo
issuer's keys, the banking key and the governance database with the joint team; ``--data-dir``
is this gateway's own (its audit trail). Differences from the demo, all settings:

- rate limits off (one load generator user would be throttled at 20 req/s);
- the cost limit raised to 200,000, so the memory benchmark's 1,000-row query passes;
- ``--enforcement off``: ``Settings(enforcement=False)``, the open policy;
- ``--audit memory``: an in-memory log that keeps nothing instead of the SQLite trail;
- ``--agency courts=URL``: that agency at another URL (the peers benchmark's replaying courts).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from audit.log import MemoryAuditLog
from commands.demo import demo_settings
from gateway.ratelimit_settings import RateLimits
from gateway.serve import run_gateway
from gateway.settings import Settings

BENCH_MAX_COST = 200_000  # the memory benchmark's largest result (about 1,300 rows)


def bench_settings(
    shared: Path,
    data_dir: Path,
    port: int,
    *,
    enforcement: bool = True,
    agencies: dict[str, str] | None = None,
) -> Settings:
    urls = json.loads((shared / "sandbox" / "ports.json").read_text())
    urls.update(agencies or {})
    base = demo_settings(
        "127.0.0.1",
        port,
        data_dir,
        shared / "issuer" / "jwks.json",
        shared / "sandbox" / "bank.key",
        urls,
    )
    limits = dataclasses.replace(base.limits, max_cost=BENCH_MAX_COST)
    return dataclasses.replace(
        base,
        governance_db=f"sqlite:///{shared / 'governance.sqlite3'}",
        enforcement=enforcement,
        limits=limits,
        rate_limits=RateLimits(enabled=False, redis_url=""),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--enforcement", choices=("on", "off"), default="on")
    parser.add_argument("--audit", choices=("trail", "memory"), default="trail")
    parser.add_argument("--agency", action="append", default=[], metavar="NAME=URL")
    parser.add_argument("--workers", type=int, default=1, help="gateway.workers")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    settings = bench_settings(
        args.shared,
        args.data_dir,
        args.port,
        enforcement=args.enforcement == "on",
        agencies=dict(a.split("=", 1) for a in args.agency),
    )
    settings = dataclasses.replace(settings, workers=args.workers)
    if args.audit == "memory":
        run_gateway(settings, audit=_NullAuditLog())
    else:
        run_gateway(settings)
    return 0


class _NullAuditLog(MemoryAuditLog):
    """MemoryAuditLog that keeps nothing: a long run must not grow the process."""

    async def commit(self, record: object) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
