"""The real trail behind the in-process gateway: one record per request, found by request id
and by the keys shown; 503 and not ready while the store is down, back by itself after."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.config import load_config
from audit.reader import AuditReader, SearchFilter
from audit.trail import AuditTrail
from audit.verify import verify_store
from connectors.memory import MemoryConnector
from gateway.app import Gateway, build_gateway, create_app
from gateway.demo import prepare
from gateway.issuer import DEMO_AUDIENCE, DEMO_ISSUER, mint_token
from gateway.settings import AuditSettings, Settings
from tests.gateway.conftest import LOOKUPS, small_world, uscc

QUERY = "query($u: USCC!) { enterprise(uscc: $u) { name legalRepresentative { name } } }"


@dataclass
class Live:
    client: httpx.AsyncClient
    gateway: Gateway
    trail: AuditTrail
    data_dir: Path

    async def ask(self, token: bool = True) -> httpx.Response:
        headers = {"x-purpose": "investigation", "x-case-id": "JIT-2026-001"}
        if token:
            headers["authorization"] = f"Bearer {mint_token('jit.member', self.data_dir)}"
        return await self.client.post(
            "/graphql", json={"query": QUERY, "variables": {"u": uscc(3)}}, headers=headers
        )

    def reader(self) -> AuditReader:
        config = load_config(AuditSettings(log_id="gw-test"), self.data_dir)
        return AuditReader(config.new_store(), config.key)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    jwks, _ = prepare(tmp_path)
    settings = Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, agencies={}, data_dir=tmp_path,
        jwks_file=jwks, audit=AuditSettings(log_id="gw-test"),
    )  # fmt: skip
    world = small_world()
    agencies = {name: MemoryConnector(name, LOOKUPS[name], world[name]) for name in LOOKUPS}
    gateway = build_gateway(settings, connectors=agencies)  # the default audit log
    assert isinstance(gateway.audit, AuditTrail)
    await gateway.keys.refresh()
    transport = httpx.ASGITransport(app=create_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Live(client, gateway, gateway.audit, tmp_path)
    await gateway.audit.aclose()
    governance: Any = getattr(gateway, "governance", None)
    if governance is not None:
        governance.close()


async def test_every_request_has_its_record(live: Live) -> None:
    answered = await live.ask()
    refused = await live.ask(token=False)
    assert answered.status_code == 200 and refused.status_code == 401
    reader = live.reader()
    [ok] = reader.search(SearchFilter(request_id=answered.headers["x-request-id"]))
    assert ok["status"] == 200 and ok["subject"] == "jit.member"
    assert uscc(3) in ok["records_returned"]["Enterprise"]
    assert ok["case_id"] == "JIT-2026-001" and ok["purpose"] == "investigation"
    [no] = reader.search(SearchFilter(request_id=refused.headers["x-request-id"]))
    assert no["status"] == 401 and no["subject"] is None
    assert [r["request_id"] for r in reader.search(SearchFilter(entity=uscc(3)))] == [
        answered.headers["x-request-id"]
    ]  # the refused request never got as far as reading its variables
    [report] = verify_store(reader.store, live.trail.config.signer.public, live.data_dir)
    assert report.ok and report.records == 2
    reader.store.close()


async def test_store_down_means_503_not_ready_then_recovery(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("audit.trail.PROBE_INTERVAL_S", 0.05)
    store = live.trail._store
    append, ping = store.append, store.ping

    def broken(*args: object) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "append", broken)
    monkeypatch.setattr(store, "ping", broken)
    refused = await live.ask()
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert "data" not in refused.json()
    assert (await live.client.get("/readyz")).status_code == 503
    monkeypatch.setattr(store, "append", append)
    monkeypatch.setattr(store, "ping", ping)
    for _ in range(100):
        if (await live.client.get("/readyz")).status_code == 200:
            break
        await asyncio.sleep(0.02)
    assert (await live.client.get("/readyz")).status_code == 200
    assert (await live.ask()).status_code == 200
