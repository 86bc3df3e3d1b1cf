"""Major events: flagged by amount, victims and growth; acknowledged by the joint office;
overdue after the deadline, claimed once across replicas (two desks on one PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from kernel.workflow import EventKind, LeadFilter
from office.settings import OfficeSettings
from policies.db import Database
from tests.office.conftest import T0, Clock, Office, declared, make_office, official, submission
from tests.policies.conftest import PG

BANK, OFFICE = official("bank.analyst"), official("office.coordinator")
COURT = official("court.clerk")
RISK, SUPERVISION = declared("risk-monitoring"), declared("supervision")
HOUR, DAY = 3600.0, 86400.0


async def test_amount_and_victims_flag_a_lead_major_with_a_deadline(office: Office) -> None:
    desk = office.desk
    small = await desk.submit(BANK, RISK, "a", submission(1, amount=9_999_999.0, victims=99))
    assert not small.lead.major and small.lead.major_deadline is None
    big = await desk.submit(BANK, RISK, "b", submission(2, amount=10_000_000.0))
    assert big.lead.major_reasons == ("amount",)
    assert big.lead.major_deadline == T0 + 24 * HOUR
    assert [e.kind for e in big.events] == [EventKind.SUBMITTED, EventKind.MAJOR_FLAGGED]
    many = await desk.submit(BANK, RISK, "c", submission(3, amount=None, victims=100))
    assert many.lead.major_reasons == ("victims",)


async def test_growth_against_earlier_leads_on_the_same_subjects(office: Office) -> None:
    desk, clock = office.desk, office.clock
    await desk.submit(BANK, RISK, "a", submission(1, amount=1_000_000.0))
    clock.now += 10 * DAY
    grew = await desk.submit(BANK, RISK, "b", submission(1, amount=1_999_999.0))
    assert not grew.lead.major  # less than doubled
    clock.now += 1 * DAY
    doubled = await desk.submit(BANK, RISK, "c", submission(1, amount=4_000_000.0))
    assert doubled.lead.major_reasons == ("growth",)  # against the largest earlier: 1,999,999
    other = await desk.submit(BANK, RISK, "d", submission(2, amount=4_000_000.0))
    assert not other.lead.major  # other subjects: nothing earlier to grow from
    clock.now += 31 * DAY
    late = await desk.submit(BANK, RISK, "e", submission(1, amount=9_000_000.0))
    assert not late.lead.major  # the earlier leads are outside the 30-day window


async def test_growth_counts_only_earlier_leads_the_submitter_may_read(office: Office) -> None:
    desk, clock = office.desk, office.clock
    hidden = await desk.submit(BANK, RISK, "a", submission(1, amount=1_000_000.0))
    with pytest.raises(Exception, match="no such lead"):
        await desk.lead(COURT, SUPERVISION, hidden.lead.id)  # the court may not read it
    clock.now += 1 * DAY
    probe = await desk.submit(COURT, SUPERVISION, "b", submission(1, amount=4_000_000.0))
    assert not probe.lead.major  # its growth would tell the court the bank's lead exists
    clock.now += 1 * DAY
    own = await desk.submit(BANK, RISK, "c", submission(1, amount=8_000_000.0))
    assert own.lead.major_reasons == ("growth",)  # the bank reads both earlier leads


async def test_thresholds_come_from_the_settings(database: Database) -> None:
    settings = OfficeSettings(major_amount=1_000.0, major_victims=5, major_deadline_h=2.0)
    office = make_office(database, settings)
    done = await office.desk.submit(BANK, RISK, "a", submission(1, amount=1_000.0, victims=5))
    assert done.lead.major_reasons == ("amount", "victims")
    assert done.lead.major_deadline == T0 + 2 * HOUR


async def test_acknowledged_in_time_is_never_overdue(office: Office) -> None:
    desk, clock = office.desk, office.clock
    lead = (await desk.submit(BANK, RISK, "a", submission(1, amount=2e7))).lead.id
    done = await desk.acknowledge(OFFICE, SUPERVISION, "ack", lead, "已收到报告")
    assert done.lead.major_acknowledged_by == "office.coordinator"
    assert [e.kind for e in done.events] == [EventKind.MAJOR_ACKNOWLEDGED]
    assert [(c.before, c.after) for c in done.changes] == [("SUBMITTED", "SUBMITTED")]
    clock.now += 25 * HOUR
    assert await desk.sweep_overdue() == []
    assert await desk.overdue_count() == 0
    with pytest.raises(Exception, match="not yet acknowledged"):
        await desk.acknowledge(OFFICE, SUPERVISION, "ack2", lead, "")


async def test_overdue_shows_in_the_filter_the_count_and_one_event(office: Office) -> None:
    desk, clock = office.desk, office.clock
    lead = (await desk.submit(BANK, RISK, "a", submission(1, amount=2e7))).lead.id
    await desk.submit(BANK, RISK, "b", submission(2))
    overdue = LeadFilter(overdue=True)
    clock.now += 24 * HOUR
    assert (await desk.leads(OFFICE, SUPERVISION, overdue, 10, None)).total == 0
    assert await desk.sweep_overdue() == []
    clock.now += 1
    page = await desk.leads(OFFICE, SUPERVISION, overdue, 10, None)
    assert [lead_.id for lead_ in page.items] == [lead] and page.items[0].overdue(clock.now)
    assert (await desk.leads(OFFICE, SUPERVISION, LeadFilter(overdue=False), 10, None)).total == 1
    assert await desk.overdue_count() == 1
    events = await desk.sweep_overdue()
    assert [(e.kind, e.lead_id) for e in events] == [(EventKind.MAJOR_OVERDUE, lead)]
    assert office.published[-1] == events[0]
    assert await desk.sweep_overdue() == []  # claimed once
    assert await desk.overdue_count() == 1  # still overdue until acknowledged
    await desk.acknowledge(OFFICE, SUPERVISION, "ack", lead, "迟报")
    assert await desk.overdue_count() == 0


@pytest.fixture
def shared_postgres() -> Iterator[tuple[Database, Database]]:
    schema = f"jg_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG}?options=-csearch_path%3D{schema}"
    first, second = Database(url), Database(url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_two_replicas_sweeping_together_claim_each_overdue_lead_once(
    shared_postgres: tuple[Database, Database],
) -> None:
    clock = Clock()
    one = make_office(shared_postgres[0], clock=clock)
    two = make_office(shared_postgres[1], clock=clock)
    for n in range(12):
        await one.desk.submit(BANK, RISK, f"k{n}", submission(n, amount=2e7))
    clock.now += 25 * HOUR
    rounds = await asyncio.gather(
        *(desk.sweep_overdue() for _ in range(3) for desk in (one.desk, two.desk))
    )
    claimed = [e.lead_id for events in rounds for e in events]
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 12
    overdue = [e for e in one.published + two.published if e.kind is EventKind.MAJOR_OVERDUE]
    assert sorted(e.lead_id for e in overdue) == sorted(claimed)


async def test_two_replicas_verifying_one_lead_at_once_one_wins(
    shared_postgres: tuple[Database, Database],
) -> None:
    from kernel.workflow import LeadState, WorkflowError

    one, two = make_office(shared_postgres[0]), make_office(shared_postgres[1])
    for n in range(5):
        lead = (await one.desk.submit(BANK, RISK, f"s{n}", submission(n))).lead.id
        results = await asyncio.gather(
            one.desk.verify(OFFICE, SUPERVISION, f"a{n}", lead, LeadState.VERIFIED, "a"),
            two.desk.verify(OFFICE, SUPERVISION, f"b{n}", lead, LeadState.UNFOUNDED, "b"),
            return_exceptions=True,
        )
        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1 and len(lost) == 1, results
        assert isinstance(lost[0], WorkflowError) and lost[0].code == "ILLEGAL_TRANSITION"
        assert len(one.desk.store.history(lead)) == 2  # submitted, and the one verification
