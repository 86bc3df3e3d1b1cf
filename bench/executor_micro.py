"""Executor micro benchmark: ms per request in process, compiled fast path vs graphql-core.

    PYTHONPATH=. .venv/bin/python bench/executor_micro.py [N] [tottime|cumtime]

Sends the peers query (50 court cases × 10 fields) and the demo query (bench/queries.py)
through the whole pipeline over ASGI (no sockets) N times each (default 200), once with
``Executor.compiled`` on and once off, and prints ms per request and the time spent in
``Executor.run`` alone. A second argument profiles the compiled peers run, sorted by it.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from audit.log import MemoryAuditLog
from bench.queries import DEMO_QUERY, peers_jointgate_query
from commands.demo import prepare
from gateway.app import build_gateway, create_app
from gateway.limits_settings import QueryLimits
from gateway.ratelimit_settings import RateLimits
from gateway.settings import Settings
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, mint_token
from sandbox.memory import memory_connectors
from sandbox.world import generate
from tests.cases import register_fixture_cases


async def main(n: int, sort: str | None) -> None:
    world = generate(0.05)
    numbers = list(world.court_cases)[:50]
    data_dir = Path(tempfile.mkdtemp())
    jwks, _ = prepare(data_dir)
    register_fixture_cases(data_dir)  # the cases it declares, for its users
    settings = Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, agencies={}, data_dir=data_dir,
        jwks_file=jwks, rate_limits=RateLimits(enabled=False),
        limits=QueryLimits(max_root_fields=100, max_aliases=100),
    )  # fmt: skip
    gateway = build_gateway(settings, connectors=memory_connectors(world), audit=MemoryAuditLog())
    await gateway.keys.refresh()
    executor = gateway.pipeline.executor
    spent = [0.0]
    run = executor.run

    async def timed(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await run(*args)
        finally:
            spent[0] += time.perf_counter() - started

    executor.run = timed  # type: ignore[method-assign,assignment]
    transport = httpx.ASGITransport(app=create_app(gateway))
    client = httpx.AsyncClient(transport=transport, base_url="http://gateway")
    headers = {
        "content-type": "application/json", "x-purpose": "investigation",
        "x-case-id": world.scenario["case_id"],
    }  # fmt: skip
    queries = {
        "peers 50x10": (
            json.dumps({"query": peers_jointgate_query(numbers)}).encode(),
            {**headers, "authorization": f"Bearer {mint_token('court.clerk', data_dir)}"},
        ),
        "demo": (
            json.dumps(
                {"query": DEMO_QUERY, "variables": {"uscc": world.scenario["enterprise_uscc"]}}
            ).encode(),
            {**headers, "authorization": f"Bearer {mint_token('jit.member', data_dir)}"},
        ),
    }
    bodies: dict[tuple[str, bool], bytes] = {}
    for name, (body, h) in queries.items():
        for compiled in (False, True):
            executor.compiled = compiled
            for _ in range(20):
                response = await client.post("/graphql", content=body, headers=h)
            bodies[(name, compiled)] = response.content
            profile = cProfile.Profile() if sort and compiled and name.startswith("peers") else None
            spent[0] = 0.0
            started = time.perf_counter()
            if profile:
                profile.enable()
            for _ in range(n):
                await client.post("/graphql", content=body, headers=h)
            if profile:
                profile.disable()
            total = (time.perf_counter() - started) / n * 1e3
            print(
                f"{name:12} {'compiled' if compiled else 'graphql-core':12} "
                f"{total:7.2f} ms/request, Executor.run {spent[0] / n * 1e3:7.2f} ms"
                f"{' (profiled)' if profile else ''}"
            )
            if profile:
                pstats.Stats(profile).sort_stats(sort).print_stats(30)  # type: ignore[arg-type]
        same = bodies[(name, True)] == bodies[(name, False)]
        print(f"{name:12} same response: {same} ({len(bodies[(name, True)])} bytes)")
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 200,
            sys.argv[2] if len(sys.argv) > 2 else None,
        )
    )
