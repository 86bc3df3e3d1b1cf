"""An in-process gateway over in-memory agencies (connectors.memory), for pipeline tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.log import MemoryAuditLog
from commands.demo import prepare
from connectors.banking import BankingConnector
from connectors.courts import CourtsConnector
from connectors.credit import CreditConnector
from connectors.market import MarketConnector
from connectors.memory import MemoryConnector
from connectors.police import PoliceConnector
from gateway.app import Extension, Gateway, build_gateway, create_app
from gateway.ratelimit_settings import RateLimits
from gateway.settings import Settings
from kernel.identifiers import luhn_check_digit, resident_id_check_char, uscc_check_char
from kernel.types import RequestContext
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, mint_token
from tests.cases import register_fixture_cases


def labels(row: dict[str, Any], handling: str = "H0", sensitivity: int = 0) -> dict[str, Any]:
    return {**row, "handling_code": handling, "sensitivity": sensitivity, "linked_cases": []}


def uscc(n: int) -> str:
    body = f"91110105MA{n:07d}"
    return body + uscc_check_char(body)


def resident_id(n: int) -> str:
    body = f"110105198001{n % 28 + 1:02d}{n % 1000:03d}"
    return body + resident_id_check_char(body)


def card(n: int) -> str:
    body = f"622202{n:012d}"
    return body + luhn_check_digit(body)


def small_world(enterprises: int = 12) -> dict[str, dict[str, list[dict[str, Any]]]]:
    ents, persons, accounts, transactions, cases, court_cases = [], [], [], [], [], []
    reports = []
    for i in range(enterprises):
        rep = resident_id(i)
        ents.append(labels({
            "uscc": uscc(i), "name": f"测试{i}号财富管理有限公司", "legal_rep_id": rep,
            "legal_rep_name": f"法人{i}", "status": "存续",
            "shareholders": [{"holder_id": rep, "holder_name": f"法人{i}",
                              "holder_type": "person", "share_pct": 100.0}],
        }))  # fmt: skip
        persons.append(labels({"id_number": rep, "name": f"法人{i}", "gender": "男"}, "H1", 2))
        accounts.append(labels({
            "number": card(i), "holder_id": uscc(i), "holder_type": "enterprise",
            "bank": "中国工商银行", "balance": 1000.0 * i,
        }, "H1", 2))  # fmt: skip
        for t in range(3):
            transactions.append(labels({
                "id": f"T{i}-{t}", "account_number": card(i), "amount": 10.0 * t,
                "counterparty_name": f"对手{t}",
            }, "H1", 3))  # fmt: skip
        cases.append(labels({
            "case_number": f"J110105202600{i:04d}", "charge": "非法吸收公众存款",
            "suspect_ids": [rep], "enterprise_ids": [uscc(i)],
        }, "H2", 3))  # fmt: skip
        court_cases.append(labels({
            "case_number": f"(2025)京01民初{i + 1}号", "court": "北京市第一中级人民法院",
            "party_ids": [uscc(i)],
            "parties": [{"party_id": uscc(i), "name": f"测试{i}号", "role": "被告"}],
        }))  # fmt: skip
        reports.append(labels({
            "party_id": uscc(i), "party_type": "enterprise", "name": f"测试{i}号财富管理有限公司",
            "total_balance": 1e6, "overdue_amount": 0.0, "worst_class": "正常",
            "loans": [{"loan_id": f"ZX2025{i:07d}", "lender": "中国工商银行", "amount": 1e6,
                       "balance": 1e6, "classification": "正常", "status_history": "N" * 24}],
            "guarantees_given": [],
            "guarantees_received": [{"party_id": rep, "party_name": f"法人{i}",
                                     "party_type": "person", "loan_id": f"ZX2025{i:07d}",
                                     "amount": 1e6, "since": "2025-01-01"}],
            "queries": [{"institution": "中国工商银行", "queried_on": "2025-01-01",
                         "reason": "贷款审批"}],
        }, "H1", 2))  # fmt: skip
    return {
        "market": {"enterprise": ents},
        "police": {"person": persons, "case": cases},
        "banking": {"account": accounts, "transaction": transactions, "report": []},
        "courts": {"court_case": court_cases, "defaulter": []},
        "credit": {"credit_report": reports},
    }


LOOKUPS = {
    "market": MarketConnector.lookups,
    "police": PoliceConnector.lookups,
    "banking": BankingConnector.lookups,
    "courts": CourtsConnector.lookups,
    "credit": CreditConnector.lookups,
}


def subjects_of(world: dict[str, dict[str, list[dict[str, Any]]]]) -> frozenset[str]:
    """Every enterprise, person and account of a world: a case whose subjects they are has
    every record of it in its team's scope."""
    return frozenset(
        [e["uscc"] for e in world["market"]["enterprise"]]
        + [p["id_number"] for p in world["police"]["person"]]
        + [a["number"] for a in world["banking"]["account"]]
    )


