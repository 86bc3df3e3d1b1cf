"""Record-level rules: the filter the authorize stage hands to the loaders; schema visibility."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import Labels
from gateway.authorize import Authorizer, StaticPolicies
from kernel.types import Disclosure, FieldDecision, Outcome, Principal
from policies.engine import DecisionContext, RecordDecision, RecordLabels
from schema.catalog import FieldResource

CLERK = Principal("clerk", "courts", frozenset({"clerk"}), 2)
OFFICER = Principal("officer", "market", frozenset({"officer"}), 1)


class CountingEngine:
    """Shows records of handling codes H0 and H1, and those linked to the declared case."""

    version = "v1"

    def __init__(self) -> None:
        self.asked: list[list[RecordLabels]] = []

    def decide(
        self, principal: Principal, context: DecisionContext, resources: Sequence[FieldResource]
    ) -> list[FieldDecision]:
        raise AssertionError("fields are not decided here")

    def decide_records(
        self, principal: Principal, context: DecisionContext, labels: Sequence[RecordLabels]
    ) -> list[RecordDecision]:
        self.asked.append(list(labels))
        return [
            RecordDecision(
                lab.handling in ("H0", "H1") or lab.linked_to_case,
                (principal.subject,),
                ("linked",) if lab.linked_to_case else (),
            )
            for lab in labels
        ]


def _labels(handling: str, *cases: str) -> Labels:
    return Labels("courts", handling, 2, cases)


def test_each_label_set_is_decided_once_and_answered_in_order() -> None:
    engine = CountingEngine()
    authorizer = Authorizer(StaticPolicies(engine))
    context = DecisionContext(purpose="investigation", case_id="C-1")
    decide = authorizer.record_filter(CLERK, context)
    first = decide([_labels("H2"), _labels("H0"), _labels("H2", "C-1"), _labels("H2")])
    assert [d.visible for d in first] == [False, True, True, False]
    assert first[2].flags == ("linked",)
    assert engine.asked == [
        sorted(
            {
                RecordLabels("courts", "H2", 2, False),
                RecordLabels("courts", "H0", 2, False),
                RecordLabels("courts", "H2", 2, True),
            },
            key=repr,
        )
    ]
    # record after record, as a lookup's batch hands them over: nothing is asked again
    for _ in range(3):
        assert decide([_labels("H2", "C-2")]) == [first[0]]
        assert decide([_labels("H0", "C-1", "C-9")]) == [decide([_labels("H2", "C-1")])[0]]
    assert decide([]) == []
    assert len(engine.asked) == 2  # only (H0, linked) was new
    assert engine.asked[1] == [RecordLabels("courts", "H0", 2, True)]


def test_decisions_are_not_shared_between_principals_or_contexts() -> None:
    engine = CountingEngine()
    authorizer = Authorizer(StaticPolicies(engine))
    context = DecisionContext(purpose="investigation", case_id="C-1")
    clerk = authorizer.record_filter(CLERK, context)([_labels("H2", "C-1")])
    officer = authorizer.record_filter(OFFICER, context)([_labels("H2", "C-1")])
    other = DecisionContext(purpose="investigation", case_id="C-2")
    unlinked = authorizer.record_filter(CLERK, other)([_labels("H2", "C-1")])
    assert [clerk[0].policies, officer[0].policies] == [("clerk",), ("officer",)]
    assert clerk[0].visible and not unlinked[0].visible
    assert len(engine.asked) == 3


def test_a_full_shared_cache_never_loses_a_decision_of_the_batch_being_decided() -> None:
    """The shared cache holds 4 x cache_size decisions; a batch that brings new label sets into
    a full cache evicts the oldest, which may be one of the batch's own: it is still answered
    (this raised KeyError)."""
    engine = CountingEngine()
    authorizer = Authorizer(StaticPolicies(engine), cache_size=1)  # 4 record decisions
    context = DecisionContext(purpose="investigation", case_id="C-1")
    warm = authorizer.record_filter(CLERK, context)
    warm([_labels(f"H{i}") for i in range(4)])  # full: H0 is the oldest
    decide = authorizer.record_filter(CLERK, context)
    found = decide([_labels("H0"), _labels("H7"), _labels("H8")])
    assert [d.visible for d in found] == [True, False, False]


class MaskingIdentities:
    """Allows every field, identities masked with the field's own mask."""

    version = "v1"

    def decide(
        self, principal: Principal, context: DecisionContext, resources: Sequence[FieldResource]
    ) -> list[FieldDecision]:
        return [
            FieldDecision(Outcome.MASK, r.mask)
            if r.category == "identity" and r.mask
            else FieldDecision(Outcome.ALLOW)
            for r in resources
        ]

    def decide_records(
        self, principal: Principal, context: DecisionContext, labels: Sequence[RecordLabels]
    ) -> list[RecordDecision]:
        raise AssertionError("records are not decided here")


