"""The workflow's Cedar rules (policies/60-workflow.cedar, decided by policies/actions.py):
who may do what to a lead, for the demo's officials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import policies.actions
from kernel.types import Declaration, Principal, Purpose
from kernel.workflow import Action
from policies.actions import ActionContext, LeadFacts, decide, decide_many
from policies.engine import DEFAULT_DIR, PolicyEngine, PolicyError, load_bundle
from sandbox.issuer import DEMO_USERS
from schema.unified import build_schema

CATALOG = build_schema().catalog
ENGINE = PolicyEngine(load_bundle(DEFAULT_DIR, CATALOG), CATALOG)

SUBMITTED = LeadFacts("banking", "bank.analyst", "SUBMITTED", "ILLEGAL_FUNDRAISING")
VERIFIED = LeadFacts("banking", "bank.analyst", "VERIFIED", "OTHER", verified_by_agency="market")
REFERRED = LeadFacts("banking", "bank.analyst", "REFERRED", "OTHER", verified_by_agency="market",
                     referred_to="police")  # fmt: skip
OPENED = LeadFacts("banking", "bank.analyst", "CASE_OPENED", "OTHER", verified_by_agency="market",
                   referred_to="police", case_number="J1101052026000777")  # fmt: skip
MAJOR = LeadFacts("banking", "bank.analyst", "SUBMITTED", "OTHER", major=True)


def user(name: str) -> Principal:
    u = DEMO_USERS[name]
    return Principal(u.subject, u.agency, frozenset(u.roles), u.clearance)


def ctx(purpose: str, *, on_case: bool = False, assigned: bool = False) -> ActionContext:
    return ActionContext(purpose, has_case=on_case, declared_case_matches=on_case,
                         assigned=assigned)  # fmt: skip


INV, SUP, RISK, AUDIT = (
    ctx("investigation"),
    ctx("supervision"),
    ctx("risk-monitoring"),
    ctx("audit"),
)
ON_CASE = ctx("investigation", on_case=True, assigned=True)

CASES = [
    # submitLead: members' working officials and the office's case-admin, for three purposes
    ("bank.analyst", Action.SUBMIT, SUBMITTED, RISK, True, "lead-submit-members"),
    ("police.investigator", Action.SUBMIT, SUBMITTED, INV, True, "lead-submit-members"),
    ("court.clerk", Action.SUBMIT, SUBMITTED, SUP, True, "lead-submit-members"),
    ("office.coordinator", Action.SUBMIT, SUBMITTED, SUP, True, "lead-submit-office"),
    ("bank.analyst", Action.SUBMIT, SUBMITTED, ctx("enforcement"), False, None),
    ("policy.admin", Action.SUBMIT, SUBMITTED, SUP, False, None),
    ("auditor", Action.SUBMIT, SUBMITTED, AUDIT, False, None),
    # verifyLead: a regulator of another agency, or the office; not investigating
    ("market.officer", Action.VERIFY, SUBMITTED, SUP, True, "lead-verify-regulators"),
    ("bank.analyst", Action.VERIFY, SUBMITTED, SUP, False, None),  # its own agency's lead
    ("bank.analyst", Action.VERIFY, LeadFacts("market"), SUP, True, "lead-verify-regulators"),
    ("office.coordinator", Action.VERIFY, SUBMITTED, RISK, True, "lead-verify-office"),
    ("market.officer", Action.VERIFY, SUBMITTED, INV, False, None),
    ("police.investigator", Action.VERIFY, SUBMITTED, SUP, False, None),
    # referLead: the office, or the agency that verified it
    ("office.coordinator", Action.REFER, VERIFIED, SUP, True, "lead-refer-office"),
    ("market.officer", Action.REFER, VERIFIED, SUP, True, "lead-refer-verifier"),
    ("bank.analyst", Action.REFER, VERIFIED, SUP, False, None),
    ("police.investigator", Action.REFER, VERIFIED, INV, False, None),
    # openCase: police investigators, a lead referred to the police, investigating
    ("police.investigator", Action.OPEN_CASE, REFERRED, INV, True, "lead-open-case-police"),
    ("police.investigator", Action.OPEN_CASE, VERIFIED, INV, False, None),
    ("police.investigator", Action.OPEN_CASE, REFERRED, SUP, False, None),
    ("court.clerk", Action.OPEN_CASE, REFERRED, INV, False, None),
    ("market.officer", Action.OPEN_CASE, REFERRED, SUP, False, None),
    # recordFeedback: the receiving agency; once a case is open, on it and assigned
    ("police.investigator", Action.FEEDBACK, REFERRED, INV, True, "lead-feedback-receiver"),
    ("market.officer", Action.FEEDBACK, REFERRED, SUP, False, None),
    ("police.investigator", Action.FEEDBACK, OPENED, INV, False, None),
    (
        "police.investigator",
        Action.FEEDBACK,
        OPENED,
        ctx("investigation", assigned=True),
        False,
        None,
    ),
    ("police.investigator", Action.FEEDBACK, OPENED, ON_CASE, True, "lead-feedback-case"),
    # closeCase: police, investigating the case, assigned to it
    ("police.investigator", Action.CLOSE_CASE, OPENED, ON_CASE, True, "lead-close-case"),
    (
        "police.investigator",
        Action.CLOSE_CASE,
        OPENED,
        ctx("investigation", on_case=True),
        False,
        None,
    ),
    ("court.clerk", Action.CLOSE_CASE, OPENED, ON_CASE, False, None),
    ("market.officer", Action.CLOSE_CASE, OPENED, ON_CASE, False, None),
    # acknowledgeMajorEvent: the office's case-admin
    ("office.coordinator", Action.ACKNOWLEDGE, MAJOR, SUP, True, "lead-acknowledge-office"),
    ("bank.analyst", Action.ACKNOWLEDGE, MAJOR, RISK, False, None),
    ("auditor", Action.ACKNOWLEDGE, MAJOR, AUDIT, False, "lead-audit-reads-only"),
    # readLead
    ("bank.analyst", Action.READ, OPENED, RISK, True, "lead-read-source"),
    ("office.coordinator", Action.READ, OPENED, SUP, True, "lead-read-office"),
    ("auditor", Action.READ, OPENED, AUDIT, True, "lead-read-office"),
    ("market.officer", Action.READ, SUBMITTED, SUP, True, "lead-read-regulators"),
    ("market.officer", Action.READ, VERIFIED, SUP, True, "lead-read-regulators"),
    (
        "market.officer",
        Action.READ,
        LeadFacts("courts", state="VERIFIED", verified_by_agency="banking"),
        SUP,
        False,
        None,
    ),
    ("police.investigator", Action.READ, VERIFIED, INV, False, None),
    ("police.investigator", Action.READ, REFERRED, INV, True, "lead-read-receiver"),
    ("court.clerk", Action.READ, OPENED, INV, False, None),
    ("court.clerk", Action.READ, OPENED, ON_CASE, True, "lead-read-case-officials"),
    ("court.clerk", Action.READ, OPENED, ctx("audit"), False, None),  # audit: auditors only
]


@pytest.mark.parametrize(("who", "action", "lead", "context", "allowed", "policy"), CASES)
def test_who_may_do_what(
    who: str,
    action: Action,
    lead: LeadFacts,
    context: ActionContext,
    allowed: bool,
    policy: str | None,
) -> None:
    decision = decide(ENGINE, user(who), action, lead, context)
    assert decision.allowed is allowed
    if policy is not None:
        assert policy in decision.policies


def test_break_glass_widens_nothing_and_needs_a_justification() -> None:
    duty = user("duty.officer")
    glass = ActionContext.of(Declaration(Purpose.INVESTIGATION, break_glass="紧急"))
    assert glass.break_glass and glass.has_justification
    for action in (Action.READ, Action.VERIFY, Action.REFER, Action.CLOSE_CASE):
        assert not decide(ENGINE, duty, action, VERIFIED, glass).allowed
    bare = ActionContext("investigation", break_glass=True)  # no reason given
    refused = decide(ENGINE, duty, Action.READ, REFERRED, bare)
    assert not refused.allowed and refused.policies == ("break-glass-needs-justification",)


def test_a_batch_decides_each_lead() -> None:
    elsewhere = LeadFacts("courts", state="REFERRED", verified_by_agency="office",
                          referred_to="police")  # fmt: skip
    pairs = [(SUBMITTED, SUP), (VERIFIED, SUP), (elsewhere, SUP)]
    decisions = decide_many(ENGINE, user("market.officer"), Action.READ, pairs)
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decide_many(ENGINE, user("market.officer"), Action.READ, []) == []


def test_a_batch_asks_cedar_once_per_distinct_lead_and_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A list of 1,000 leads of three kinds is three Cedar decisions, answered in order (each
    was one decision per lead: the leads query cost grew by ~0.1 ms per stored lead)."""
    elsewhere = LeadFacts("courts", state="REFERRED", verified_by_agency="office",
                          referred_to="police")  # fmt: skip
    pairs = [(SUBMITTED, SUP), (VERIFIED, SUP), (elsewhere, SUP)] * 333 + [(SUBMITTED, SUP)]
    asked: list[int] = []
    batch = policies.actions.cedarpy.is_authorized_batch

    def counting(requests: list[Any], *args: Any) -> Any:
        asked.append(len(requests))
        return batch(requests, *args)

    monkeypatch.setattr(policies.actions.cedarpy, "is_authorized_batch", counting)
    decisions = decide_many(ENGINE, user("market.officer"), Action.READ, pairs)
    assert asked == [3]
    assert [d.allowed for d in decisions] == [True, True, False] * 333 + [True]


def test_the_bundle_validates_the_workflow_rules(policy_copy: Path) -> None:
    (policy_copy / "95-typo.cedar").write_text(
        '@id("typo")\npermit (principal, action == JointGate::Action::"verifyLead", resource)\n'
        "when { resource.verified_by == principal.agency };\n"
    )
    with pytest.raises(PolicyError, match="verified_by"):
        load_bundle(policy_copy, CATALOG)
