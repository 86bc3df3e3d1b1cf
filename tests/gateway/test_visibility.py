"""Schema visibility: what the caller's policies could never allow reads as if it did not exist.

The oracle here is independent of the code under test: for each demo user it asks the policy
engine, one declaration at a time, about every field, over every declaration the caller could
make (each purpose; a case or none, a team case if the user has a team; justification and
break-glass given or not). A field no declaration gets allowed or masked is "never visible", and
a query for it must answer byte for byte as a query for a made-up name at the same place.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    get_named_type,
)

from commands.policy.cases import principal_for
from kernel.types import Declaration, Outcome, Purpose
from sandbox.issuer import DEMO_USERS
from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc

USERS = list(DEMO_USERS)
LITERALS = {
    "USCC": f'"{uscc(1)}"',
    "ResidentID": f'"{resident_id(1)}"',
    "AccountNumber": f'"{card(1)}"',
    "PoliceCaseNumber": '"J1101052026000001"',
    "CourtCaseNumber": '"(2025)京01民初1号"',
    "String": '"x"',
    "Int": "1",
    "ID": '"L-2026-000001"',
    "IndicatorPeriod": "MONTH",
    "LeadState": "VERIFIED",
    "SubmitLeadInput": '{category: OTHER, description: "x", subjects: ["x"]}',
}
ROOTS = {"Query": "", "Mutation": "mutation ", "Subscription": "subscription "}
Answer = tuple[int, Any]


def ever_visible(h: Harness, user: str) -> set[tuple[str, str]]:
    """Fields some declaration of ``user`` gets allowed or masked, one declaration at a time."""
    principal = principal_for(user)
    authorizer = h.gateway.pipeline.authorizer
    engine = authorizer.policies.engine
    assert h.gateway.teams is not None
    cases: list[str | None] = [None, "OTHER-2026-1"]
    cases += [t.cases[0] for t in h.gateway.teams.memberships(user)]
    resources = list(h.gateway.schema.catalog.values())
    seen: set[tuple[str, str]] = set()
    for purpose in Purpose:
        for case in cases:
            if case is None and purpose.needs_case:
                continue  # the purpose stage refuses it
            for justification, glass in ((None, None), ("why", None), (None, "why"), ("w", "w")):
                declaration = Declaration(purpose, case, justification, glass)
                context = authorizer.context(principal, declaration)
                decisions = engine.decide(principal, context, resources)
                seen |= {
                    (r.type_name, r.field_name)
                    for r, d in zip(resources, decisions, strict=True)
                    if d.outcome is not Outcome.DENY
                }
    return seen


def arguments(schema: GraphQLSchema, type_name: str, field_name: str) -> str:
    """Values for a field's required arguments (valid identifiers of the test world)."""
    gql_type = schema.type_map[type_name]
    assert isinstance(gql_type, GraphQLObjectType)
    values = []
    for name, arg in gql_type.fields[field_name].args.items():
        if not isinstance(arg.type, GraphQLNonNull) or arg.default_value is not Undefined:
            continue
        literal = LITERALS[get_named_type(arg.type).name]
        listed = isinstance(arg.type.of_type, GraphQLList)
        values.append(f"{name}: [{literal}]" if listed else f"{name}: {literal}")
    return f"({', '.join(values)})" if values else ""


def path_to(
    schema: GraphQLSchema, target: str, allowed: set[tuple[str, str]] | None, root: str = "Query"
) -> list[str] | None:
    """Selections from ``root`` to an object of type ``target`` (shortest), through
    ``allowed``."""
    queue: deque[tuple[str, list[str]]] = deque([(root, [])])
    reached = {root}
    while queue:
        type_name, path = queue.popleft()
        if type_name == target:
            return path
        gql_type = schema.type_map[type_name]
        assert isinstance(gql_type, GraphQLObjectType)
        for field_name, field in gql_type.fields.items():
            named = get_named_type(field.type)
            if not isinstance(named, GraphQLObjectType) or named.name in reached:
                continue
            if allowed is not None and (type_name, field_name) not in allowed:
                continue
            reached.add(named.name)
            queue.append(
                (named.name, [*path, field_name + arguments(schema, type_name, field_name)])
            )
    return None


