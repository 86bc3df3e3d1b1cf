"""The demo's leads: the joint office's work in every state, made through
:class:`office.desk.OfficeDesk` as the demo's officials would make it, backdated through the
desk's clock (docs/workflows.md).

- a lead waiting for verification (the scenario's enterprise), one verified, one unfounded;
- one referred to the police, waiting for a case;
- one from which the police opened a case (police.investigator and jit.member, covered by the
  joint team ``JIT-2026-001``), with feedback; one whose case is closed;
- a major event already overdue (reported 30 hours ago, never acknowledged), and one the joint
  office acknowledged in time.

Each step carries a fixed idempotency key, so running the demo again replays them: nothing is
added twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from kernel.identifiers import uscc_check_char
from kernel.types import Declaration, Principal, Purpose
from kernel.workflow import LeadCategory, LeadState, SubmitInput, WorkflowError
from office.desk import OfficeDesk
from office.settings import OfficeSettings
from policies.cases import CaseStore
from policies.db import Database
from policies.engine import DEFAULT_DIR, PolicyEngine, load_bundle
from policies.teams import TeamStore
from sandbox.issuer import DEMO_USERS

HOUR, DAY = 3600.0, 86400.0
TEAM = "JIT-2026-001"


def _official(name: str) -> Principal:
    user = DEMO_USERS[name]
    return Principal(user.subject, user.agency, frozenset(user.roles), user.clearance, user.name)


def _uscc(n: int, region: str = "440300") -> str:
    body = f"91{region}MA5D{n:04d}X"[:17]
    return body + uscc_check_char(body)


def seed_leads(db: Database, scenario: dict[str, Any], now: float | None = None) -> list[str]:
    """Make (or replay) the demo's leads in ``db``; their ids."""
    # start-up: the schema's catalog only when the demo seeds its leads
    from schema.unified import build_schema

    catalog = build_schema().catalog
    engine = PolicyEngine(load_bundle(DEFAULT_DIR, catalog), catalog)
    clock = _Clock(time.time() if now is None else now)
    desk = OfficeDesk(
        db, CaseStore(db), TeamStore(db), lambda: engine, OfficeSettings(), clock=clock
    )
    try:
        return asyncio.run(_seed(desk, clock, scenario))
    except WorkflowError as exc:
        if exc.code != "IDEMPOTENCY_KEY_REUSED":
            raise
        # seeded before from another scenario (another --seed or --scale): those leads stay
        print("The demo's leads were seeded before, from another scenario: kept as they are.")
        return []


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.at = now

    def __call__(self) -> float:
        return self.at

    def back(self, seconds: float) -> None:
        self.at = self.now - seconds


