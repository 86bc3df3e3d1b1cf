"""The policy engine on the default set and on broken sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.policy.cases import principal_for, run_case
from kernel.types import Outcome, Principal
from policies.engine import (
    DEFAULT_DIR,
    DecisionContext,
    PolicyEngine,
    PolicyError,
    RecordLabels,
    load_bundle,
)
from sandbox.issuer import DEMO_USERS
from schema.unified import build_schema

CATALOG = build_schema().catalog
ENGINE = PolicyEngine(load_bundle(DEFAULT_DIR, CATALOG), CATALOG)
MARKET = Principal("m1", "market", frozenset({"officer"}), 1)


def test_the_default_set_passes_its_own_tests() -> None:
    import json

    cases = json.loads((DEFAULT_DIR / "tests" / "default.json").read_text())["cases"]
    assert len(cases) >= 30
    failures = [
        (c["name"], run_case(ENGINE, c)) for c in cases if run_case(ENGINE, c) != c["expect"]
    ]
    assert failures == []


def test_decisions_name_their_policies_and_masks() -> None:
    fields = [
        CATALOG[("BankAccount", "number")],
        CATALOG[("BankAccount", "balance")],
        CATALOG[("Enterprise", "name")],
    ]
    number, balance, name = ENGINE.decide(MARKET, DecisionContext("supervision"), fields)
    assert (number.outcome, number.mask, number.policies) == (
        Outcome.MASK,
        "account",
        ("market-sees-account-numbers-masked",),
    )
    assert (balance.outcome, balance.policies) == (Outcome.DENY, ("default-deny",))
    assert name.outcome is Outcome.ALLOW and "registry-for-members" in name.policies


def test_forbid_names_the_forbidding_policy() -> None:
    (decision,) = ENGINE.decide(MARKET, DecisionContext("audit"), [CATALOG[("Enterprise", "name")]])
    assert decision.outcome is Outcome.DENY
    assert decision.policies == ("audit-purpose-for-auditors-only",)


def test_break_glass_decisions_are_flagged_only_when_break_glass_was_needed() -> None:
    duty = Principal("d", "police", frozenset({"investigator", "emergency"}), 3)
    context = DecisionContext("investigation", "J1101052026000001", "flight risk", break_glass=True)
    balance, summary = ENGINE.decide(
        duty, context, [CATALOG[("BankAccount", "balance")], CATALOG[("PoliceCase", "summary")]]
    )
    assert balance.outcome is Outcome.ALLOW and balance.flags == ("break-glass",)
    assert summary.outcome is Outcome.ALLOW and summary.flags == ()  # own agency anyway


def test_record_decisions() -> None:
    context = DecisionContext("supervision")
    hidden, public = ENGINE.decide_records(
        MARKET,
        context,
        [RecordLabels("police", "H1", 2, False), RecordLabels("courts", "H0", 0, False)],
    )
    assert not hidden.visible and public.visible


@pytest.mark.parametrize(
    ("file", "edit", "message"),
    [
        (
            "00-baseline.cedar",
            ("resource.category ==", "resource.kategory =="),
            "00-baseline.cedar:9: for policy `registry-for-members`, attribute `kategory`",
        ),
        (
            "20-exceptions.cedar",
            ('"BankAccount.branch"', '"BankAccount.brunch"'),
            "20-exceptions.cedar:28: BankAccount.brunch is not a field of the GraphQL schema",
        ),
        (
            "10-joint-team.cedar",
            ('@id("joint-team-investigation")', ""),
            "10-joint-team.cedar:6: policy has no @id",
        ),
        (
            "30-break-glass.cedar",
            ('@id("break-glass-records")', '@id("break-glass")'),
            "@id 'break-glass' is used twice",
        ),
        ("20-exceptions.cedar", ("@mask\n", '@mask("blur")\n'), "@mask('blur') is not a mask"),
        (
            "90-forbid.cedar",
            ("forbid (principal, action, resource)", "forbid (principal, action resource)"),
            "90-forbid.cedar:4: does not parse",
        ),
    ],
)
def test_broken_sets_are_refused_with_file_and_line(
    policy_copy: Path, file: str, edit: tuple[str, str], message: str
) -> None:
    directory = policy_copy
    path = directory / file
    assert edit[0] in path.read_text()
    path.write_text(path.read_text().replace(edit[0], edit[1], 1))
    with pytest.raises(PolicyError) as caught:
        load_bundle(directory, CATALOG)
    assert message in str(caught.value)


def test_the_version_is_a_hash_of_the_files(policy_copy: Path) -> None:
    directory = policy_copy
    first = load_bundle(directory, CATALOG).version
    assert load_bundle(directory, CATALOG).version == first == ENGINE.version
    (directory / "95-extra.cedar").write_text(
        '@id("extra")\nforbid (principal, action, resource) when { false };\n'
    )
    assert load_bundle(directory, CATALOG).version != first


def test_a_policy_cannot_decide_on_the_justification_text(policy_copy: Path) -> None:
    """Regression: Cedar saw the text while the decision cache keyed on whether there was one,
    so a policy testing the text got decisions cached for another text. Now the text is not in
    the policy context at all; such a policy fails validation."""
    (policy_copy / "95-text.cedar").write_text(
        '@id("text")\nforbid (principal, action, resource)\n'
        'when { context.justification == "fishing" };\n'
    )
    with pytest.raises(PolicyError, match=r"95-text\.cedar"):
        load_bundle(policy_copy, CATALOG)
    field = [CATALOG[("BankAccount", "balance")]]
    duty = Principal("d", "police", frozenset({"investigator", "emergency"}), 3)
    one, other = (
        DecisionContext("investigation", "J1", justification=text, break_glass=True)
        for text in ("imminent transfer", "fishing")
    )
    assert one.key == other.key
    assert ENGINE.decide(duty, one, field) == ENGINE.decide(duty, other, field)


def test_a_policy_cannot_decide_on_the_case_id_text(policy_copy: Path) -> None:
    """The case id is the caller's to choose: a decision on its text would make "which fields
    could this caller ever see" (schema visibility) depend on every possible id."""
    (policy_copy / "95-case.cedar").write_text(
        '@id("case")\npermit (principal, action, resource)\n'
        'when { context.case_id == "JIT-2026-001" };\n'
    )
    with pytest.raises(PolicyError, match=r"95-case\.cedar"):
        load_bundle(policy_copy, CATALOG)