def test_the_plan_lists_the_identifiers_an_operation_shows_and_their_masks() -> None:
    from gateway.analyze import Analyzer
    from schema.unified import build_schema
    from tests.gateway.conftest import resident_id

    query = """{ person(idNumber: "%s") { idNumber judgmentDefaulter { partyId }
      courtCases { parties { partyId name } } bankAccounts { holderPerson { name } }
      enterprises { uscc shareholders { holderName } } } }"""
    operation = Analyzer(build_schema()).analyze(query % resident_id(1), None)
    plan = Authorizer(StaticPolicies(MaskingIdentities())).plan(
        CLERK, DecisionContext(purpose="supervision"), operation
    )
    party = ("Person", "Enterprise")
    # an entity's own key is not listed (its record is recorded as seen), nor an identifier
    # read only to follow a link (holderPerson needs holder_id), nor one not selected
    assert plan.disclosures == (
        Disclosure(("person", "judgmentDefaulter", "partyId"), party, "party_id"),
        Disclosure(("person", "courtCases", "parties", "partyId"), party, "party_id"),
    )


class ReachCountingEngine(CountingEngine):
    """Shows a market user the bank field, clearance 2 or more the police field, and a member
    of a team the team field; counts the visibility computations."""

    def __init__(self) -> None:
        super().__init__()
        self.reached: list[tuple[Principal, int]] = []

    def principal_key(self, principal: Principal) -> tuple[object, ...]:
        return (principal.agency, principal.roles, principal.clearance)

    def reachable(
        self, principal: Principal, contexts: Sequence[DecisionContext]
    ) -> frozenset[tuple[str, str]]:
        self.reached.append((principal, len(contexts)))
        shown = {("Query", "enterprise")}
        if principal.agency == "market":
            shown.add(("BankAccount", "bank"))
        if principal.clearance >= 2:
            shown.add(("PoliceCase", "charge"))
        if any(c.in_team for c in contexts):
            shown.add(("Team", "field"))
        return frozenset(shown)


def test_visibility_is_decided_once_per_principal_shape_and_never_shared_across_shapes() -> None:
    engine = ReachCountingEngine()
    authorizer = Authorizer(StaticPolicies(engine))
    alone = DecisionContext(purpose="supervision")
    teamed = DecisionContext(purpose="supervision", teams=("T1",))
    officer = authorizer.visibility(OFFICER, alone)
    other_officer = Principal("officer-2", "market", frozenset({"officer"}), 1, name="B")
    assert authorizer.visibility(other_officer, alone) is officer  # alike: decided once
    assert len(engine.reached) == 1
    # every context a caller can declare: 5 purposes; a case or not (investigation and
    # enforcement need one); a justification, break-glass (with its reason) or neither
    assert engine.reached[0][1] == (3 * 2 + 2) * 3
    clerk = authorizer.visibility(CLERK, alone)
    in_team = authorizer.visibility(OFFICER, teamed)
    assert engine.reached[-1][1] == (3 * 3 + 2 * 2) * 3  # and a team case
    assert officer.fields == {("Query", "enterprise"), ("BankAccount", "bank")}
    assert clerk.fields == {("Query", "enterprise"), ("PoliceCase", "charge")}
    assert in_team.fields == officer.fields | {("Team", "field")}
    assert len({officer.key, clerk.key, in_team.key}) == 3
    # a new policy version decides again
    engine.version = "v2"
    assert authorizer.visibility(OFFICER, alone) == officer
    assert len(engine.reached) == 4


