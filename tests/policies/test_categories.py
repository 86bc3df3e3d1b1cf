"""Fields are decided by data category, not by owner: a natural person's identifier or name gets
the decision of the ``Person`` field of its category wherever it appears (an account's holder,
a legal representative, a shareholder, a court party, a counterparty), whichever agency holds
it (docs/policies.md, "Fields are decided by data category")."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.policy.cases import principal_for
from kernel import masks
from kernel.types import Outcome, Principal
from policies.engine import DEFAULT_DIR, DecisionContext, PolicyEngine, PolicyError, load_bundle
from sandbox.issuer import DEMO_USERS
from schema.unified import build_schema

CATALOG = build_schema().catalog
ENGINE = PolicyEngine(load_bundle(DEFAULT_DIR, CATALOG), CATALOG)
TAGGED = [r for r in CATALOG.values() if r.decided_as is not None]
USERS = [principal_for(user) for user in DEMO_USERS]
CONTEXTS = [
    DecisionContext(purpose, case, justification, in_team, ("T1",) if in_team else (), glass)
    for purpose in ("investigation", "supervision", "risk-monitoring", "enforcement", "audit")
    for case, in_team in (("", False), ("C1", False), ("C1", True))
    for justification, glass in (("", False), ("why", False), ("why", True))
]
PERSON_ID = "110105198001040039"  # a valid resident ID
ENTERPRISE_USCC = "91350100M000100Y43"


def test_the_default_set_has_tagged_fields() -> None:
    assert {r.path for r in TAGGED} >= {
        "BankAccount.holderId", "BankAccount.holderName", "Enterprise.legalRepName",
        "Shareholder.holderId", "Shareholder.holderName", "Party.partyId", "Party.name",
        "DefaulterEntry.partyId", "Transaction.counterpartyName",
    }  # fmt: skip


@pytest.mark.parametrize("principal", USERS, ids=[p.subject for p in USERS])
def test_every_tagged_field_is_decided_as_its_person_field(principal: Principal) -> None:
    """Every demo user, every purpose, with and without a case, in a team or not, with a
    justification or break-glass: a tagged field's outcome, policies and flags are its Person
    field's; masked, with its own mask (no policy of the default set names one)."""
    for context in CONTEXTS:
        decided = ENGINE.decide(principal, context, TAGGED)
        persons = ENGINE.decide(principal, context, [ENGINE.deciding(r) for r in TAGGED])
        for resource, own, person in zip(TAGGED, decided, persons, strict=True):
            where = (resource.path, context)
            assert (own.outcome, own.policies, own.flags) == (
                person.outcome, person.policies, person.flags
            ), where  # fmt: skip
            assert own.mask == (resource.mask if own.outcome is Outcome.MASK else None), where


@pytest.mark.parametrize("principal", USERS, ids=[p.subject for p in USERS])
def test_a_tagged_field_is_visible_exactly_when_its_person_field_is(principal: Principal) -> None:
    for context in CONTEXTS:
        visible = ENGINE.reachable(principal, [context])
        for resource in TAGGED:
            person = ENGINE.deciding(resource)
            assert ((resource.type_name, resource.field_name) in visible) == (
                (person.type_name, person.field_name) in visible
            ), (resource.path, context)


def decide(user: str, context: DecisionContext, *paths: str) -> list[tuple[Outcome, str | None]]:
    resources = [CATALOG[tuple(path.split("."))] for path in paths]  # type: ignore[index]
    return [(d.outcome, d.mask) for d in ENGINE.decide(principal_for(user), context, resources)]


