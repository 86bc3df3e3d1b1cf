"""Reading the office's record: filters, paging with an opaque cursor, totals of what the
caller may read, cases, indicators by period, region and category; decisions with the policy
engine in force at the time of each call."""

from __future__ import annotations

import pytest

from kernel.workflow import CaseState, LeadCategory, LeadFilter, LeadState, WorkflowError
from policies.db import Database
from policies.engine import PolicyEngine, load_bundle
from tests.office.conftest import (
    CATALOG,
    ENGINE,
    T0,
    Office,
    declared,
    make_office,
    official,
    submission,
)
from tests.office.test_desk import to_state

BANK, MARKET, OFFICE = (
    official("bank.analyst"),
    official("market.officer"),
    official("office.coordinator"),
)
RISK, SUPERVISION = declared("risk-monitoring"), declared("supervision")
DAY = 86400.0


async def test_leads_are_filtered_and_paged_newest_first(office: Office) -> None:
    desk, clock = office.desk, office.clock
    ids = []
    for n in range(7):
        category = LeadCategory.FINANCIAL_FRAUD if n % 2 else LeadCategory.ILLEGAL_FUNDRAISING
        ids.append((await desk.submit(BANK, RISK, f"k{n}", submission(n, category=category)))
                   .lead.id)  # fmt: skip
        clock.now += 60
    page = await desk.leads(BANK, RISK, LeadFilter(), 3, None)
    assert [lead.id for lead in page.items] == ids[::-1][:3] and page.total == 7
    seen = list(page.items)
    while page.next_cursor is not None:
        page = await desk.leads(BANK, RISK, LeadFilter(), 3, page.next_cursor)
        assert page.total == 7
        seen += page.items
    assert [lead.id for lead in seen] == ids[::-1]
    fraud = await desk.leads(BANK, RISK, LeadFilter(category=LeadCategory.FINANCIAL_FRAUD), 10,
                             None)  # fmt: skip
    assert [lead.id for lead in fraud.items] == [ids[5], ids[3], ids[1]]
    named = await desk.leads(BANK, RISK, LeadFilter(subject=submission(4).subjects[0]), 10, None)
    assert [lead.id for lead in named.items] == [ids[4]]
    window = LeadFilter(submitted_from=T0 + 60, submitted_to=T0 + 180)
    assert [lead.id for lead in (await desk.leads(BANK, RISK, window, 10, None)).items] == [
        ids[2], ids[1]]  # fmt: skip
    assert (await desk.leads(BANK, RISK, LeadFilter(region="11"), 10, None)).total == 7
    assert (await desk.leads(BANK, RISK, LeadFilter(region="44"), 10, None)).total == 0
    await desk.verify(MARKET, SUPERVISION, "v", ids[0], LeadState.VERIFIED, "f")
    verified = LeadFilter(states=(LeadState.VERIFIED,))
    assert [lead.id for lead in (await desk.leads(BANK, RISK, verified, 10, None)).items] == [
        ids[0]]  # fmt: skip
    for bad in ("nonsense", "e30"):
        with pytest.raises(WorkflowError) as caught:
            await desk.leads(BANK, RISK, LeadFilter(), 3, bad)
        assert caught.value.code == "BAD_USER_INPUT"
    with pytest.raises(WorkflowError):
        await desk.leads(BANK, RISK, LeadFilter(), 0, None)


async def test_totals_count_only_what_the_caller_may_read(office: Office) -> None:
    desk = office.desk
    police, court = official("police.investigator"), official("court.clerk")
    await desk.submit(police, declared("investigation"), "a", submission(1))
    await desk.submit(court, RISK, "b", submission(2))
    # each its own; the office both; regulators both (they wait for verification)
    assert (await desk.leads(court, RISK, LeadFilter(), 10, None)).total == 1
    assert (await desk.leads(police, declared("investigation"), LeadFilter(), 10, None)).total == 1
    assert (await desk.leads(OFFICE, SUPERVISION, LeadFilter(), 10, None)).total == 2
    assert (await desk.leads(MARKET, SUPERVISION, LeadFilter(), 10, None)).total == 2
    assert (await desk.leads(BANK, RISK, LeadFilter(), 10, None)).total == 2
    auditor = official("auditor")
    assert (await desk.leads(auditor, declared("audit"), LeadFilter(), 10, None)).total == 2
    # purpose audit is the auditors' alone (90-forbid.cedar): for others nothing is there
    assert (await desk.leads(court, declared("audit"), LeadFilter(), 10, None)).total == 0


