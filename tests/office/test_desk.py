"""OfficeDesk end to end on SQLite and PostgreSQL: the demo's flow from submission to closed
case as the right officials, each action refused as the wrong ones, every illegal transition,
idempotent retries, and no oracle for leads one may not read."""

from __future__ import annotations

import pytest

from kernel.workflow import (
    TRANSITIONS,
    Action,
    CaseState,
    EventKind,
    LeadFilter,
    LeadState,
    WorkflowError,
)
from policies.cases import Subject
from tests.gateway.conftest import card, uscc
from tests.office.conftest import TEAM, Office, declared, official, submission

CASE = "J1101052026000777"
BANK, MARKET, OFFICE = (
    official("bank.analyst"),
    official("market.officer"),
    official("office.coordinator"),
)
POLICE, JIT, COURT = (
    official("police.investigator"),
    official("jit.member"),
    official("court.clerk"),
)
RISK, SUPERVISION = declared("risk-monitoring"), declared("supervision")
INVESTIGATION, ON_CASE = declared("investigation"), declared("investigation", CASE)


async def refused(code: str, call: object) -> WorkflowError:
    with pytest.raises(WorkflowError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code == code, caught.value.message
    return caught.value


async def to_state(office: Office, state: LeadState, n: int = 1) -> str:
    """A lead driven to ``state`` by the demo's officials; its id."""
    desk = office.desk
    lead = (await desk.submit(BANK, RISK, f"s{n}", submission(n))).lead.id
    if state is LeadState.SUBMITTED:
        return lead
    outcome = LeadState.UNFOUNDED if state is LeadState.UNFOUNDED else LeadState.VERIFIED
    await desk.verify(MARKET, SUPERVISION, f"v{n}", lead, outcome, "核实")
    if state in (LeadState.VERIFIED, LeadState.UNFOUNDED):
        return lead
    await desk.refer(OFFICE, SUPERVISION, f"r{n}", lead, "市公安局经侦支队", "")
    if state is LeadState.REFERRED:
        return lead
    number = f"J110105202600{n:04d}"
    await desk.open_case(POLICE, INVESTIGATION, f"o{n}", lead, number, "案", [POLICE.subject], None)
    if state is LeadState.CASE_OPENED:
        return lead
    await desk.close_case(POLICE, declared("investigation", number), f"c{n}", number, "结案")
    return lead


async def test_the_demo_flow_from_lead_to_closed_case(office: Office) -> None:
    desk = office.desk
    done = await desk.submit(BANK, RISK, "k1", submission())
    lead = done.lead.id
    assert lead == "L-2026-000001" and done.lead.region == "110105"
    assert [(c.before, c.after) for c in done.changes] == [(None, "SUBMITTED")]
    assert [e.kind for e in done.events] == [EventKind.SUBMITTED]

    # bank.analyst may not verify its own agency's lead; market.officer may
    await refused("ACTION_FORBIDDEN", desk.verify(BANK, SUPERVISION, "k2", lead,
                                                  LeadState.VERIFIED, "x"))  # fmt: skip
    done = await desk.verify(MARKET, SUPERVISION, "k2", lead, LeadState.VERIFIED, "核实属实")
    assert done.lead.state is LeadState.VERIFIED
    assert done.lead.verification is not None and done.lead.verification.by_agency == "market"

    # the police do not see it before it is referred to them
    await refused("LEAD_NOT_FOUND", desk.lead(POLICE, INVESTIGATION, lead))
    done = await desk.refer(OFFICE, SUPERVISION, "k3", lead, "市公安局经侦支队", "请依法立案")
    assert done.lead.state is LeadState.REFERRED and done.lead.referral is not None
    assert (await desk.lead(POLICE, INVESTIGATION, lead)).state is LeadState.REFERRED

    # feedback before a case: any investigator of the receiving agency
    done = await desk.record_feedback(POLICE, INVESTIGATION, "k4", lead, "已受理，正在初查")
    assert [f.note for f in done.lead.feedback] == ["已受理，正在初查"]

    # the court clerk and the market officer cannot open the case
    await refused("LEAD_NOT_FOUND", desk.open_case(COURT, INVESTIGATION, "k5", lead, CASE, "案",
                                                   [], None))  # fmt: skip
    await refused("ACTION_FORBIDDEN", desk.open_case(MARKET, SUPERVISION, "k5", lead, CASE, "案",
                                                     [], None))  # fmt: skip
    done = await desk.open_case(POLICE, INVESTIGATION, "k5", lead, CASE, "某公司非法吸收公众存款案",
                                [POLICE.subject, JIT.subject], TEAM)  # fmt: skip
    assert done.lead.state is LeadState.CASE_OPENED and done.case is not None
    assert done.case.officials == ("jit.member", "police.investigator")
    assert done.case.team == TEAM and done.case.state is CaseState.OPEN
    assert [(c.entity, c.before, c.after) for c in done.changes] == [
        ("lead", "REFERRED", "CASE_OPENED"), ("case", None, "OPEN")]  # fmt: skip
    registered = office.cases.get(CASE)
    assert registered.source == "workflow" and registered.open
    assert {s.identifier for s in registered.subjects} == {s.identifier for s in done.lead.subjects}
    assert CASE in office.teams.get(TEAM).cases

    # once the case is open, feedback needs the case declared and an assignment
    await refused("ACTION_FORBIDDEN", desk.record_feedback(POLICE, INVESTIGATION, "k6", lead, "x"))
    done = await desk.record_feedback(POLICE, ON_CASE, "k6", lead, "已冻结涉案账户")
    assert len(done.lead.feedback) == 2
    # jit.member reads it through the case (assigned) too
    assert (await desk.lead(JIT, ON_CASE, lead)).case_number == CASE

    await refused("ACTION_FORBIDDEN", desk.close_case(MARKET, SUPERVISION, "k7", CASE, ""))
    await refused("CASE_NOT_FOUND", desk.close_case(COURT, ON_CASE, "k7", CASE, ""))
    done = await desk.close_case(POLICE, ON_CASE, "k7", CASE, "移送审查起诉")
    assert done.lead.state is LeadState.CLOSED and done.case is not None
    assert done.case.state is CaseState.CLOSED and done.case.closing_note == "移送审查起诉"
    assert not office.cases.get(CASE).open
    assert [e.kind for e in office.published] == [
        EventKind.SUBMITTED, EventKind.VERIFIED, EventKind.REFERRED, EventKind.FEEDBACK,
        EventKind.CASE_OPENED, EventKind.FEEDBACK, EventKind.CLOSED,
    ]  # fmt: skip
    history = office.desk.store.history(lead)
    assert [(h[1], h[2], h[3], h[5]) for h in history] == [
        ("submitLead", None, "SUBMITTED", "banking"),
        ("verifyLead", "SUBMITTED", "VERIFIED", "market"),
        ("referLead", "VERIFIED", "REFERRED", "office"),
        ("recordFeedback", "REFERRED", "REFERRED", "police"),
        ("openCase", "REFERRED", "CASE_OPENED", "police"),
        ("recordFeedback", "CASE_OPENED", "CASE_OPENED", "police"),
        ("closeCase", "CASE_OPENED", "CLOSED", "police"),
    ]


async def test_who_may_submit(office: Office) -> None:
    desk = office.desk
    for who in ("police.investigator", "market.officer", "court.clerk", "office.coordinator"):
        assert (await desk.submit(official(who), RISK, f"k-{who}", submission())).lead
    for who in ("auditor", "policy.admin"):
        await refused("ACTION_FORBIDDEN", desk.submit(official(who), RISK, "k", submission()))
    # purpose: enforcement is not one the workflow serves; audit only reads
    await refused("ACTION_FORBIDDEN", desk.submit(BANK, declared("enforcement"), "k", submission()))
    await refused("ACTION_FORBIDDEN", desk.submit(BANK, declared("audit"), "k", submission()))
    # break-glass widens nothing, and needs a justification besides
    glass = declared("risk-monitoring", break_glass="紧急")
    await refused("ACTION_FORBIDDEN", desk.submit(official("auditor"), glass, "k", submission()))


async def test_the_wrong_officials_are_refused_each_action(office: Office) -> None:
    desk = office.desk
    submitted = await to_state(office, LeadState.SUBMITTED, 1)
    await refused("ACTION_FORBIDDEN", desk.verify(MARKET, INVESTIGATION, "a", submitted,
                                                  LeadState.VERIFIED, "x"))  # fmt: skip
    await refused("LEAD_NOT_FOUND", desk.verify(POLICE, SUPERVISION, "a", submitted,
                                                LeadState.VERIFIED, "x"))  # fmt: skip
    verified = await to_state(office, LeadState.VERIFIED, 2)
    await refused("ACTION_FORBIDDEN", desk.refer(BANK, SUPERVISION, "b", verified, "u", ""))
    await refused("LEAD_NOT_FOUND", desk.refer(COURT, SUPERVISION, "b", verified, "u", ""))
    referred = await to_state(office, LeadState.REFERRED, 3)
    await refused("ACTION_FORBIDDEN", desk.open_case(POLICE, SUPERVISION, "c", referred, CASE,
                                                     "t", [], None))  # fmt: skip
    await refused("ACTION_FORBIDDEN", desk.record_feedback(BANK, RISK, "d", referred, "x"))
    opened = await to_state(office, LeadState.CASE_OPENED, 4)
    number = "J1101052026000004"
    # police officials not assigned to the case see the lead (referred to the police), and
    # may not close its case; the court's clerk does not even see it
    for who in ("jit.member", "duty.officer"):
        await refused("ACTION_FORBIDDEN", desk.close_case(
            official(who), declared("investigation", number), "e", number, ""))  # fmt: skip
    await refused("CASE_NOT_FOUND", desk.close_case(COURT, declared("investigation", number),
                                                    "e", number, ""))  # fmt: skip
    await refused("ACTION_FORBIDDEN", desk.acknowledge(BANK, RISK, "f", opened, ""))
    await refused("ACTION_FORBIDDEN", desk.acknowledge(official("auditor"), declared("audit"),
                                                       "f", opened, ""))  # fmt: skip
    assert (await desk.lead(official("auditor"), declared("audit"), opened)).id == opened


@pytest.mark.parametrize(
    "state",
    [LeadState.SUBMITTED, LeadState.VERIFIED, LeadState.UNFOUNDED, LeadState.REFERRED,
     LeadState.CASE_OPENED, LeadState.CLOSED],
)  # fmt: skip
async def test_every_illegal_transition_is_refused(office: Office, state: LeadState) -> None:
    desk = office.desk
    lead = await to_state(office, state)
    number = "J1101052026000001"
    attempts = {
        Action.VERIFY: (OFFICE, SUPERVISION, lambda: desk.verify(
            OFFICE, SUPERVISION, "x1", lead, LeadState.VERIFIED, "x")),
        Action.REFER: (OFFICE, SUPERVISION, lambda: desk.refer(
            OFFICE, SUPERVISION, "x2", lead, "u", "")),
        Action.OPEN_CASE: (POLICE, INVESTIGATION, lambda: desk.open_case(
            POLICE, INVESTIGATION, "x3", lead, "J1101052026000999", "t", [], None)),
        Action.FEEDBACK: (POLICE, declared("investigation", number), lambda: desk.record_feedback(
            POLICE, declared("investigation", number), "x4", lead, "x")),
        Action.CLOSE_CASE: (POLICE, declared("investigation", number), lambda: desk.close_case(
            POLICE, declared("investigation", number), "x5", number, "")),
    }  # fmt: skip
    for action, (_, _, attempt) in attempts.items():
        if (action, state) in TRANSITIONS:
            continue
        with pytest.raises(WorkflowError) as caught:
            await attempt()
        # the police see only leads referred to them: one not yet referred is not there for
        # them (no oracle), nor is the case of a lead without one; else the state machine refuses
        unreferred = state in (LeadState.SUBMITTED, LeadState.VERIFIED, LeadState.UNFOUNDED)
        if action is Action.CLOSE_CASE and (unreferred or state is LeadState.REFERRED):
            expected = "CASE_NOT_FOUND"
        elif action in (Action.OPEN_CASE, Action.FEEDBACK) and unreferred:
            expected = "LEAD_NOT_FOUND"
        else:
            expected = "ILLEGAL_TRANSITION"
        assert caught.value.code == expected, (action, state, caught.value.message)
        if expected == "ILLEGAL_TRANSITION":
            assert caught.value.details["state"] == state.value
    assert (await desk.lead(OFFICE, SUPERVISION, lead)).state is state  # nothing changed


async def test_idempotent_retry_and_reuse(office: Office) -> None:
    desk = office.desk
    first = await desk.submit(BANK, RISK, "same", submission())
    office.published.clear()
    again = await desk.submit(BANK, RISK, "same", submission())
    assert again.replayed and again.lead.id == first.lead.id and again.events == ()
    assert [c.replayed for c in again.changes] == [True] and office.published == []
    assert (await desk.leads(BANK, RISK, LeadFilter(), 10, None)).total == 1
    reused = await refused("IDEMPOTENCY_KEY_REUSED",
                           desk.submit(BANK, RISK, "same", submission(2)))  # fmt: skip
    assert "idempotency key" in reused.message
    # a key is the caller's own: another official may use the same one
    assert not (await desk.submit(POLICE, INVESTIGATION, "same", submission(3))).replayed
    done = await desk.verify(MARKET, SUPERVISION, "v", first.lead.id, LeadState.VERIFIED, "f")
    retry = await desk.verify(MARKET, SUPERVISION, "v", first.lead.id, LeadState.VERIFIED, "f")
    assert retry.replayed and retry.lead.state is LeadState.VERIFIED
    assert [c.after for c in retry.changes] == [c.after for c in done.changes]
    assert len(office.desk.store.history(first.lead.id)) == 2  # nothing written by the retry
    await refused("IDEMPOTENCY_KEY_REUSED", desk.verify(MARKET, SUPERVISION, "v", first.lead.id,
                                                        LeadState.UNFOUNDED, "f"))  # fmt: skip


async def test_a_lead_one_may_not_read_answers_exactly_like_a_missing_one(office: Office) -> None:
    desk = office.desk
    lead = await to_state(office, LeadState.VERIFIED)  # verified by market: not the court's
    hidden = await refused("LEAD_NOT_FOUND", desk.lead(COURT, INVESTIGATION, lead))
    missing = await refused("LEAD_NOT_FOUND", desk.lead(COURT, INVESTIGATION, "L-2026-999999"))
    assert (hidden.message, hidden.details) == (missing.message, missing.details)
    acting = await refused("LEAD_NOT_FOUND", desk.refer(COURT, SUPERVISION, "r", lead, "u", ""))
    assert (acting.message, acting.details) == (missing.message, missing.details)
    page = await desk.leads(COURT, INVESTIGATION, LeadFilter(), 10, None)
    assert page.items == () and page.total == 0
    assert await desk.readable(COURT, INVESTIGATION, [lead]) == frozenset()
    assert await desk.readable(MARKET, SUPERVISION, [lead]) == {lead}


async def test_bad_input_is_refused_with_the_field_named(office: Office) -> None:
    desk = office.desk
    bad = submission(subjects=("91110105MA0000001X",))
    error = await refused("BAD_USER_INPUT", desk.submit(BANK, RISK, "k", bad))
    assert error.message.startswith("subjects[0]:") and "91110105" not in error.message
    for wrong, field in (
        (submission(amount=-1.0), "amount"), (submission(victims=-3), "victims"),
        (submission(amount=1e308), "amount"), (submission(victims=2**31 - 1), "victims"),
        (submission(description="x" * 4001), "description"),
        (submission(description="a\x07b"), "description"), (submission(region="12"), "region"),
    ):  # fmt: skip
        error = await refused("BAD_USER_INPUT", desk.submit(BANK, RISK, "k", wrong))
        assert error.details["field"] == field
    await refused("BAD_USER_INPUT", desk.submit(BANK, RISK, "", submission()))
    lead = await to_state(office, LeadState.SUBMITTED)
    await refused("BAD_USER_INPUT", desk.verify(MARKET, SUPERVISION, "v", lead,
                                                LeadState.REFERRED, "x"))  # fmt: skip
    assert (await desk.leads(BANK, RISK, LeadFilter(), 10, None)).total == 1  # nothing stored


async def test_a_team_member_of_the_case_works_on_it_through_the_team(office: Office) -> None:
    desk = office.desk
    lead = await to_state(office, LeadState.REFERRED)
    await desk.open_case(POLICE, INVESTIGATION, "o", lead, CASE, "案", [POLICE.subject], TEAM)
    assert office.cases.get(CASE).officials == ("police.investigator",)  # jit.member is not one
    done = await desk.record_feedback(JIT, ON_CASE, "f", lead, "联合专案组已介入")
    assert done.lead.feedback[-1].by == "jit.member"
    office.teams.remove_member(TEAM, "jit.member", by="office.coordinator")
    # out of the team: no longer assigned; the police still see the lead, not act on its case
    await refused("ACTION_FORBIDDEN", desk.record_feedback(JIT, ON_CASE, "g", lead, "x"))


async def test_subjects_may_say_their_kind(office: Office) -> None:
    both = submission(subjects=(f"uscc={submission(5).subjects[0]}", "account:" + card(7)))
    done = await office.desk.submit(BANK, RISK, "k", both)
    assert [s.kind for s in done.lead.subjects] == ["uscc", "account"]
    with pytest.raises(WorkflowError) as caught:
        await office.desk.submit(BANK, RISK, "k2", submission(subjects=(f"uscc={card(7)}",)))
    assert caught.value.message.startswith("subjects[0]:")


async def test_events_are_published_on_the_event_loops_thread_after_the_commit(
    office: Office,
) -> None:
    import threading

    seen: list[tuple[int, int]] = []

    def publish(event: object) -> None:
        rows = office.db.query("SELECT count(*) FROM jg_leads")
        seen.append((threading.get_ident(), int(rows[0][0])))

    office.desk.publish = publish
    await office.desk.submit(BANK, RISK, "k", submission())
    assert seen == [(threading.get_ident(), 1)]  # this thread; the lead already committed


async def test_a_case_joins_only_a_team_investigating_the_leads_subjects(office: Office) -> None:
    """openCase named any open team: the opener widened its members' access to subjects nobody
    gave them, and learnt which teams exist ("no such open joint team"). Now a team not
    investigating one of the lead's subjects answers as one that does not exist."""
    desk = office.desk
    office.cases.register("JIT-2026-002", agency="office", title="另案", by="office.coordinator",
                          subjects=[Subject("uscc", uscc(9))])  # fmt: skip
    office.teams.create("JIT-OTHER", ["JIT-2026-002"], created_by="office.coordinator")
    lead = await to_state(office, LeadState.REFERRED)
    for team in ("JIT-OTHER", "NO-SUCH-TEAM"):
        error = await refused("BAD_USER_INPUT", desk.open_case(
            POLICE, INVESTIGATION, f"o-{team}", lead, CASE, "案", [POLICE.subject], team))  # fmt: skip
        assert error.message == "no open joint team investigating this lead's subjects"
    assert CASE not in office.teams.get("JIT-OTHER").cases
    done = await desk.open_case(POLICE, INVESTIGATION, "o", lead, CASE, "案", [POLICE.subject],
                                TEAM)  # fmt: skip
    assert done.case is not None and done.case.team == TEAM