async def _seed(desk: OfficeDesk, clock: _Clock, scenario: dict[str, Any]) -> list[str]:
    bank, market = _official("bank.analyst"), _official("market.officer")
    office, police = _official("office.coordinator"), _official("police.investigator")
    court = _official("court.clerk")
    risk = Declaration(Purpose.RISK_MONITORING)
    supervision, investigation = (
        Declaration(Purpose.SUPERVISION),
        Declaration(Purpose.INVESTIGATION),
    )
    name = scenario["enterprise_name"]
    year = time.strftime("%Y", time.gmtime(clock.now))
    ids: list[str] = []

    async def submit(key: str, who: Principal, ago: float, **given: Any) -> str:
        clock.back(ago)
        purpose = investigation if who.agency == "police" else risk
        lead = (await desk.submit(who, purpose, f"demo-{key}", SubmitInput(**given))).lead.id
        ids.append(lead)
        return lead

    async def step(ago: float, call: Callable[[], Any]) -> None:
        clock.back(ago)
        await call()

    # waiting for verification: the scenario's enterprise, reported by the bank
    await submit(
        "waiting",
        bank,
        2 * DAY,
        category=LeadCategory.ILLEGAL_FUNDRAISING,
        description=f"{name}通过线上平台承诺年化18%收益，分散转入、集中转出",
        subjects=(scenario["enterprise_uscc"],),
        amount=3_200_000.0,
        victims=45,
    )
    # verified, and unfounded
    verified = await submit(
        "verified",
        bank,
        12 * DAY,
        category=LeadCategory.ILLEGAL_SECURITIES,
        description="某投资咨询公司无证推荐股票、代客理财",
        subjects=(_uscc(1),),
        amount=800_000.0,
        victims=12,
    )
    await step(
        10 * DAY,
        lambda: desk.verify(
            market,
            supervision,
            "demo-verified-v",
            verified,
            LeadState.VERIFIED,
            "经营范围不含证券投资咨询",
        ),
    )
    unfounded = await submit(
        "unfounded",
        court,
        25 * DAY,
        category=LeadCategory.OTHER,
        description="执行中发现某公司疑似以会员卡名义吸收资金",
        subjects=(_uscc(2),),
        amount=150_000.0,
        victims=3,
    )
    await step(
        20 * DAY,
        lambda: desk.verify(
            market,
            supervision,
            "demo-unfounded-v",
            unfounded,
            LeadState.UNFOUNDED,
            "系正常预付卡业务，已备案",
        ),
    )
    # referred to the police, waiting for a case
    referred = await submit(
        "referred",
        bank,
        9 * DAY,
        category=LeadCategory.FINANCIAL_FRAUD,
        description="个人账户定期批量小额转出，疑似集资款分流",
        subjects=(f"account:{scenario['person_account_number']}",),
        region="110105",
        amount=1_600_000.0,
        victims=60,
    )
    await step(
        8 * DAY,
        lambda: desk.verify(
            market,
            supervision,
            "demo-referred-v",
            referred,
            LeadState.VERIFIED,
            "资金流向与集资特征相符",
        ),
    )
    await step(
        5 * DAY,
        lambda: desk.refer(
            office,
            supervision,
            "demo-referred-r",
            referred,
            "市公安局经侦支队",
            "请依法审查是否立案",
        ),
    )
    # a case opened from a lead, with the joint team and feedback
    opened = await submit(
        "opened",
        bank,
        20 * DAY,
        category=LeadCategory.ILLEGAL_FUNDRAISING,
        description=f"{name}及其法定代表人以高息为诱饵向社会公众吸收资金",
        subjects=(scenario["enterprise_uscc"], f"resident-id:{scenario['person_id']}"),
        amount=6_500_000.0,
        victims=85,
    )
    case = f"J110105{year}900001"
    await step(
        18 * DAY,
        lambda: desk.verify(
            market,
            supervision,
            "demo-opened-v",
            opened,
            LeadState.VERIFIED,
            "无集资许可，涉案人数众多",
        ),
    )
    await step(
        16 * DAY,
        lambda: desk.refer(office, supervision, "demo-opened-r", opened, "市公安局经侦支队", ""),
    )
    await step(
        15 * DAY,
        lambda: desk.open_case(
            police,
            investigation,
            "demo-opened-o",
            opened,
            case,
            f"{name}涉嫌非法吸收公众存款案（线索立案）",
            ["police.investigator", "jit.member"],
            TEAM,
        ),
    )
    on_case = Declaration(Purpose.INVESTIGATION, case)
    await step(
        6 * DAY,
        lambda: desk.record_feedback(
            police, on_case, "demo-opened-f", opened, "已冻结涉案账户两个，正在调取交易流水"
        ),
    )
    # a case opened and closed
    closed = await submit(
        "closed",
        police,
        70 * DAY,
        category=LeadCategory.FINANCIAL_FRAUD,
        description="某公司以虚构理财产品骗取投资款",
        subjects=(_uscc(3),),
        amount=2_400_000.0,
        victims=40,
    )
    closed_case = f"J440300{year}900002"
    await step(
        68 * DAY,
        lambda: desk.verify(
            office, supervision, "demo-closed-v", closed, LeadState.VERIFIED, "核实属实"
        ),
    )
    await step(
        66 * DAY,
        lambda: desk.refer(office, supervision, "demo-closed-r", closed, "市公安局经侦支队", ""),
    )
    await step(
        65 * DAY,
        lambda: desk.open_case(
            police,
            investigation,
            "demo-closed-o",
            closed,
            closed_case,
            "某公司集资诈骗案",
            [],
            None,
        ),
    )
    await step(
        10 * DAY,
        lambda: desk.close_case(
            police,
            Declaration(Purpose.INVESTIGATION, closed_case),
            "demo-closed-c",
            closed_case,
            "已移送审查起诉",
        ),
    )
    # major events: one overdue, one acknowledged in time
    await submit(
        "major-overdue",
        bank,
        30 * HOUR,
        category=LeadCategory.ILLEGAL_FUNDRAISING,
        description="某养老服务公司以“床位返租”名义吸收资金，兑付困难，群体聚集风险",
        subjects=(_uscc(4),),
        amount=58_000_000.0,
        victims=1_200,
    )
    acknowledged = await submit(
        "major-acknowledged",
        bank,
        4 * DAY,
        category=LeadCategory.ILLEGAL_FUNDRAISING,
        description="某农业合作社超范围吸收社员以外人员资金",
        subjects=(_uscc(5),),
        amount=12_000_000.0,
        victims=300,
    )
    await step(
        3 * DAY,
        lambda: desk.acknowledge(
            office, supervision, "demo-major-ack", acknowledged, "已收到报告，已通报属地"
        ),
    )
    return ids