class TeamEngine(CountingEngine):
    """Allows every field to a team; without it, denies balances and the accounts link (by
    ``alone-deny``) and masks parties' identifiers."""

    def decide(
        self, principal: Principal, context: DecisionContext, resources: Sequence[FieldResource]
    ) -> list[FieldDecision]:
        out = []
        for r in resources:
            if context.in_team:
                out.append(FieldDecision(Outcome.ALLOW, policies=("team",)))
            elif r.path in ("BankAccount.balance", "Enterprise.bankAccounts"):
                out.append(FieldDecision(Outcome.DENY, policies=("alone-deny",)))
            elif r.path == "Party.partyId":
                out.append(FieldDecision(Outcome.MASK, "party_id", ("alone-mask",)))
            else:
                out.append(FieldDecision(Outcome.ALLOW, policies=("alone",)))
        return out


def test_a_team_plan_carries_how_records_outside_the_scope_are_built() -> None:
    from gateway.analyze import Analyzer
    from schema.unified import build_schema
    from tests.gateway.conftest import uscc

    query = """{ enterprise(uscc: "%s") { name shareholders { holderName }
      bankAccounts { number balance } courtCases { parties { partyId } } } }"""
    operation = Analyzer(build_schema()).analyze(query % uscc(1), None)
    authorizer = Authorizer(StaticPolicies(TeamEngine()))
    alone = DecisionContext(purpose="investigation", case_id="JIT-2026-001")
    team = DecisionContext(
        purpose="investigation", case_id="JIT-2026-001", in_team=True, teams=("JIT-2026-001",)
    )
    plain = authorizer.plan(CLERK, alone, operation)
    assert plain.outside is None  # not a team's request: nothing changes
    assert plain.source_fields["Enterprise"] == frozenset({"name", "shareholders.holder_name"})
    plan = authorizer.plan(CLERK, team, operation)
    assert authorizer.plan(CLERK, team, operation) is plan  # cached, by the context
    outside = plan.outside
    assert outside is not None and not plan.denied
    assert outside.build_rules["BankAccount"].denied == frozenset({"balance"})
    assert outside.build_rules["Party"].masks == {"party_id": "party_id"}
    assert outside.denied == frozenset({("Enterprise", "bankAccounts"), ("BankAccount", "balance")})
    assert outside.refused == {"enterprise.bankAccounts": ("alone-deny",)}
    assert outside.withheld == {
        "enterprise": (("enterprise.bankAccounts", ("alone-deny",)),),
        "enterprise.bankAccounts": (("enterprise.bankAccounts.balance", ("alone-deny",)),),
    }
    assert outside.masked == {"enterprise.courtCases": ("enterprise.courtCases.parties.partyId",)}
    # what places records in the scope is asked for too
    assert plan.source_fields["Enterprise"] == frozenset(
        {"name", "shareholders.holder_name", "shareholders.holder_id", "legal_rep_id"}
    )
    assert plan.source_fields["BankAccount"] == frozenset({"number", "balance", "holder_id"})
    assert plan.source_fields["CourtCase"] == frozenset({"parties.party_id", "parties.party_type"})
    # shown in clear in the scope, masked outside: only values shown in clear are disclosures
    assert plan.disclosures == (
        Disclosure(
            ("enterprise", "courtCases", "parties", "partyId"),
            ("Person", "Enterprise"),
            "party_id",
        ),
    )