@pytest.mark.parametrize("purpose", ["supervision", "risk-monitoring"])
def test_bank_analyst_sees_an_account_holders_id_number_masked_as_a_persons(purpose: str) -> None:
    """Regression (issue 17): bank.analyst saw a person's ID number masked on Person.idNumber but
    in full as BankAccount.holderId, which the banking agency owns (own-agency)."""
    context = DecisionContext(purpose)
    (holder, holder_mask), (person, person_mask) = decide(
        "bank.analyst", context, "BankAccount.holderId", "Person.idNumber"
    )
    assert holder is person is Outcome.MASK
    assert holder_mask is not None and person_mask is not None
    # the same mask output for a person-held account; an enterprise's USCC stays registry data
    shown = masks.apply(holder_mask, PERSON_ID, "person")
    assert shown == masks.apply(person_mask, PERSON_ID) == "110105********0039"
    assert masks.apply(holder_mask, ENTERPRISE_USCC, "enterprise") == ENTERPRISE_USCC
    assert decide("bank.analyst", context, "BankAccount.holderName") == [(Outcome.MASK, "name")]


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (DecisionContext("supervision"), Outcome.MASK),
        (DecisionContext("risk-monitoring"), Outcome.MASK),
        (DecisionContext("investigation", "JIT-2026-001"), Outcome.DENY),
        (DecisionContext("enforcement", "(2025)京01执1号"), Outcome.DENY),
    ],
    ids=["supervision", "risk-monitoring", "investigation", "enforcement"],
)
def test_market_officer_gets_names_of_persons_as_person_name(
    context: DecisionContext, expected: Outcome
) -> None:
    """Regression (issue 17): market.officer could not see a person's name but read the legal
    representative's through legalRepName, shareholders.holderName and courtCases.parties.name
    (registry and public judicial data)."""
    paths = ("Enterprise.legalRepName", "Shareholder.holderName", "Party.name", "Person.name")
    decided = decide("market.officer", context, *paths)
    assert {outcome for outcome, _ in decided} == {expected}, decided
    if expected is Outcome.MASK:
        assert {mask for _, mask in decided} == {"name"}


def test_courts_enforcing_a_case_identify_account_holders(policy_copy: Path) -> None:
    """court-enforcement-accounts named BankAccount.holderName; the name is now Person.name's,
    which courts enforcing a declared case see in full, the ID number masked."""
    context = DecisionContext("enforcement", "(2025)京01执1号")
    assert decide("court.clerk", context, "BankAccount.holderName", "BankAccount.holderId") == [
        (Outcome.ALLOW, None),
        (Outcome.MASK, "party_id"),
    ]
    assert decide("court.clerk", DecisionContext("supervision"), "BankAccount.holderName") == [
        (Outcome.MASK, "name")  # as any member supervising, no more
    ]


def test_a_policy_naming_a_tagged_field_is_refused_with_its_person_field(
    policy_copy: Path,
) -> None:
    (policy_copy / "95-holder.cedar").write_text(
        '@id("holders")\npermit (principal, action == JointGate::Action::"read", resource)\n'
        "when {\n"
        '  [JointGate::Field::"BankAccount.number",\n'
        '   JointGate::Field::"BankAccount.holderId"].contains(resource)\n};\n'
    )
    with pytest.raises(PolicyError) as caught:
        load_bundle(policy_copy, CATALOG)
    assert str(caught.value) == (
        f"{policy_copy / '95-holder.cedar'}:5: BankAccount.holderId is resident-id data,"
        " decided as Person.idNumber wherever it appears: name Person.idNumber instead"
        ' (docs/policies.md, "Fields are decided by data category")'
    )


def test_an_explicit_mask_of_a_policy_applies_to_tagged_fields(policy_copy: Path) -> None:
    """The decision is the Person field's; the mask is the policy's explicit one if it names
    one, else the field's own."""
    (policy_copy / "95-names.cedar").write_text(
        '@id("names-as-ids")\n@mask("resident_id")\npermit (principal, action,'
        ' resource == JointGate::Field::"Person.idNumber")\nwhen { principal.agency == "market" };\n'
    )
    engine = PolicyEngine(load_bundle(policy_copy, CATALOG), CATALOG)
    market = principal_for("market.officer")
    fields = [CATALOG[("Shareholder", "holderId")], CATALOG[("Person", "idNumber")]]
    decided = engine.decide(market, DecisionContext("investigation", "C1"), fields)
    assert [(d.outcome, d.mask, d.policies) for d in decided] == [
        (Outcome.MASK, "resident_id", ("names-as-ids",))
    ] * 2
