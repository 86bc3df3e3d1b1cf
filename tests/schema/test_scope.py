"""The fields that place a record in a joint team's scope: declared on the entity, present in
the agencies' records, and read as docs/policies.md ("Team scope") says."""

from __future__ import annotations

import dataclasses

import pytest

from connectors.base import Labels, Record
from sandbox.memory import memory_connectors
from sandbox.world import generate
from schema.base import SPECS_BY_NAME
from schema.scope import Scope, check_declarations, referred, scope_fields
from schema.unified import build_schema

build_schema()  # fills SPECS_BY_NAME's specs from the schema


def _record(type_name: str, key: str, cases: tuple[str, ...] = (), **data: object) -> Record:
    spec = SPECS_BY_NAME[type_name]
    assert spec.key is not None and spec.kind is not None
    return Record(spec.kind, key, {spec.key: key, **data}, Labels(spec.agency, "H0", 0, cases))


def test_every_entity_says_how_it_links() -> None:
    declared = {name: (s.refers, s.part_of) for name, s in SPECS_BY_NAME.items() if s.kind}
    assert declared == {
        "BankAccount": (("holder_id",), None),
        "CourtCase": (("parties.party_id",), None),
        "DefaulterEntry": ((), None),  # keyed by the party: in scope when the party is a subject
        # keyed by the party too; and in scope when a guarantee names a subject
        "CreditReport": (("guarantees_given.party_id", "guarantees_received.party_id"), None),
        "Enterprise": (("legal_rep_id", "shareholders.holder_id"), None),
        "Person": ((), None),
        "PoliceCase": (("suspect_ids", "enterprise_ids", "frozen_assets.account_number"), None),
        "SuspiciousReport": ((), ("BankAccount", "account_number")),
        "Transaction": (("counterparty_account",), ("BankAccount", "account_number")),
    }
    assert check_declarations() == []


def test_the_declared_fields_are_in_the_agencies_records() -> None:
    """Each field named in refers or part_of is in the records the agencies return, with an
    identifier in it for some record: a misspelt one would place nothing in the scope."""
    agencies = memory_connectors(generate(scale=0.02))
    for name, spec in SPECS_BY_NAME.items():
        if spec.kind is None or not scope_fields(name):
            continue
        rows = agencies[spec.agency]._records[spec.kind]
        for field in scope_fields(name):
            head = field.partition(".")[0]
            assert all(head in row for row in rows), f"{name}: {field}"
            one = dataclasses.replace(spec, refers=(field,))
            records = [_record(name, str(r[spec.key or ""]), **r) for r in rows]
            if field in spec.refers:
                assert any(list(referred(one, r.data)) for r in records), f"{name}: {field}"


def test_bad_declarations_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SPECS_BY_NAME["BankAccount"]
    broken = dataclasses.replace(
        spec, refers=("holder_id.", "number.digits"), part_of=("Ledger", "a.b")
    )
    monkeypatch.setitem(SPECS_BY_NAME, "BankAccount", broken)
    assert check_declarations() == [
        "BankAccount: refers 'holder_id.' is not 'field' or 'list.field'",
        "BankAccount: refers 'number.digits': 'number' is no embedded list",
        "BankAccount: part_of names 'Ledger', which is no entity type",
        "BankAccount: part_of field 'a.b' is not a field name",
    ]


def test_what_places_a_record_in_scope() -> None:
    enterprise, rep, account = "91110105MA0000001X", "110105198001020011", "6222020000000000001"
    scope = Scope(frozenset({enterprise}), "JIT-2026-001")
    spec = SPECS_BY_NAME.__getitem__
    # its own key, a field naming a subject, a shareholder, a labelled case
    assert scope.covers(spec("Enterprise"), _record("Enterprise", enterprise))
    held = _record("BankAccount", account, holder_id=enterprise)
    assert scope.covers(spec("BankAccount"), held)
    owned = _record("Enterprise", "91110105MA0000002X", shareholders=[{"holder_id": enterprise}])
    assert scope.covers(spec("Enterprise"), owned)
    court = _record("CourtCase", "(2025)京01民初1号", parties=[{"party_id": enterprise}])
    assert scope.covers(spec("CourtCase"), court)
    labelled = _record("Person", "110105198001030025", cases=("JIT-2026-001",))
    assert scope.covers(spec("Person"), labelled)
    # not what a subject's record names, by itself: the representative
    person = _record("Person", rep)
    assert not scope.covers(spec("Person"), person)
    assert not scope.joins(person)
    scope.shown(
        spec("Enterprise"), "Enterprise", _record("Enterprise", enterprise, legal_rep_id=rep)
    )
    assert scope.joins(person)  # named by the subject's record shown in this request
    # a record merely in scope adds nobody: the owned enterprise's representative stays out
    other = "110105198001040030"
    owned_too = owned._replace(data={**owned.data, "legal_rep_id": other})
    scope.shown(spec("Enterprise"), "Enterprise", owned_too)
    assert not scope.joins(_record("Person", other))
    # part of a record in scope: the account's transactions
    transaction = _record("Transaction", "T1", account_number=account)
    assert not scope.covers(spec("Transaction"), transaction)
    scope.shown(spec("BankAccount"), "BankAccount", held)
    assert scope.covers(spec("Transaction"), transaction)
    # record-level rules see a record in scope as linked to the case
    assert scope.labels(held, True).cases == ("JIT-2026-001",)
    assert scope.labels(person, False) is person.labels
