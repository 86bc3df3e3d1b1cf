"""Property: whatever the caller, purpose, team and query, nothing leaks.

For generated principals, purposes, cases, team memberships and queries (aliases, inline and
named fragments, nesting, lists), through the whole pipeline:

- every value in the response is allowed by a direct policy decision for its field;
- a value the policy masks is in masked form (masks are idempotent, originals are not);
- a denied field is null and never requested from an agency;
- every record shown is visible to the caller by a direct record-level decision on its labels
  (the world's records get varied handling codes, sensitivities and case links for this).

JOINTGATE_PROPERTY_EXAMPLES sets the number of cases (default 10,000, as the issue asks).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt

from gateway.issuer import DEMO_AUDIENCE, DEMO_ISSUER, load_or_create_keys
from gateway.types import Outcome, Principal
from policies import masks
from policies.engine import DecisionContext, RecordLabels
from policies.teams import TeamStore
from schema.base import SPECS_BY_NAME, Shape
from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc

EXAMPLES = int(os.environ.get("JOINTGATE_PROPERTY_EXAMPLES", "10000"))
AGENCIES = ["police", "market", "banking", "courts", "office"]
ROLES = [
    "investigator",
    "officer",
    "analyst",
    "regulator",
    "clerk",
    "emergency",
    "auditor",
    "jit-member",
]
CASES = ["JIT-2026-001", "J1101052026000003", "JIT-2099-999"]


@dataclass
class Node:
    """One selected field: its response key, its (type, field), and its sub-selection."""

    key: str
    type_name: str
    field_name: str
    children: list[Node] = field(default_factory=list)


ROOTS = {
    "enterprise": ("Enterprise", lambda i: f'(uscc: "{uscc(i)}")'),
    "person": ("Person", lambda i: f'(idNumber: "{resident_id(i)}")'),
    "bankAccount": ("BankAccount", lambda i: f'(number: "{card(i)}")'),
    "policeCase": ("PoliceCase", lambda i: f'(caseNumber: "J110105202600{i:04d}")'),
    "enterprises": (
        "EnterpriseConnection",
        lambda i: f'(nameContains: "财富", first: {i % 4 + 1})',
    ),
}


@st.composite
def selections(draw: st.DrawFn, type_name: str, depth: int) -> list[Node]:
    from schema.unified import build_schema

    catalog = _catalog()
    fields = sorted(f for (t, f) in catalog if t == type_name)
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=4, unique=True))
    nodes = []
    for index, name in enumerate(chosen):
        resource = catalog[(type_name, name)]
        alias = draw(st.sampled_from([name, name, f"a{index}_{name}"]))
        node = Node(alias, type_name, name)
        if resource.target is not None:
            if depth >= 3:
                continue
            node.children = draw(selections(resource.target, depth + 1))
            if not node.children:
                continue
        nodes.append(node)
    del build_schema
    return nodes or [Node("__typename", type_name, "__typename")]


_CATALOG: Any = None


def _catalog() -> Any:
    global _CATALOG
    if _CATALOG is None:
        from schema.unified import build_schema

        _CATALOG = build_schema().catalog
    return _CATALOG


def render(nodes: list[Node], fragments: dict[str, str], draw: st.DrawFn) -> str:
    parts = []
    for node in nodes:
        head = node.key if node.key == node.field_name else f"{node.key}: {node.field_name}"
        if node.field_name == "transactions":
            head += "(first: 3)"
        text = (
            head if not node.children else f"{head} {{ {render(node.children, fragments, draw)} }}"
        )
        style = draw(st.sampled_from(["plain", "plain", "inline", "named"]))
        if style == "inline":
            text = f"... on {node.type_name} {{ {text} }}"
        elif style == "named":
            name = f"F{len(fragments)}"
            fragments[name] = f"fragment {name} on {node.type_name} {{ {text} }}"
            text = f"...{name}"
        parts.append(text)
    return " ".join(parts)


@dataclass(frozen=True)
class Case:
    principal: Principal
    purpose: str
    case_id: str | None
    in_team: bool
    break_glass: str | None
    justification: str | None
    query: str
    tree: tuple[Node, ...]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    principal = Principal(
        subject=draw(st.sampled_from(["u-alpha", "u-beta", "jit.member"])),
        agency=draw(st.sampled_from(AGENCIES)),
        roles=frozenset(draw(st.lists(st.sampled_from(ROLES), max_size=3))),
        clearance=draw(st.integers(0, 3)),
    )
    purpose = draw(
        st.sampled_from(["investigation", "supervision", "risk-monitoring", "enforcement", "audit"])
    )
    case_id = (
        draw(st.sampled_from(CASES))
        if purpose in ("investigation", "enforcement")
        else draw(st.sampled_from([None, *CASES]))
    )
    roots = []
    for index, root in enumerate(
        draw(st.lists(st.sampled_from(sorted(ROOTS)), min_size=1, max_size=2))
    ):
        type_name, args = ROOTS[root]
        alias = f"r{index}"
        roots.append(
            (
                Node(alias, "Query", root, draw(selections(type_name, 1))),
                args(draw(st.integers(0, 13))),
            )
        )
    fragments: dict[str, str] = {}
    body = " ".join(
        f"{n.key}: {n.field_name}{args} {{ {render(n.children, fragments, draw)} }}"
        for n, args in roots
    )
    query = "query Q { " + body + " } " + " ".join(fragments.values())
    return Case(
        principal, purpose, case_id, draw(st.booleans()),
        draw(st.sampled_from([None, None, "urgent"])), draw(st.sampled_from([None, "lead 42"])),
        query, tuple(n for n, _ in roots),
    )  # fmt: skip


class Fixture:
    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._cm = open_harness(tmp)
        self.harness: Harness = self.loop.run_until_complete(self._cm.__aenter__())
        self.keys = load_or_create_keys(tmp)
        self.teams = TeamStore(self.harness.gateway.governance)
        self.engine = self.harness.gateway.policies.engine
        self.labels = _vary_labels(self.harness)

    def token(self, p: Principal) -> str:
        now = int(time.time())
        claims = {"iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": p.subject, "agency": p.agency,
                  "roles": sorted(p.roles), "clearance": p.clearance, "iat": now, "exp": now + 600}  # fmt: skip
        key = self.keys.keys[0]
        return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, self.keys)

    def close(self) -> None:
        self.loop.run_until_complete(self._cm.__aexit__(None, None, None))
        self.loop.close()


# the agency collection and key field behind each entity type of the small world
KEYS = {
    "Enterprise": ("market", "enterprise", "uscc"),
    "Person": ("police", "person", "id_number"),
    "BankAccount": ("banking", "account", "number"),
    "Transaction": ("banking", "transaction", "id"),
    "PoliceCase": ("police", "case", "case_number"),
    "CourtCase": ("courts", "court_case", "case_number"),
}


def _vary_labels(harness: Harness) -> dict[tuple[str, str], dict[str, Any]]:
    """Give the world's records every handling code, sensitivity and case link, in place."""
    by_key = {}
    for type_name, (agency, kind, key) in KEYS.items():
        for i, row in enumerate(harness.agencies[agency]._records[kind]):
            row["handling_code"] = f"H{i % 4}"
            row["sensitivity"] = (i * 3) % 4
            row["linked_cases"] = ["JIT-2026-001"] if i % 3 == 0 else []
            by_key[(type_name, str(row[key]))] = row
    return by_key


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    made = Fixture(tmp_path_factory.mktemp("property"))
    yield made
    made.close()


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(case=cases())
def test_nothing_leaks(fixture: Fixture, case: Case) -> None:
    harness = fixture.harness
    members = next(t for t in fixture.teams.list() if t.id == "JIT-2026-001").members
    want = case.in_team and case.principal.subject == "jit.member"
    if want and "jit.member" not in members:
        fixture.teams.add_member("JIT-2026-001", "jit.member")
    elif not want and "jit.member" in members:
        fixture.teams.remove_member("JIT-2026-001", "jit.member")
    for agency in harness.agencies.values():
        agency.calls.clear()
    headers = {
        "authorization": f"Bearer {fixture.token(case.principal)}",
        "x-purpose": case.purpose,
    }
    if case.case_id:
        headers["x-case-id"] = case.case_id
    if case.break_glass:
        headers["x-break-glass"] = case.break_glass
    if case.justification:
        headers["x-justification"] = case.justification
    response = fixture.loop.run_until_complete(
        harness.client.post("/graphql", json={"query": case.query}, headers=headers)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    context = DecisionContext(
        purpose=case.purpose, case_id=case.case_id or "",
        justification=case.justification or case.break_glass or "",
        in_team=want and case.case_id == "JIT-2026-001",
        teams=("JIT-2026-001",) if want else (), break_glass=case.break_glass is not None,
    )  # fmt: skip
    decide = _decider(fixture, case.principal, context)
    for node in case.tree:
        _check(node, (body.get("data") or {}).get(node.key), decide)
    _check_requests(harness, case, decide)
    _check_records(fixture, case.principal, context)


def _check_records(fixture: Fixture, principal: Principal, context: DecisionContext) -> None:
    shown = fixture.harness.audit.records[-1].records_returned
    for type_name, keys in shown.items():
        rows = [fixture.labels[(type_name, key)] for key in sorted(keys)]
        labels = [
            RecordLabels(
                KEYS[type_name][0],
                row["handling_code"],
                row["sensitivity"],
                context.case_id in row["linked_cases"],
            )
            for row in rows
        ]
        for key, decision in zip(
            sorted(keys), fixture.engine.decide_records(principal, context, labels), strict=True
        ):
            assert decision.visible, f"{type_name} {key} shown but not visible to {principal}"


def _decider(fixture: Fixture, principal: Principal, context: DecisionContext) -> Any:
    catalog = _catalog()
    cache: dict[tuple[str, str], Any] = {}

    def decide(type_name: str, field_name: str) -> Any:
        key = (type_name, field_name)
        if key not in cache:
            cache[key] = fixture.engine.decide(principal, context, [catalog[key]])[0]
        return cache[key]

    return decide


def _check(node: Node, value: Any, decide: Any) -> None:
    if node.field_name == "__typename" or value is None:
        return
    decision = decide(node.type_name, node.field_name)
    assert decision.outcome is not Outcome.DENY, (
        f"{node.type_name}.{node.field_name} leaked: {value!r}"
    )
    if decision.outcome is Outcome.MASK:
        assert masks.apply(decision.mask, value) == value, (
            f"{node.type_name}.{node.field_name} not masked: {value!r}"
        )
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict):
            for child in node.children:
                _check(child, item.get(child.key), decide)