def select(path: list[str], leaf: str) -> str:
    return "{ " + " { ".join([*path, leaf]) + " }" * (len(path) + 1)


def fake(name: str) -> str:
    """A made-up name as long as ``name`` (so every location in the answers is the same)."""
    return ("zq" * len(name))[: len(name)]


async def answer(h: Harness, user: str, query: str) -> Answer:
    response = await h.query(query, user=user, purpose="supervision", case=None)
    return response.status_code, response.json()


def renamed(answer: Answer, name: str, made_up: str) -> Answer:
    status, body = answer
    for error in body.get("errors", ()):
        error["message"] = error["message"].replace(f"'{name}'", f"'{made_up}'")
    return status, body


async def assert_reads_as_missing(
    h: Harness,
    user: str,
    query: str,
    name: str,
    problems: list[str] | None = None,
    instead: str | None = None,
) -> None:
    """``query`` names ``name`` (invisible to ``user``); ``instead`` (by default: ``query``
    with a made-up name in its place) must answer the same, up to the name."""
    made_up = fake(name)
    assert made_up not in query
    real = renamed(await answer(h, user, query), name, made_up)
    expected = await answer(h, user, instead or query.replace(name, made_up))
    if problems is None:
        assert real == expected, query
    elif real != expected:
        problems.append(f"{query}\n    got {real}\n    not {expected}")


@pytest.mark.parametrize("user", USERS)
async def test_a_field_never_visible_reads_as_a_field_that_does_not_exist(
    tmp_path: Path, user: str
) -> None:
    async with open_harness(tmp_path) as h:
        schema = h.gateway.schema.graphql
        visible = ever_visible(h, user)
        invisible = sorted(set(h.gateway.schema.catalog) - visible)
        problems: list[str] = []
        for type_name, field_name in invisible:
            # from the query root if it leads there, else from the mutation's or subscription's
            found = [
                (path, keyword)
                for root, keyword in ROOTS.items()
                for path in (path_to(schema, type_name, visible, root),
                             path_to(schema, type_name, None, root))
                if path is not None
            ]  # fmt: skip
            assert found
            path, keyword = found[0]
            args = arguments(schema, type_name, field_name)
            for sub in ("", " { __typename }"):
                query = keyword + select(path, field_name + args + sub)
                instead = keyword + select(path, fake(field_name) + args + sub)
                await assert_reads_as_missing(h, user, query, field_name, problems, instead)
        assert not problems, f"{len(problems)} of {2 * len(invisible)} probes tell:\n" + "\n".join(
            problems[:10]
        )


async def test_the_market_officer_learns_nothing_of_what_it_never_sees(harness: Harness) -> None:
    visible = ever_visible(harness, "market.officer")
    never = {("Query", "auditLog"), ("BankAccount", "transactions"), ("BankAccount", "balance")}
    assert not never & visible
    # Enterprise.policeCases is visible: any member investigating a declared case learns which
    # police cases exist (police-case-existence-for-investigation); for supervision it is denied
    assert ("Enterprise", "policeCases") in visible
    officer = "market.officer"
    at = f'enterprise(uscc: "{uscc(1)}")'
    for query, name in (
        ("{ auditLog { totalCount } }", "auditLog"),
        ("{ auditLog }", "auditLog"),
        (f"{{ {at} {{ bankAccounts {{ transactions }} }} }}", "transactions"),
        (f"{{ {at} {{ bankAccounts {{ balance }} }} }}", "balance"),
    ):
        await assert_reads_as_missing(harness, officer, query, name)
    status, body = await answer(harness, officer, f"{{ {at} {{ policeCases {{ caseNumber }} }} }}")
    assert status == 200
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN_FIELD"]


