"""Property: whatever the caller, purpose, team and query, nothing leaks.

For generated principals, purposes, cases, team memberships and queries (aliases, inline and
named fragments, nesting, lists), through the whole pipeline:

- every value in the response is allowed by a direct policy decision for its field;
- a value the policy masks is in masked form (masks are idempotent, originals are not);
- a denied field is null and never requested from an agency;
- every record shown is visible to the caller by a direct record-level decision on its labels
  (the world's records get varied handling codes, sensitivities and case links for this; in a
  team's request, a record in the team's scope, as worked out here from the case's subjects
  independently of schema/scope.py, is linked to the case);
  what the audit record holds as seen besides records is an identifier the answer shows in
  clear in an identifier field of a record that is (a court case's party, an account holder).

JOINTGATE_PROPERTY_EXAMPLES sets the number of cases (default 10,000, as the issue asks).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt

from kernel import masks
from kernel.types import Outcome, Principal
from policies.engine import DecisionContext, RecordLabels
from policies.teams import TeamStore
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, load_or_create_keys
from schema.base import SPECS_BY_NAME, Shape
from schema.scope import scope_fields
from tests.gateway.conftest import Harness, open_harness
from tests.gateway.queries import KEYS, Case, Node, _catalog, cases
from tests.gateway.queries import vary_labels as _vary_labels

EXAMPLES = int(os.environ.get("JOINTGATE_PROPERTY_EXAMPLES", "10000"))


class Fixture:
    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._cm = open_harness(tmp)
        self.harness: Harness = self.loop.run_until_complete(self._cm.__aenter__())
        self.keys = load_or_create_keys(tmp)
        self.teams = TeamStore(self.harness.gateway.governance)
        self.engine = self.harness.gateway.policies.engine
        self.labels = _vary_labels(self.harness)
        # the team's case is about half of the small world: every other enterprise (and what
        # links to it) and every third account
        self.harness.subjects = subjects = frozenset(
            [e["uscc"] for e in self.rows("market", "enterprise")[::2]]
            + [a["number"] for a in self.rows("banking", "account")[::3]]
        )
        self.scope = self.scope_of(subjects)

    def rows(self, agency: str, kind: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.harness.agencies[agency]._records[kind]  # type: ignore[attr-defined]
        return found

    def scope_of(self, subjects: frozenset[str]) -> set[tuple[str, str]]:
        """(type, key) of the records the team's scope may hold (docs/policies.md, "Team
        scope"): what links to a subject, and (a little more than the gateway holds, which is
        only through a link) whatever a subject's record names."""
        ents, persons = self.rows("market", "enterprise"), self.rows("police", "person")
        accounts = self.rows("banking", "account")

        def names(e: dict[str, Any]) -> set[str]:
            return {e.get("legal_rep_id"), *(h["holder_id"] for h in e.get("shareholders") or ())}

        named = {n for e in ents if e["uscc"] in subjects for n in names(e)}
        named |= {a.get("holder_id") for a in accounts if a["number"] in subjects}
        scope = {
            ("Enterprise", e["uscc"])
            for e in ents
            if e["uscc"] in subjects | named or names(e) & subjects
        }
        scope |= {("Person", p["id_number"]) for p in persons if p["id_number"] in subjects | named}
        scope |= {
            ("BankAccount", a["number"])
            for a in accounts
            if {a["number"], a.get("holder_id")} & subjects or a["number"] in named
        }
        scope |= {
            ("Transaction", t["id"])
            for t in self.rows("banking", "transaction")
            if t["account_number"] in subjects
            or ("BankAccount", t["account_number"]) in scope
            or t.get("counterparty_account") in subjects
        }
        scope |= {
            ("PoliceCase", c["case_number"])
            for c in self.rows("police", "case")
            if {*c.get("suspect_ids", ()), *c.get("enterprise_ids", ())} & subjects
        }
        scope |= {("CourtCase", c["case_number"]) for c in self.rows("courts", "court_case")
                  if {p["party_id"] for p in c.get("parties", ())} & subjects}  # fmt: skip
        return scope

    def linked(self, context: DecisionContext, type_name: str, row: dict[str, Any]) -> bool:
        """Whether a record is linked to the declared case for the record-level rules."""
        if context.case_id in row["linked_cases"]:
            return True
        key = str(row[KEYS[type_name][2]])
        return context.in_team and (type_name, key) in self.scope

    def visible(self, principal: Principal, in_team: bool) -> frozenset[tuple[str, str]] | None:
        """What the caller could ever see (a member of the team only as jit.member)."""
        teams = ("JIT-2026-001",) if in_team and principal.subject == "jit.member" else ()
        context = DecisionContext(purpose="supervision", teams=teams)
        return self.harness.gateway.pipeline.authorizer.visibility(principal, context).fields

    def token(self, p: Principal) -> str:
        now = int(time.time())
        claims = {"iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": p.subject, "agency": p.agency,
                  "roles": sorted(p.roles), "clearance": p.clearance, "iat": now, "exp": now + 600}  # fmt: skip
        key = self.keys.keys[0]
        return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, self.keys)

    def close(self) -> None:
        self.loop.run_until_complete(self._cm.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    made = Fixture(tmp_path_factory.mktemp("property"))
    yield made
    made.close()


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(data=st.data())
def test_nothing_leaks(fixture: Fixture, data: st.DataObject) -> None:
    case = data.draw(cases(fixture.visible))
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
    if case.case_id == "JIT-2026-001" and case.principal.subject == "jit.member" and not want:
        # its case through the team only, and out of the team: refused before anything is asked
        assert response.status_code == 403, response.text
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["CASE_NOT_ASSIGNED"]
        assert all(not agency.calls for agency in harness.agencies.values())
        return
    assert response.status_code == 200, response.text
    body = response.json()
    context = DecisionContext(
        purpose=case.purpose, case_id=case.case_id or "",
        justification=case.justification or case.break_glass or "",
        in_team=want and case.case_id == "JIT-2026-001",
        teams=("JIT-2026-001",) if want else (), break_glass=case.break_glass is not None,
    )  # fmt: skip
    decide = _decider(fixture, case.principal, context)
    disclosed: set[str] = set()
    for node in case.tree:
        value = (body.get("data") or {}).get(node.key)
        _check(node, value, decide)
        _identifiers(node, value, disclosed)
    _check_requests(harness, case, decide, context.in_team)
    _check_records(fixture, case.principal, context, disclosed)
    _check_searches(fixture, case, body.get("data") or {}, context)


def _check_records(
    fixture: Fixture, principal: Principal, context: DecisionContext, disclosed: set[str]
) -> None:
    shown = fixture.harness.audit.records[-1].records_returned
    for type_name, seen in shown.items():
        keys = seen - disclosed  # an identity disclosed is seen, not a record returned
        rows = [fixture.labels[(type_name, key)] for key in sorted(keys)]
        labels = [
            RecordLabels(
                KEYS[type_name][0],
                row["handling_code"],
                row["sensitivity"],
                fixture.linked(context, type_name, row),
            )
            for row in rows
        ]
        for key, decision in zip(
            sorted(keys), fixture.engine.decide_records(principal, context, labels), strict=True
        ):
            assert decision.visible, f"{type_name} {key} shown but not visible to {principal}"


def _check_searches(
    fixture: Fixture, case: Case, data: dict[str, Any], context: DecisionContext
) -> None:
    """A search's first page says nothing of the matches the caller may not see: its count is
    of visible matches (or null), it is full if there are enough, and it has a next page only
    if there are more."""
    rows = fixture.harness.agencies["market"]._records["enterprise"]  # all match "财富"
    labels = [
        RecordLabels("market", r["handling_code"], r["sensitivity"],
                     fixture.linked(context, "Enterprise", r))
        for r in rows
    ]  # fmt: skip
    visible = sum(d.visible for d in fixture.engine.decide_records(case.principal, context, labels))
    for node in case.tree:
        found = data.get(node.key)
        if node.field_name != "enterprises" or not found:
            continue
        by_field = {c.field_name: found.get(c.key) for c in node.children}
        if by_field.get("totalCount") is not None:
            assert by_field["totalCount"] == visible, f"{by_field} of {visible} visible"
        nodes, info = by_field.get("nodes"), by_field.get("pageInfo")
        has_next = next(
            (info.get(c.key) for n in node.children if n.field_name == "pageInfo"
             for c in n.children if c.field_name == "hasNextPage"),
            None,
        ) if info else None  # fmt: skip
        if nodes is not None and has_next is not None:
            assert has_next == (len(nodes) < visible), f"{len(nodes)} of {visible}: {has_next}"


def _identifiers(node: Node, value: Any, out: set[str]) -> None:
    """The identifiers the answer shows in identifier fields other than an entity's own key."""
    if node.field_name == "__typename" or value is None:
        return
    resource = _catalog()[(node.type_name, node.field_name)]
    spec = SPECS_BY_NAME.get(node.type_name)
    own_key = (
        spec is not None and node.type_name in resource.identity and spec.key == resource.source
    )
    if resource.identity and not own_key and isinstance(value, str):
        out.add(value)
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            for child in node.children:
                _identifiers(child, item.get(child.key), out)


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


def _check_requests(harness: Harness, case: Case, decide: Any, in_team: bool) -> None:
    """No agency was asked for a field whose every use in the query was denied.

    A field's uses are the plain fields that show it and the links that need it to join, and
    in a team's request the fields that place a record in the team's scope (never shown).
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
            scoping = scope_fields(entity) if in_team else frozenset()
            leaked = fields & (denied.get(entity, set()) - allowed.get(entity, set()) - scoping)
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
            # an identifier's stated type beside it (holder_type for holderId) tells which
            # entity it identifies, to mask and record it: read for the field, never shown
            for required in resource.requires:
                yield entity, prefix + required, node.type_name, node.field_name
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
