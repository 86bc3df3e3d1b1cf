"""A lookup by one identifier and by a list of them are one question: the policies answer both
alike, for every demo user under every declaration, and show both or neither in the user's
schema (README: ``courtCase(caseNumber:)`` or ``courtCases(caseNumbers: [...])``).

The pairs come from the schema, so a new lookup is covered without touching this test; a policy
that names one form of a lookup and not the other fails it.
"""

from __future__ import annotations

import itertools

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, get_named_type

from commands.policy.cases import principal_for
from kernel.types import Purpose
from policies.engine import DEFAULT_DIR, DecisionContext, PolicyEngine, load_bundle
from sandbox.issuer import DEMO_USERS
from schema.base import SPECS_BY_NAME
from schema.catalog import Catalog, FieldResource
from schema.unified import build_schema

TEAM = "JIT-2026-001"


def _is_list(gql_type: object) -> bool:
    return isinstance(
        gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type, GraphQLList
    )


def lookup_pairs(schema: GraphQLSchema) -> dict[str, tuple[str, str]]:
    """Entity type -> (its root lookup by one identifier, by a list of identifiers): the root
    fields with one argument that return that type, one of them and a list of it."""
    query = schema.query_type
    assert query is not None
    single: dict[str, str] = {}
    listed: dict[str, str] = {}
    for name, field in query.fields.items():
        target = get_named_type(field.type)
        if not isinstance(target, GraphQLObjectType) or len(field.args) != 1:
            continue
        spec = SPECS_BY_NAME.get(target.name)
        if spec is None or spec.kind is None:
            continue  # not an agency entity: the office's lead(id), case(number) ...
        [argument] = field.args.values()
        if _is_list(field.type) and _is_list(argument.type):
            listed[target.name] = name
        elif not _is_list(field.type) and not _is_list(argument.type):
            single[target.name] = name
    assert set(single) == set(listed), "a lookup without its other form"
    return {t: (single[t], listed[t]) for t in sorted(single)}


def every_context() -> list[DecisionContext]:
    """Every context policies can tell apart: purpose, a case or none, a justification or none,
    outside any team / in a team but not for this case / for this case, break-glass or not."""
    teams = [(False, ()), (False, (TEAM,)), (True, (TEAM,))]
    return [
        DecisionContext(purpose, case, justification, in_team, team, glass)
        for purpose, case, justification, (in_team, team), glass in itertools.product(
            Purpose, ("", TEAM), ("", "why"), teams, (False, True)
        )
    ]


@pytest.fixture(scope="module")
def setup() -> tuple[PolicyEngine, Catalog, dict[str, tuple[str, str]]]:
    schema = build_schema()
    engine = PolicyEngine(load_bundle(DEFAULT_DIR, schema.catalog), schema.catalog)
    return engine, schema.catalog, lookup_pairs(schema.graphql)


def test_every_entity_lookup_has_both_forms(
    setup: tuple[PolicyEngine, Catalog, dict[str, tuple[str, str]]],
) -> None:
    _, _, pairs = setup
    assert pairs == {
        "BankAccount": ("bankAccount", "bankAccounts"),
        "CourtCase": ("courtCase", "courtCases"),
        "Enterprise": ("enterprise", "enterprisesByUscc"),
        "Person": ("person", "persons"),
        "PoliceCase": ("policeCase", "policeCases"),
    }


@pytest.mark.parametrize("user", list(DEMO_USERS))
def test_a_lookup_and_its_list_form_are_decided_alike(
    setup: tuple[PolicyEngine, Catalog, dict[str, tuple[str, str]]], user: str
) -> None:
    engine, catalog, pairs = setup
    principal = principal_for(user)
    contexts = every_context()
    resources: list[FieldResource] = [
        catalog[("Query", name)] for pair in pairs.values() for name in pair
    ]
    differing = []
    for context in contexts:
        decisions = dict(
            zip(
                (r.field_name for r in resources),
                engine.decide(principal, context, resources),
                strict=True,
            )
        )
        for one, many in pairs.values():
            if decisions[one] != decisions[many]:
                differing.append((context, one, decisions[one], many, decisions[many]))
    assert not differing, differing[:3]
    visible = engine.reachable(principal, contexts)
    for one, many in pairs.values():
        assert (("Query", one) in visible) == (("Query", many) in visible), (user, one, many)