AT = f'enterprise(uscc: "{uscc(1)}")'
RULES = [
    # (user, query naming something the user never sees, that name)
    ("market.officer", "{ auditLog }", "auditLog"),  # missing sub-selection
    ("court.clerk", "{ auditLog }", "auditLog"),
    ("market.officer", f"{{ {AT} {{ bankAccounts {{ balance {{ x }} }} }} }}", "balance"),
    ("police.investigator", f"{{ {AT} {{ bankAccounts {{ balance {{ x }} }} }} }}", "balance"),
    ("market.officer", "{ auditLog(first: 1) { totalCount } }", "auditLog"),  # arguments
    ("market.officer", "{ auditLog(bogus: 1) { totalCount } }", "auditLog"),
    ("bank.analyst", "{ auditLog(user: 1, first: true) { totalCount } }", "auditLog"),
    ("market.officer", "{ __typename } fragment F on AuditRecord { seq }", "AuditRecord"),
    ("court.clerk", "{ __typename } fragment F on AuditRecord { seq }", "AuditRecord"),
    ("market.officer", "{ ... on AuditRecord { seq } }", "AuditRecord"),
    ("market.officer", "{ ...F } fragment F on Transaction { amount }", "Transaction"),
    ("police.investigator", "query($n: AccountNumber!) { __typename }", "AccountNumber"),
    ("policy.admin", "query($n: [AccountNumber!]) { auditLog { totalCount } }", "AccountNumber"),
    ("market.officer", "{ auditLo { totalCount } }", "auditLo"),  # no "Did you mean"
    ("court.clerk", "{ __schema { queryType { name } } }", "__schema"),  # not for their role
    ("court.clerk", "{ __schema { bogus } }", "__schema"),
    ("auditor", '{ __type(name: "Enterprise") { name } }', "__type"),
]


@pytest.mark.parametrize(("user", "query", "name"), RULES)
async def test_every_validation_rule_reads_the_same_for_invisible_and_missing(
    harness: Harness, user: str, query: str, name: str
) -> None:
    await assert_reads_as_missing(harness, user, query, name)


async def test_introspection_shows_the_callers_visible_schema(harness: Harness) -> None:
    admin = "policy.admin"
    visible = ever_visible(harness, admin)
    catalog = harness.gateway.schema.catalog
    _, body = await answer(harness, admin, "{ __schema { types { name fields { name } } } }")
    shown = {
        (t["name"], f["name"])
        for t in body["data"]["__schema"]["types"]
        if not t["name"].startswith("__")
        for f in t["fields"] or ()
    }
    assert shown <= visible
    types = {t for t, _ in shown}
    for type_name, field_name in visible - shown:
        # on a type no visible field leads to, or leading to a type with nothing visible
        target = catalog[(type_name, field_name)].target
        assert type_name not in types or (target is not None and target not in types)
    assert {("Query", "auditLog"), ("BankAccount", "balance")} <= set(catalog) - shown
    assert not any(type_name == "AuditRecord" for type_name, _ in visible)
    # Transaction.counterpartyName, a name decided as Person.name (docs/policies.md, data
    # categories), is one the admin could see masked, but no visible field leads to Transaction
    assert {f for t, f in visible if t == "Transaction"} == {"counterpartyName"}
    assert not any(catalog[key].target == "Transaction" for key in visible)
    for name in ("AuditRecord", "Transaction"):
        assert name not in types
        await assert_reads_as_missing(
            harness, admin, f'{{ __type(name: "{name}") {{ name }} }}', name
        )
    # introspection and data in one operation: the data as without introspection
    query = '{ __type(name: "Enterprise") { name } %s { name } }' % AT
    status, body = await answer(harness, admin, query)
    assert status == 200 and body["data"]["__type"] == {"name": "Enterprise"}
    assert body["data"]["enterprise"] == {"name": "测试1号财富管理有限公司"}