USERS = [principal_for(user) for user in DEMO_USERS]
CONTEXTS = [
    DecisionContext(purpose, case, justification, in_team, ("T1",) if in_team else (), glass)
    for purpose in ("investigation", "supervision", "enforcement", "audit")
    for case, in_team in (("", False), ("C1", False), ("C1", True))
    for justification, glass in (("", False), ("why", False), ("why", True))
]


@pytest.mark.parametrize("principal", USERS, ids=[p.subject for p in USERS])
def test_reachable_agrees_with_deciding_one_field_at_a_time(principal: Principal) -> None:
    fields = list(CATALOG.values())
    for context in CONTEXTS:
        shown = {
            (f.type_name, f.field_name)
            for f, d in zip(fields, ENGINE.decide(principal, context, fields), strict=True)
            if d.outcome is not Outcome.DENY
        }
        assert ENGINE.reachable(principal, [context]) == shown, context
    assert ENGINE.reachable(principal, CONTEXTS) == set().union(
        *(ENGINE.reachable(principal, [c]) for c in CONTEXTS)
    )


def test_the_principal_key_holds_all_that_decisions_tell_apart(policy_copy: Path) -> None:
    def key(engine: PolicyEngine, subject: str, roles: set[str], clearance: int = 1) -> object:
        return engine.principal_key(Principal(subject, "market", frozenset(roles), clearance))

    # roles no policy asks about do not matter; those asked about, clearance and agency do
    # (the workflow's rules, 60-workflow.cedar, ask about clerk and case-admin too)
    assert key(ENGINE, "a", {"officer"}) == key(ENGINE, "b", {"officer", "jit-member"})
    assert key(ENGINE, "a", {"officer"}) != key(ENGINE, "b", {"clerk"})
    assert key(ENGINE, "a", {"officer"}) != key(ENGINE, "a", {"officer", "regulator"})
    assert key(ENGINE, "a", set()) != key(ENGINE, "a", set(), clearance=2)
    # a policy naming a user: the subject matters
    (policy_copy / "95-user.cedar").write_text(
        '@id("alice")\npermit (principal == JointGate::User::"alice", action, resource);\n'
    )
    named = PolicyEngine(load_bundle(policy_copy, CATALOG), CATALOG)
    assert key(named, "alice", {"officer"}) != key(named, "bob", {"officer"})
    # a policy asking more of the roles than "has this one": every role matters
    (policy_copy / "95-user.cedar").write_text(
        '@id("no-roles")\nforbid (principal, action, resource) when { principal.roles.isEmpty() };\n'
    )
    empty = PolicyEngine(load_bundle(policy_copy, CATALOG), CATALOG)
    assert key(empty, "a", {"officer"}) != key(empty, "a", {"clerk"})
    balance = [("BankAccount", "balance")]
    assert set(balance) <= named.reachable(
        principal_for("alice", "market", ["officer"], 1), CONTEXTS
    )
    assert not set(balance) & named.reachable(
        principal_for("bob", "market", ["officer"], 1), CONTEXTS
    )


def test_only_contexts_that_decide_no_less_stand_for_others(policy_copy: Path) -> None:
    """A context with a case, a justification or a team case decides at least as much as one
    without, in the default set: the visibility batch leaves the lesser out. A policy for
    which that is not so (a permit only without a case) keeps them in."""
    # (declared_case_matches and assigned: the workflow's lead context, 60-workflow.cedar)
    workflow = {"declared_case_matches", "assigned"}
    assert ENGINE.bundle.helping == {"has_case", "has_justification", "in_team", *workflow}
    (policy_copy / "95-nocase.cedar").write_text(
        '@id("no-case")\npermit (principal, action, resource == JointGate::Field::"BankAccount'
        '.balance")\nwhen { !context.has_case };\n'
        '@id("unless-team")\nforbid (principal, action, resource == JointGate::Field::"Person'
        '.phone")\nunless { context.in_team };\n'
    )
    engine = PolicyEngine(load_bundle(policy_copy, CATALOG), CATALOG)
    assert engine.bundle.helping == {"has_justification", "in_team", *workflow}
    contexts = [DecisionContext("supervision", case) for case in ("", "C1")]
    assert ("BankAccount", "balance") in engine.reachable(MARKET, contexts)
    assert ("BankAccount", "balance") not in ENGINE.reachable(MARKET, contexts)
