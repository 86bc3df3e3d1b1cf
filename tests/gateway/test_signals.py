"""A signal never reveals what its caller could not read directly (issue 19; docs/signals.md).

For every demo user, under each declaration the user can make, and for subjects that carry
every kind of signal (the demo scenario, the planted patterns, records the random world lists),
``riskSignals`` is compared with a direct query of exactly the evidence fields the link
declares (``schema.signals.EVIDENCE``): every signal shown must be re-derivable from what the
direct query showed the same caller — the record it cites is there, with the field it cites
readable, masked where the direct read masks it. Across all users every kind is seen by
someone, and every kind but the public ones is kept from someone who may read its subject.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from graphql import FieldNode, SelectionSetNode, parse

from sandbox.issuer import DEMO_USERS
from sandbox.memory import memory_connectors
from sandbox.world import World, generate
from schema.signals import EVIDENCE
from signals.model import SignalKind
from tests.gateway.conftest import Harness, open_harness

ROOTS = {
    "Enterprise": ("enterprise", "uscc"),
    "Person": ("person", "idNumber"),
    "BankAccount": ("bankAccount", "number"),
}
DECLARATIONS = (
    ("investigation", "JIT-2026-001"),
    ("investigation", "J1101052026000001"),
    ("supervision", None),
    ("risk-monitoring", None),
    ("enforcement", quote("(2026)京0102执1901号")),  # X-Case-Id percent-encodes UTF-8
    ("audit", None),
)
SIGNALS = (
    "riskSignals { kind severity subject periodFrom periodTo summary"
    " evidence { typeName key field note } measures { name value masked } }"
)
# kinds every member reads the evidence of (published registry and defaulter lists)
PUBLIC = {
    SignalKind.ABNORMAL_LISTING,
    SignalKind.SERIOUS_VIOLATION,
    SignalKind.KEYWORD_SCOPE,
    SignalKind.JUDGMENT_DEFAULTER,
}


@pytest.fixture(scope="module")
def world() -> World:
    return generate(0.05)


def _subjects(world: World) -> list[tuple[str, str]]:
    """(type, key) of subjects that between them carry every kind of signal."""
    s = world.scenario
    found = [
        ("Enterprise", s["enterprise_uscc"]),
        ("Person", s["person_id"]),
        ("BankAccount", s["account_number"]),
    ]
    blacklisted = sorted(u for u, e in world.enterprises.items() if e.get("serious_violation"))
    found += [("Enterprise", u) for u in blacklisted[:1]]
    seen: set[str] = set()
    for planted in world.planted:
        if planted.get("decoy") or planted["kind"] in seen:
            continue
        seen.add(planted["kind"])
        subject = planted["subject"]
        kind = (
            "BankAccount" if subject in world.accounts
            else "Enterprise" if subject in world.enterprises
            else "Person"
        )  # fmt: skip
        found.append((kind, subject))
    return list(dict.fromkeys(found))


@pytest.fixture(scope="module")
def subjects(world: World) -> list[tuple[str, str]]:
    return _subjects(world)


@pytest.fixture
async def harness(tmp_path: Path, world: World) -> AsyncIterator[Harness]:
    connectors: Any = memory_connectors(world)
    async with open_harness(tmp_path, connectors=connectors) as opened:
        yield opened


async def _ask(
    h: Harness, type_name: str, key: str, selection: str, user: str, purpose: str, case: Any
) -> dict[str, Any]:
    root, arg = ROOTS[type_name]
    query = f'{{ {root}({arg}: "{key}") {{ {selection} }} }}'
    response = await h.query(query, user=user, purpose=purpose, case=case)
    body: dict[str, Any] = response.json()
    body["status"] = response.status_code
    return body


def _pruned(selection: str, names: set[str]) -> str:
    """``selection`` without the fields named ``names`` (those not in the caller's schema)."""

    def text(node: SelectionSetNode) -> str:
        kept = []
        for field in node.selections:
            assert isinstance(field, FieldNode)
            if field.name.value in names:
                continue
            if field.selection_set is None:
                kept.append(field.name.value)
            elif inner := text(field.selection_set):
                kept.append(f"{field.name.value} {{ {inner} }}")
        return " ".join(kept)

    definition: Any = parse("{" + selection + "}").definitions[0]
    return text(definition.selection_set)


async def _direct(
    h: Harness, type_name: str, key: str, user: str, purpose: str, case: Any
) -> dict[str, Any]:
    """The evidence read directly: the fields not in the caller's schema at all left out."""
    selection, gone = EVIDENCE[type_name], set[str]()
    while True:
        body = await _ask(h, type_name, key, _pruned(selection, gone), user, purpose, case)
        missing = {
            m.group(1)
            for e in body.get("errors", ())
            if (m := re.match(r"Cannot query field '(\w+)'", e["message"]))
        }
        if body["status"] != 400 or not missing or missing <= gone:
            return body  # answered, or refused for something else (the root field itself)
        gone |= missing


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def _masks(direct: dict[str, Any], value: str) -> bool:
    """Whether the direct read shows ``value`` (given in clear) masked somewhere: a masked
    string of its length with the same first and last characters shown."""
    if _masked(value):
        return False
    text = json.dumps(direct, ensure_ascii=False)
    strings = re.findall(r'"([^"]*\*[^"]*)"', text)
    return any(
        len(v) == len(value) and v[:2] == value[:2] and v[-2:] == value[-2:] for v in strings
    )


def _masked(value: Any) -> bool:
    return isinstance(value, str) and "*" in value


def _backed(evidence: dict[str, Any], direct: dict[str, Any], subject_type: str) -> bool:
    """Whether the direct read shows what this evidence cites."""
    field = evidence["field"].split(".", 1)[1]
    key = evidence["key"]
    objects = list(_walk(direct))
    if evidence["typeName"] == subject_type and field in {
        "abnormalOperations", "seriousViolation", "businessScope", "judgmentDefaulter",
    }:  # fmt: skip
        own = next(iter(direct.values()), None) or {}
        return bool(own.get(field))
    if field == "judgmentDefaulter":  # the legal representative's entry
        return any(o.get("judgmentDefaulter") for o in objects if "idNumber" not in o)
    if field == "policeCases":
        return any(o.get("caseNumber") == key and "charge" in o for o in objects)
    if field == "enforcement":
        return any(o.get("caseNumber") == key and "amountOwed" in o for o in objects)
    if field in ("suspiciousReports", "transactions"):
        return any(o.get("number") == key and o.get(field) is not None for o in objects)
    if field == "counterpartyAccount":
        shown = [o["counterpartyAccount"] for o in objects if o.get("counterpartyAccount")]
        return bool(shown) and (_masked(key) or not any(_masked(v) for v in shown))
    if field.startswith("credit") or evidence["typeName"] == "CreditReport":
        return any(o.get("creditReport") for o in objects) or "loans" in json.dumps(direct)
    raise AssertionError(f"no check for evidence field {evidence['field']}")


@pytest.mark.parametrize("user", sorted(DEMO_USERS))
async def test_a_signal_shows_only_what_its_caller_reads_directly(
    harness: Harness, subjects: list[tuple[str, str]], user: str
) -> None:
    for purpose, case in DECLARATIONS:
        for type_name, key in subjects:
            asked = await _ask(harness, type_name, key, SIGNALS, user, purpose, case)
            direct = await _direct(harness, type_name, key, user, purpose, case)
            if asked["status"] != 200:  # refused whole (no purpose of the caller's, no case)
                assert direct["status"] == asked["status"], (user, purpose, asked, direct)
                continue
            data = next(iter((asked.get("data") or {}).values()), None) or {}
            for signal in data.get("riskSignals") or ():
                for evidence in signal["evidence"]:
                    assert _backed(evidence, direct.get("data") or {}, type_name), (
                        user, purpose, case, type_name, key, signal, direct,
                    )  # fmt: skip
                    # nothing the direct read masks is shown in clear in the signal
                    shown = [evidence["key"], signal["subject"]]
                    assert not any(_masks(direct, value) for value in shown if value), (
                        user, purpose, case, type_name, key, signal, direct,
                    )  # fmt: skip


async def test_every_kind_is_seen_by_someone_and_kept_from_someone(
    harness: Harness, subjects: list[tuple[str, str]]
) -> None:
    seen: dict[SignalKind, set[str]] = {}
    for user in sorted(DEMO_USERS):
        for purpose, case in DECLARATIONS:
            for type_name, key in subjects:
                asked = await _ask(harness, type_name, key, SIGNALS, user, purpose, case)
                data = next(iter((asked.get("data") or {}).values()), None) or {}
                for signal in data.get("riskSignals") or ():
                    seen.setdefault(SignalKind(signal["kind"]), set()).add(user)
    assert set(seen) == set(SignalKind), f"never shown: {set(SignalKind) - set(seen)}"
    for kind, users in seen.items():
        if kind not in PUBLIC:
            assert users != set(DEMO_USERS), f"{kind} is shown to every demo user"


async def test_in_reject_mode_evidence_denied_withholds_the_kind_not_the_operation(
    tmp_path: Path, world: World
) -> None:
    """Reject mode refuses an operation that selects a denied field; an evidence field is not
    selected but read by riskSignals, which answers without it (its kinds withheld)."""
    connectors: Any = memory_connectors(world)
    uscc = world.scenario["enterprise_uscc"]
    async with open_harness(tmp_path, connectors=connectors, policy_mode="reject") as h:
        query = f'{{ enterprise(uscc: "{uscc}") {{ name {SIGNALS} }} }}'
        response = await h.query(query, user="market.officer", purpose="supervision", case=None)
        assert response.status_code == 200, response.text
        kinds = {s["kind"] for s in response.json()["data"]["enterprise"]["riskSignals"]}
        assert "ABNORMAL_LISTING" in kinds and "POLICE_CASE" not in kinds
        assert "enterprise.riskSignals(POLICE_CASE)" in h.audit.records[-1].fields_withheld
        # selecting the evidence itself is still refused whole
        direct = f'{{ enterprise(uscc: "{uscc}") {{ policeCases {{ caseNumber }} }} }}'
        refused = await h.query(direct, user="market.officer", purpose="supervision", case=None)
        assert refused.status_code in (400, 403), refused.text


async def test_the_demo_scenarios_enterprise_tells_its_story(
    harness: Harness, world: World
) -> None:
    """What the joint team sees of the demo's fundraiser: every source's part, once each."""
    uscc = world.scenario["enterprise_uscc"]
    body = await _ask(harness, "Enterprise", uscc, SIGNALS, "jit.member", *DECLARATIONS[0])
    signals = body["data"]["enterprise"]["riskSignals"]
    kinds = {s["kind"] for s in signals}
    assert {
        "SCATTERED_IN_CONCENTRATED_OUT", "POLICE_CASE", "ABNORMAL_LISTING", "JUDGMENT_DEFAULTER",
        "OUTSTANDING_ENFORCEMENT", "SUSPICIOUS_REPORT", "BORROWING_BEFORE_FUNDRAISING",
        "GUARANTEE_CHAIN", "SUDDEN_OVERDUE",
    } <= kinds  # fmt: skip
    cited = [(s["kind"], tuple(e["key"] for e in s["evidence"])) for s in signals]
    assert len(cited) == len(set(cited)), "a signal is listed twice"
    scattered = next(s for s in signals if s["kind"] == "SCATTERED_IN_CONCENTRATED_OUT")
    assert scattered["subject"] == world.scenario["account_number"]
    # the borrowing is counted up to the day the investors' money starts coming in
    first_in = min(
        tx["time"][:10]
        for tx in world.transactions_by_account[world.scenario["account_number"]]
        if tx["direction"] == "in"
    )
    borrowing = next(s for s in signals if s["kind"] == "BORROWING_BEFORE_FUNDRAISING")
    assert borrowing["periodTo"] == first_in
