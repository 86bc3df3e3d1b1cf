"""Audit fixtures: a trail configuration in a temporary data dir, records like the pipeline
assembles them, and the in-process gateway over the real trail (``live``)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import audit.store.base
from audit.config import AuditConfig, AuditSettings, load_config
from audit.reader import AuditReader
from audit.trail import AuditTrail
from commands.demo import prepare
from connectors.memory import MemoryConnector
from gateway.app import Gateway, build_gateway, create_app
from gateway.ratelimit_settings import RateLimits
from gateway.settings import Settings
from kernel.types import AgencyCall, AuditRecord
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, mint_token
from tests.cases import register_fixture_cases

PERSON = "110105198001011234"
ENTERPRISE = "91110105MA0000001X"


def jointgate_command() -> list[str]:
    """The ``jointgate`` console script as installed, else the same entry point by module."""
    script = Path(sys.executable).with_name("jointgate")
    found = str(script) if script.exists() else shutil.which("jointgate")
    return [found] if found else [sys.executable, "-m", "commands.main"]


@pytest.fixture
def small_buckets(monkeypatch: pytest.MonkeyPatch) -> int:
    """Blind-index buckets of 8 records for stores made in the test (1,024 in the layout), so
    that a log of a few dozen records has complete buckets, indexed, and an open one."""
    monkeypatch.setattr(audit.store.base, "ENTITY_BUCKET", 8)
    return 8


def make_config(data_dir: Path, **settings: Any) -> AuditConfig:
    return load_config(AuditSettings(**{"log_id": "test-log", **settings}), data_dir)


@pytest.fixture
def config(tmp_path: Path) -> AuditConfig:
    return make_config(tmp_path)


def record(n: int = 0, **fields: Any) -> AuditRecord:
    """An investigator's enterprise lookup that showed a person and an enterprise."""
    rec = AuditRecord(
        request_id=fields.pop("request_id", uuid.uuid4().hex),
        received_at=1_790_000_000.0 + n,
        client="127.0.0.1",
        trace_id="0af7651916cd43dd8448eb211c80319c",
        subject=fields.pop("subject", "jit.member"),
        agency="police",
        roles=("investigator", "jit-member"),
        purpose="investigation",
        case_id=fields.pop("case_id", "JIT-2026-001"),
        justification="涉嫌非法吸收公众存款，核查法人",
        operation_name="Demo",
        operation_type="query",
        query_hash="0" * 64,
        query_text="query Demo($uscc: USCC!) { enterprise(uscc: $uscc) { name legalRepresentative { idNumber } } }",
        variables={"uscc": fields.pop("uscc", ENTERPRISE)},
        fields_requested=["enterprise.name", "enterprise.legalRepresentative.idNumber"],
        fields_allowed=["enterprise.name"],
        fields_masked=["enterprise.legalRepresentative.idNumber"],
        agency_calls=[AgencyCall("market", "enterprise", 1, "ok", 3.2)],
        policy_version="v1",
        status=200,
        outcome="ok",
        response_size=321,
        response_hash="ab" * 32,
        latency_ms=12.5,
    )
    rec.saw("Enterprise", ENTERPRISE)
    rec.saw("Person", fields.pop("person", PERSON))
    for key, value in fields.items():
        setattr(rec, key, value)
    return rec


class WriterRuns:
    """Counts the calls the trail's writer thread finishes (appends and probes alike), so that a
    test waits for the next probe instead of sleeping."""

    def __init__(self, trail: AuditTrail) -> None:
        self._done = threading.Semaphore(0)
        submit = trail._thread.submit

        def counted(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            future = submit(fn, *args, **kwargs)
            future.add_done_callback(lambda _: self._done.release())
            return future

        trail._thread.submit = counted  # type: ignore[method-assign]

    def pending(self) -> int:
        """Calls finished and not waited for yet."""
        count = 0
        while self._done.acquire(blocking=False):
            count += 1
        return count

    async def next(self) -> None:
        """Until the writer thread has finished one more call (10 s at most)."""
        finished = await asyncio.to_thread(self._done.acquire, True, 10.0)
        assert finished, "the audit writer finished nothing within 10 s"


@dataclass
class Live:
    """The in-process gateway (tests/gateway/conftest.py's small world) over the real trail in
    a temporary data dir: SQLite, signed, sealed, as ``jointgate serve`` runs it."""

    client: httpx.AsyncClient
    gateway: Gateway
    trail: AuditTrail
    data_dir: Path

    def config(self) -> AuditConfig:
        return self.trail.config

    def reader(self) -> AuditReader:
        """A reader on a connection of its own; close ``reader.store`` when done."""
        return self.trail.reader()

    async def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        user: str | None = "jit.member",
        purpose: str | None = "investigation",
        case: str | None = "JIT-2026-001",
        **extra_headers: str,
    ) -> httpx.Response:
        headers = dict(extra_headers)
        if user is not None:
            headers["authorization"] = f"Bearer {mint_token(user, self.data_dir)}"
        if purpose is not None:
            headers["x-purpose"] = purpose
        if case is not None:
            headers["x-case-id"] = case
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.client.post("/graphql", json=body, headers=headers)


@contextlib.asynccontextmanager
async def open_live(
    data_dir: Path, log_id: str = "gw-test", **overrides: Any
) -> AsyncIterator[Live]:
    """``overrides`` replace Settings fields (``audit``: a PostgreSQL trail, ``governance_db``)."""
    from tests.gateway.conftest import LOOKUPS, give_subjects, small_world, subjects_of

    jwks, _ = prepare(data_dir)  # demo issuer keys, team JIT-2026-001 with jit.member
    register_fixture_cases(data_dir)  # the cases the tests declare, for the users that do
    if overrides.get("governance_db"):  # and where the gateway reads them instead
        register_fixture_cases(overrides["governance_db"])
    overrides.setdefault("audit", AuditSettings(log_id=log_id))
    settings = Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, agencies={}, data_dir=data_dir,
        jwks_file=jwks, rate_limits=RateLimits(enabled=False), **overrides,
    )  # fmt: skip
    world = small_world()
    agencies = {name: MemoryConnector(name, LOOKUPS[name], world[name]) for name in LOOKUPS}
    gateway = build_gateway(settings, connectors=agencies)  # the default audit log: the trail
    assert isinstance(gateway.audit, AuditTrail)
    subjects = subjects_of(world)  # the demo team's case is about all of the small world
    give_subjects(gateway, lambda: subjects)
    await gateway.keys.refresh()
    transport = httpx.ASGITransport(app=create_app(gateway))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Live(client, gateway, gateway.audit, data_dir)
    finally:
        await gateway.audit.aclose()
        await gateway.limiter.aclose()
        gateway.governance.close()


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async with open_live(tmp_path) as opened:
        yield opened