async def test_cases_opened_here_are_listed_for_those_who_may_read_them(office: Office) -> None:
    desk = office.desk
    await to_state(office, LeadState.CASE_OPENED, 1)
    await to_state(office, LeadState.CLOSED, 2)
    police = official("police.investigator")
    page = await desk.cases(police, declared("investigation"), None, 10, None)
    assert [c.number for c in page.items] == ["J1101052026000002", "J1101052026000001"]
    open_ = await desk.cases(police, declared("investigation"), CaseState.OPEN, 10, None)
    assert [c.state for c in open_.items] == [CaseState.OPEN] and open_.total == 1
    case = await desk.case(police, declared("investigation"), "j1101052026000001")
    assert case.lead_id is not None and case.officials == ("police.investigator",)
    court = official("court.clerk")
    assert (await desk.cases(court, declared("enforcement"), None, 10, None)).total == 0
    for number in ("J1101052026000001", "J1101052026000999"):
        with pytest.raises(WorkflowError) as caught:
            await desk.case(court, declared("enforcement"), number)
        assert (caught.value.code, caught.value.message) == ("CASE_NOT_FOUND", "no such case")


async def test_indicators_by_period_region_and_category(office: Office) -> None:
    desk, clock = office.desk, office.clock
    lead = await to_state(office, LeadState.CASE_OPENED, 1)  # May 2026 (UTC+8)
    clock.now = T0 + 10 * DAY  # June
    await desk.close_case(official("police.investigator"),
                          declared("investigation", "J1101052026000001"), "c", "J1101052026000001",
                          "")  # fmt: skip
    await desk.submit(BANK, RISK, "j", submission(9, amount=2e7, victims=150, region="440300",
                                                  category=LeadCategory.FINANCIAL_FRAUD))  # fmt: skip
    rows = await desk.indicators(OFFICE, SUPERVISION, "MONTH", "2026-04", "2026-06", [])
    assert [r.period for r in rows] == ["2026-04", "2026-05", "2026-06"]
    may, june = rows[1], rows[2]
    assert (may.leads, may.verified, may.referred, may.cases_opened, may.cases_closed) == (
        1, 1, 1, 1, 0)  # fmt: skip
    assert (june.leads, june.major_leads, june.cases_closed, june.victims) == (1, 1, 1, 150)
    assert june.amount == 2e7 and rows[0].leads == 0
    quarter = await desk.indicators(OFFICE, SUPERVISION, "QUARTER", "2026-Q2", "2026-Q2",
                                    ["REGION", "CATEGORY"])  # fmt: skip
    assert [(r.period, r.region, r.category, r.leads) for r in quarter] == [
        ("2026-Q2", "110105", LeadCategory.ILLEGAL_FUNDRAISING, 1),
        ("2026-Q2", "440300", LeadCategory.FINANCIAL_FRAUD, 1),
    ]
    # what the caller may not read is not counted
    court = await desk.indicators(official("court.clerk"), RISK, "QUARTER", "2026-Q2", "2026-Q2",
                                  [])  # fmt: skip
    assert court[0].leads == 0
    assert lead
    with pytest.raises(WorkflowError) as caught:
        await desk.indicators(OFFICE, SUPERVISION, "MONTH", "2026-06", "2026-04", [])
    assert caught.value.code == "BAD_USER_INPUT"


async def test_decisions_use_the_engine_in_force_at_each_call(
    database: Database, policy_copy: object
) -> None:
    from pathlib import Path

    directory = Path(str(policy_copy))
    (directory / "95-no-submit.cedar").write_text(
        '@id("no-submissions")\nforbid (principal, action == JointGate::Action::"submitLead",'
        " resource);\n"
    )
    stricter = PolicyEngine(load_bundle(directory, CATALOG), CATALOG)
    in_force = [ENGINE]
    office = make_office(database, engine=lambda: in_force[0])
    assert (await office.desk.submit(BANK, RISK, "a", submission(1))).lead
    in_force[0] = stricter  # a reload
    with pytest.raises(WorkflowError) as caught:
        await office.desk.submit(BANK, RISK, "b", submission(2))
    assert caught.value.code == "ACTION_FORBIDDEN"