@dataclass
class Harness:
    client: httpx.AsyncClient
    gateway: Gateway
    agencies: dict[str, MemoryConnector]
    audit: MemoryAuditLog
    data_dir: Path
    # the declared case's subjects a team request gets (RequestContext.case_subjects, which
    # the case registry gives in production); None: left as the gateway gives them
    subjects: frozenset[str] | None = None

    def token(self, user: str = "jit.member") -> str:
        return mint_token(user, self.data_dir)

    def headers(
        self,
        user: str = "jit.member",
        purpose: str = "investigation",
        case: str | None = "JIT-2026-001",
    ) -> dict[str, str]:
        headers = {"authorization": f"Bearer {self.token(user)}", "x-purpose": purpose}
        if case is not None:
            headers["x-case-id"] = case
        return headers

    async def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        user: str = "jit.member",
        purpose: str = "investigation",
        case: str | None = "JIT-2026-001",
        **extra_headers: str,
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        headers = self.headers(user, purpose, case) | extra_headers
        return await self.client.post("/graphql", json=body, headers=headers)


def give_subjects(gateway: Gateway, subjects: Callable[[], frozenset[str] | None]) -> None:
    """Team requests get ``subjects()`` as their case's subjects (None: as the gateway gives
    them), set as the execute stage starts (where the loaders read them)."""
    executor = gateway.pipeline.executor
    run = executor.run

    async def run_with_subjects(
        ctx: RequestContext, operation: Any, variables: Any, root_value: Any = None
    ) -> Any:
        plan, given = ctx.plan, subjects()
        if plan is not None and plan.outside is not None and given is not None:
            ctx.case_subjects = given
        return await run(ctx, operation, variables, root_value)

    executor.run = run_with_subjects  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def open_harness(
    data_dir: Path,
    connectors: dict[str, MemoryConnector] | None = None,
    subjects: frozenset[str] | None = None,
    extensions: Sequence[Extension] = (),
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """A gateway over a fresh small world (or ``connectors``); ``overrides`` replace Settings
    fields. The demo team's case has every enterprise, person and account of the small world
    as its subjects (or ``subjects``)."""
    jwks, _ = prepare(data_dir)  # also creates the demo's team JIT-2026-001 with jit.member
    register_fixture_cases(data_dir)  # the cases the tests declare, for the users that do
    overrides.setdefault("rate_limits", RateLimits(enabled=False))  # tests/gateway/test_ratelimit
    settings = Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, agencies={}, data_dir=data_dir, jwks_file=jwks,
        **overrides,
    )  # fmt: skip
    agencies = connectors
    if agencies is None:
        world = small_world()
        agencies = {name: MemoryConnector(name, LOOKUPS[name], world[name]) for name in LOOKUPS}
        subjects = subjects_of(world) if subjects is None else subjects
    audit = MemoryAuditLog()
    gateway = build_gateway(settings, connectors=agencies, audit=audit)
    app = create_app(gateway, extensions)
    await gateway.keys.refresh()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        harness = Harness(client, gateway, agencies, audit, data_dir, subjects)
        give_subjects(gateway, lambda: harness.subjects)
        yield harness
    await gateway.limiter.aclose()
    gateway.governance.close()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        yield opened
