"""The overall request deadline: a slow agency cannot hold the whole answer hostage."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from audit.log import MemoryAuditLog
from commands.demo import prepare
from connectors.registry import AgencySettings
from gateway.app import build_gateway, create_app
from gateway.settings import Settings
from sandbox.banking import DEFAULT_KEY
from sandbox.faults import Faults
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, mint_token
from sandbox.world import World
from tests.cases import register_fixture_cases


async def test_a_slow_agency_is_cut_at_the_deadline_and_the_rest_is_answered(
    tmp_path: Path, urls: dict[str, str], clean_faults: dict[str, Faults], world: World
) -> None:
    jwks, _ = prepare(tmp_path)
    register_fixture_cases(tmp_path)
    settings = Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, data_dir=tmp_path, jwks_file=jwks,
        agencies={n: AgencySettings(url=u, timeout_s=30.0, key=DEFAULT_KEY) for n, u in urls.items()},
        request_deadline_s=0.5,
    )  # fmt: skip
    gateway = build_gateway(settings, audit=MemoryAuditLog())
    app = create_app(gateway)
    clean_faults["banking"].update({"latency_ms": 5000})
    query = "query($u: USCC!) { enterprise(uscc: $u) { name bankAccounts { number } policeCases { caseNumber } } }"
    headers = {
        "authorization": f"Bearer {mint_token('jit.member', tmp_path)}",
        "x-purpose": "investigation",
        "x-case-id": "JIT-2026-001",
    }
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        started = time.monotonic()
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": {"u": world.scenario["enterprise_uscc"]}},
            headers=headers,
        )
        elapsed = time.monotonic() - started
    body = response.json()
    assert elapsed < 2.0, (
        f"answered after {elapsed:.2f} s, the deadline is 0.5 s and banking takes 5 s"
    )
    assert body["data"]["enterprise"]["name"] == world.scenario["enterprise_name"]
    assert body["data"]["enterprise"]["policeCases"]
    assert body["data"]["enterprise"]["bankAccounts"] is None
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "AGENCY_UNAVAILABLE", "agency": "banking"}
    ]