def _check_requests(harness: Harness, case: Case, decide: Any) -> None:
    """No agency was asked for a field whose every use in the query was denied.

    A field's uses are the plain fields that show it and the links that need it to join.
    """
    catalog = _catalog()
    allowed: dict[str, set[str]] = {}
    denied: dict[str, set[str]] = {}
    for entity, source, type_name, field_name in _sources(case.tree, None, ""):
        target = denied if decide(type_name, field_name).outcome is Outcome.DENY else allowed
        target.setdefault(entity, set()).add(source)
    kinds = {spec.kind: name for name, spec in SPECS_BY_NAME.items() if spec.kind}
    for agency in harness.agencies.values():
        for kind, _, _, fields in agency.calls:
            entity = kinds[kind]
            leaked = fields & (denied.get(entity, set()) - allowed.get(entity, set()))
            assert not leaked, f"asked {agency.agency} for denied {entity} fields {leaked}"
    del catalog


def _sources(
    nodes: tuple[Node, ...] | list[Node], entity: str | None, prefix: str
) -> Iterator[tuple[str, str, str, str]]:
    catalog = _catalog()
    for node in nodes:
        if node.field_name == "__typename":
            continue
        resource = catalog[(node.type_name, node.field_name)]
        if entity is not None and resource.shape is Shape.ATTR:
            yield entity, prefix + (resource.source or ""), node.type_name, node.field_name
        if entity is not None and resource.shape is Shape.LINK:
            # an allowed link legitimately needs its join fields (e.g. holder_id)
            for required in resource.requires:
                yield entity, required, node.type_name, node.field_name
        if resource.target is None:
            continue
        spec = SPECS_BY_NAME.get(resource.target)
        if spec is not None and spec.kind is not None:
            yield from _sources(node.children, resource.target, "")
        elif entity is not None and resource.shape is Shape.EMBEDDED:
            yield from _sources(node.children, entity, f"{prefix}{resource.source}.")
        else:
            yield from _sources(node.children, None, "")
