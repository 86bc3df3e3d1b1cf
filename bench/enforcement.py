"""Benchmark: what need-to-know enforcement costs the gateway.

    python -m bench.enforcement [--seconds 5] [--rounds 3]

Two gateways in this process over the same synthetic world, served in process (no HTTP to
agencies, so the gateway's own work is all that is measured): one enforcing the default
policy set, one with enforcement off (``[policy] enforcement = "off"``). They answer the demo
query for the JIT member in alternating rounds; the ratio of their requests/s is the figure.
Then the decision cost of a 50-field operation: cold (no cached plan) and warm.

Writes bench/results/enforcement.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.queries import DEMO_QUERY
from gateway.app import Gateway, build_gateway, create_app
from gateway.audit import MemoryAuditLog
from gateway.demo import prepare
from gateway.issuer import DEMO_AUDIENCE, DEMO_ISSUER, mint_token
from gateway.purpose import declare
from gateway.ratelimit import RateLimits
from gateway.settings import Settings
from sandbox.memory import memory_connectors
from sandbox.world import generate

RESULTS = Path(__file__).parent / "results"
FIFTY_FIELDS = """{ enterprise(uscc: "%s") {
  uscc name legalRepName registeredCapital establishedOn businessScope status address regionCode
  industry seriousViolation
  shareholders { holderId holderName holderType sharePct }
  abnormalOperations { listedOn reason authority removedOn }
  penalties { decisionNumber decidedOn violation amount authority }
  legalRepresentative { idNumber name gender birthDate ethnicity householdAddress phone }
  bankAccounts { number holderId holderName holderType bank branch openedOn balance currency status
    transactions(first: 5) {
      id time amount direction channel counterparty counterpartyAccount memo } }
  courtCases { caseNumber court causeOfAction stage filedOn }
} }"""


async def _gateway(
    data_dir: Path, world: Any, enforcement: bool
) -> tuple[Gateway, httpx.AsyncClient]:
    jwks, _ = prepare(data_dir)
    settings = Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, agencies={}, data_dir=data_dir,
        jwks_file=jwks, enforcement=enforcement, rate_limits=RateLimits(enabled=False),
    )  # fmt: skip
    gateway = build_gateway(settings, connectors=memory_connectors(world), audit=MemoryAuditLog())
    await gateway.keys.refresh()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(gateway)), base_url="http://g"
    )
    return gateway, client


async def _rate(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str], seconds: float
) -> float:
    count, stop = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < stop:
        response = await client.post("/graphql", content=body, headers=headers)
        assert response.status_code == 200 and b'"errors"' not in response.content, response.text[
            :300
        ]
        count += 1
    return count / (time.perf_counter() - started)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    world = generate(0.05)
    uscc = world.scenario["enterprise_uscc"]
    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir:
        on, on_client = await _gateway(Path(on_dir), world, True)
        _, off_client = await _gateway(Path(off_dir), world, False)
        headers = {
            "content-type": "application/json", "x-purpose": "investigation",
            "x-case-id": "JIT-2026-001",
        }  # fmt: skip
        body = json.dumps({"query": DEMO_QUERY, "variables": {"uscc": uscc}}).encode()
        on_headers = {
            **headers,
            "authorization": f"Bearer {mint_token('jit.member', Path(on_dir))}",
        }
        off_headers = {
            **headers,
            "authorization": f"Bearer {mint_token('jit.member', Path(off_dir))}",
        }
        await _rate(on_client, body, on_headers, 0.5)
        await _rate(off_client, body, off_headers, 0.5)
        rates: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(args.rounds):
            rates["on"].append(await _rate(on_client, body, on_headers, args.seconds))
            rates["off"].append(await _rate(off_client, body, off_headers, args.seconds))
        decision = _decision_cost(on, uscc)
        await on_client.aclose()
        await off_client.aclose()
    on_rps, off_rps = statistics.median(rates["on"]), statistics.median(rates["off"])
    return {
        "requests_per_s": {
            "enforcement_on": round(on_rps, 1),
            "enforcement_off": round(off_rps, 1),
        },
        "rounds": {k: [round(v, 1) for v in vs] for k, vs in rates.items()},
        "on_over_off": round(on_rps / off_rps, 3),
        "decision_cost_50_fields": decision,
    }


def _decision_cost(gateway: Gateway, uscc: str) -> dict[str, Any]:
    from gateway.issuer import DEMO_USERS
    from policies.cli import principal_for

    pipeline = gateway.pipeline
    operation = pipeline.analyzer.analyze(FIFTY_FIELDS % uscc, None)
    principal = principal_for("market.officer")
    assert "market.officer" in DEMO_USERS
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
    return {
        "fields": len({(t.resource.type_name, t.resource.field_name) for t in operation.touched}),
        "cold_ms": round(statistics.median(cold) * 1e3, 3),
        "warm_us_including_team_lookup": round(warm * 1e6, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    rps = result["requests_per_s"]
    cost = result["decision_cost_50_fields"]
    print(f"enforcement on : {rps['enforcement_on']:8.1f} req/s")
    print(f"enforcement off: {rps['enforcement_off']:8.1f} req/s")
    print(f"on / off       : {result['on_over_off']:.3f}   (target >= 0.85)")
    print(f"decision cost, {cost['fields']}-field operation: cold {cost['cold_ms']} ms, "
          f"warm {cost['warm_us_including_team_lookup']} us")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    out = {
        "benchmark": "enforcement",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": vars(args),
        **result,
    }
    (RESULTS / "enforcement.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
