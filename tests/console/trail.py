"""The console over a gateway that writes a real audit trail (tests/audit/conftest.py's
``live``, with the console mounted): for the pages that read the trail back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from audit.config import AuditSettings
from audit.trail import AuditTrail
from commands.demo import prepare
from connectors.memory import MemoryConnector
from console.app import mount
from gateway.app import build_gateway, create_app
from gateway.ratelimit_settings import RateLimits
from gateway.settings import Settings
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER
from tests.cases import register_fixture_cases
from tests.console.conftest import ConsoleHarness
from tests.gateway.conftest import LOOKUPS, Harness, give_subjects, small_world, subjects_of

LOG_ID = "console-test"


@contextlib.asynccontextmanager
async def open_audited(data_dir: Path) -> AsyncIterator[ConsoleHarness]:
    jwks, _ = prepare(data_dir)
    register_fixture_cases(data_dir)
    settings = Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, agencies={}, data_dir=data_dir,
        jwks_file=jwks, rate_limits=RateLimits(enabled=False), policy_shared=True,
        audit=AuditSettings(log_id=LOG_ID),
    )  # fmt: skip
    world = small_world()
    agencies = {name: MemoryConnector(name, LOOKUPS[name], world[name]) for name in LOOKUPS}
    gateway = build_gateway(settings, connectors=agencies)  # the default audit log: the trail
    assert isinstance(gateway.audit, AuditTrail)
    subjects = subjects_of(world)
    give_subjects(gateway, lambda: subjects)
    await gateway.keys.refresh()
    transport = httpx.ASGITransport(app=create_app(gateway, [mount]))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            # Harness types its log as the memory one; the pages read this one back
            harness = Harness(client, gateway, agencies, gateway.audit, data_dir, subjects)  # type: ignore[arg-type]
            yield ConsoleHarness(harness)
    finally:
        await gateway.audit.aclose()
        await gateway.limiter.aclose()
        gateway.governance.close()
