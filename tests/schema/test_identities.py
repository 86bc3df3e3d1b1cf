"""Identifiers shown anywhere in an answer: declared on the schema, recorded as seen when shown
in clear, and never an obstacle to the links that hang off a masked one."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import get_named_type

from kernel.identifiers import (
    InvalidIdentifier,
    check_account_number,
    check_court_case_number,
    check_police_case_number,
    check_resident_id,
    check_uscc,
    uscc_check_char,
)
from kernel.masks import resident_id as masked_id
from sandbox.memory import memory_connectors
from sandbox.world import generate
from schema.base import SPECS, SPECS_BY_NAME, Shape, TypeSpec, attr, embedded_type, link
from schema.catalog import SchemaMappingError, build_catalog
from schema.unified import build_schema
from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc
from tests.policies.test_masks import valid_as_both

SCHEMA = build_schema()
IDENTIFIER_SCALARS = {"USCC", "ResidentID", "AccountNumber", "CourtCaseNumber", "PoliceCaseNumber"}
IDENTIFIER_MASKS = {"resident_id", "party_id", "account"}
# a name that says identifier: caseNumber, holderId, counterpartyAccount, id, uscc ...
IDENTIFIER_NAME = re.compile(r"(?:^|[a-z])(?:Number|Id|Account|Uscc)$|^(?:id|number|uscc)$")
NOT_ENTITY_IDENTIFIERS = {
    # an administrative penalty decision's number: no entity type of the schema is keyed by it
    ("Penalty", "decisionNumber"),
    # a loan's number at the credit system (the loan is no entity of the schema)
    ("Loan", "loanId"),
    ("Guarantee", "loanId"),
}
# the checks that tell which entity types a value in agency data can identify (an 18-digit
# account number can pass a USCC's check too, a resident ID's digits an account's Luhn check)
CHECKS = (
    ("CourtCase", check_court_case_number),
    ("PoliceCase", check_police_case_number),
    ("Person", check_resident_id),
    ("Enterprise", check_uscc),
    ("BankAccount", check_account_number),
)
CASES = [f"(2025)京01民初{i + 1}号" for i in range(4)]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        yield opened


def _identifies(value: object) -> frozenset[str]:
    """The entity types a value of agency data can be an identifier of."""
    found = set()
    if isinstance(value, str):
        for type_name, check in CHECKS:
            try:
                check(value)
            except InvalidIdentifier:
                continue
            found.add(type_name)
    return frozenset(found)


def identifiers_in_agency_data() -> dict[tuple[str, str], set[frozenset[str]]]:
    """For every (type, field) of the schema, the entity types each of its values in the
    synthetic world can identify: what the agencies really put there, wherever it is shown."""
    agencies = memory_connectors(generate(scale=0.02))
    found: dict[tuple[str, str], set[frozenset[str]]] = {}
    graphql_names = {(r.type_name, r.python_name): r.field_name for r in SCHEMA.catalog.values()}

    def walk(spec: TypeSpec, record: dict[str, Any]) -> None:
        for name, source, sub in spec.values:
            value = record.get(source)
            values = value if isinstance(value, list) else [value]
            if sub is not None:
                for item in values:
                    walk(SPECS[sub], item)
                continue
            identified = {types for v in values if (types := _identifies(v))}
            if identified:
                field = (spec.cls.__name__, graphql_names[(spec.cls.__name__, name)])
                found.setdefault(field, set()).update(identified)

    for spec in SPECS_BY_NAME.values():
        if spec.kind is not None and spec.agency in agencies:
            for record in agencies[spec.agency]._records[spec.kind]:
                walk(spec, record)
    return found


def test_every_identifier_field_declares_the_identities_it_discloses() -> None:
    """An identifier is found by its scalar, its mask, its name (caseNumber, holderId ...) and
    by what the agencies' data holds in it (an enforcement record's case number is a court
    case's); each declares the entity types it identifies, and no other field does."""
    in_data = identifiers_in_agency_data()
    assert in_data[("EnforcementRecord", "caseNumber")] == {frozenset({"CourtCase"})}
    for (type_name, field_name), resource in SCHEMA.catalog.items():
        if resource.agency == "audit" or resource.shape is Shape.LINK:
            continue  # the trail's own fields (read as AuditRecord); links show no value
        if resource.agency == "office" and not resource.identity:
            # the joint office's own records: a lead or case shown is recorded as seen by its
            # resolver (Lead, JointCase: schema/office.py); their ids and numbers name no
            # agency entity. Its subjects' identifiers do (LeadSubject.identifier, below)
            continue
        gql_field = SCHEMA.graphql.type_map[type_name].fields[field_name]  # type: ignore[union-attr]
        identifier = (
            get_named_type(gql_field.type).name in IDENTIFIER_SCALARS
            or resource.mask in IDENTIFIER_MASKS
            or (type_name, field_name) in in_data
            or (
                IDENTIFIER_NAME.search(field_name) is not None
                and (type_name, field_name) not in NOT_ENTITY_IDENTIFIERS
            )
        )
        assert bool(resource.identity) == identifier, resource.path
        for types in in_data.get((type_name, field_name), ()):
            assert types & set(resource.identity), (resource.path, types)
        for identity in resource.identity:
            assert SPECS_BY_NAME[identity].kind is not None, resource.path  # an entity type
    party = ("Person", "Enterprise")
    assert SCHEMA.catalog[("Party", "partyId")].identity == party
    assert SCHEMA.catalog[("LeadSubject", "identifier")].identity == party
    assert SCHEMA.catalog[("Shareholder", "holderId")].identity == party
    assert SCHEMA.catalog[("BankAccount", "holderId")].identity == party
    assert SCHEMA.catalog[("DefaulterEntry", "partyId")].identity == party
    assert SCHEMA.catalog[("Transaction", "counterpartyAccount")].identity == ("BankAccount",)
    assert SCHEMA.catalog[("FrozenAsset", "accountNumber")].identity == ("BankAccount",)
    assert SCHEMA.catalog[("Person", "idNumber")].identity == ("Person",)
    assert SCHEMA.catalog[("EnforcementRecord", "caseNumber")].identity == ("CourtCase",)
    assert SCHEMA.catalog[("Judgment", "documentNumber")].identity == ("CourtCase",)


@embedded_type(agency="market")
class OddHolder:
    holder_id: str | None = attr("identity", 2, identity="Persons")


@strawberry.type
class OddQuery:
    @link("market", "registry")
    def holder(self) -> OddHolder | None:
        return None


def test_an_identity_that_is_not_an_entity_type_is_a_build_error() -> None:
    with pytest.raises(SchemaMappingError, match=r"OddHolder\.holderId.*Persons"):
        build_catalog(strawberry.Schema(query=OddQuery)._schema)


def with_person_parties(harness: Harness) -> None:
    """Court case i names enterprise i's legal representative as a party too, the person holds
    an account of their own, and transactions show their counterparty's account."""
    courts = harness.agencies["courts"]._records["court_case"]
    for i, case in enumerate(courts):
        case["party_ids"] = [*case["party_ids"], resident_id(i)]
        case["parties"] = [*case["parties"], {"party_id": resident_id(i), "name": f"法人{i}",
                                              "role": "第三人"}]  # fmt: skip
    banking = harness.agencies["banking"]._records
    banking["account"].append({
        "number": card(90), "holder_id": resident_id(3), "holder_type": "person", "bank": "中国银行",
        "handling_code": "H1", "sensitivity": 2, "linked_cases": [],
    })  # fmt: skip
    for n, transaction in enumerate(banking["transaction"]):
        transaction["counterparty_account"] = card(100 + n)


async def ask(harness: Harness, query: str, user: str, purpose: str) -> dict[str, Any]:
    case = "JIT-2026-001" if purpose == "investigation" else None
    response = await harness.query(query, user=user, purpose=purpose, case=case)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- masked identifiers still link -----------------------------------------------------------------

ISSUE = '{ enterprise(uscc: "%s") { legalRepresentative { idNumber courtCases { caseNumber } } } }'


async def test_a_masked_identifier_still_links_to_the_court_cases(harness: Harness) -> None:
    with_person_parties(harness)
    body = await ask(harness, ISSUE % uscc(3), "bank.analyst", "risk-monitoring")
    assert "errors" not in body, body
    assert body["data"]["enterprise"]["legalRepresentative"] == {
        "idNumber": masked_id(resident_id(3)),
        "courtCases": [{"caseNumber": CASES[3]}],
    }


LINKS = """{ enterprise(uscc: "%s") { legalRepresentative { idNumber __typename
  courtCases { caseNumber } enterprises { uscc } bankAccounts { bank } policeCases { caseNumber }
} } }"""


async def test_links_off_a_masked_key_use_the_real_key_and_stay_decided_by_policy(
    harness: Harness,
) -> None:
    with_person_parties(harness)
    response = await harness.query(LINKS % uscc(3), user="bank.analyst",
                                   purpose="risk-monitoring", case=None)  # fmt: skip
    body = response.json()
    rep = body["data"]["enterprise"]["legalRepresentative"]
    assert rep["idNumber"] == masked_id(resident_id(3)) and rep["__typename"] == "Person"
    assert rep["courtCases"] == [{"caseNumber": CASES[3]}]
    assert rep["enterprises"] == [{"uscc": uscc(3)}]
    assert rep["bankAccounts"] == [{"bank": "中国银行"}]
    assert rep["policeCases"] is None  # denied: never followed, the police never asked
    [error] = body["errors"]
    assert error["path"] == ["enterprise", "legalRepresentative", "policeCases"]
    assert error["extensions"]["code"] == "FORBIDDEN_FIELD"
    assert [c[:2] for c in harness.agencies["police"].calls] == [("person", "id_number")]
    assert resident_id(3) not in response.text


async def test_a_failing_link_off_a_masked_key_does_not_reveal_it(harness: Harness) -> None:
    with_person_parties(harness)
    harness.agencies["courts"].down = True
    response = await harness.query(ISSUE % uscc(3), user="bank.analyst",
                                   purpose="risk-monitoring", case=None)  # fmt: skip
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["AGENCY_UNAVAILABLE"]
    assert resident_id(3) not in response.text


# -- identifiers shown are recorded as seen ---------------------------------------------------------

PARTIES = "{ courtCases(caseNumbers: [%s]) { caseNumber parties { partyId name } } }" % ", ".join(
    f'"{c}"' for c in CASES
)


async def test_identifiers_in_court_parties_are_recorded_as_seen(harness: Harness) -> None:
    with_person_parties(harness)
    # a party's ID is decided as Person.idNumber (docs/policies.md, "Fields are decided by data
    # category"): shown in clear to the persons' own agency, the police, not to the court's clerk
    body = await ask(harness, PARTIES, "jit.member", "investigation")
    assert body["data"]["courtCases"][3]["parties"][1]["partyId"] == resident_id(3)
    returned = harness.audit.records[-1].records_returned
    assert returned["Person"] == {resident_id(i) for i in range(4)}
    assert returned["Enterprise"] == {uscc(i) for i in range(4)}
    assert returned["CourtCase"] == set(CASES)


async def test_masked_identifiers_are_not_disclosures(harness: Harness) -> None:
    with_person_parties(harness)
    body = await ask(harness, PARTIES, "market.officer", "supervision")
    parties = body["data"]["courtCases"][3]["parties"]
    # party_id masking hides a person's ID and keeps an enterprise's USCC (registry data)
    assert [p["partyId"] for p in parties] == [uscc(3), masked_id(resident_id(3))]
    # a party's name is decided as Person.name: masked for supervision, as that is
    assert [p["name"] for p in parties] == ["测***", "法**"]  # 测试3号, 法人3
    record = harness.audit.records[-1]
    assert record.fields_masked == ["courtCases.parties.name", "courtCases.parties.partyId"]
    assert "Person" not in record.records_returned
    assert record.records_returned["Enterprise"] == {uscc(i) for i in range(4)}


HOLDERS = """{ enterprise(uscc: "%s") { shareholders { holderId holderName }
  bankAccounts { holderId transactions(first: 2) { counterpartyAccount } } } }"""


async def test_shareholders_holders_and_counterparties_are_recorded_as_seen(
    harness: Harness,
) -> None:
    with_person_parties(harness)
    body = await ask(harness, HOLDERS % uscc(3), "jit.member", "investigation")
    assert "errors" not in body, body
    returned = harness.audit.records[-1].records_returned
    assert returned["Person"] == {resident_id(3)}  # the shareholder
    assert returned["Enterprise"] == {uscc(3)}  # the enterprise, and its account's holder
    counterparties = {card(100 + 3 * 3 + t) for t in range(2)}
    assert returned["BankAccount"] == {card(3)} | counterparties


async def test_an_identifier_only_fetched_to_follow_a_link_is_not_shown(
    harness: Harness,
) -> None:
    query = '{ bankAccount(number: "%s") { bank holderPerson { name } } }' % card(3)
    body = await ask(harness, query, "jit.member", "investigation")
    assert body["data"]["bankAccount"] == {"bank": "中国工商银行", "holderPerson": None}
    returned = harness.audit.records[-1].records_returned
    assert returned == {"BankAccount": {card(3)}}  # holder_id was read, never shown


async def test_only_the_places_that_show_an_identifier_disclose_it(harness: Harness) -> None:
    """One query reaching accounts at two places, aliased, the holder shown at one of them:
    only that account's holder was shown, so only it is recorded."""
    query = """{ a: bankAccount(number: "%s") { bank }
      b: bankAccount(number: "%s") { ...holder } c: bankAccount(number: "%s") { bank } }
      fragment holder on BankAccount { theHolder: holderId }""" % (card(3), card(4), card(5))
    body = await ask(harness, query, "jit.member", "investigation")
    assert body["data"]["b"] == {"theHolder": uscc(4)}
    returned = harness.audit.records[-1].records_returned
    assert returned == {"BankAccount": {card(3), card(4), card(5)}, "Enterprise": {uscc(4)}}


async def test_court_case_numbers_shown_inside_other_records_are_recorded(
    harness: Harness,
) -> None:
    """A civil case's enforcement case and judgment carry court case numbers of their own:
    shown, they are court cases seen, found by ``audit search --entity``."""
    [case] = [c for c in harness.agencies["courts"]._records["court_case"] if c["case_number"]
              == CASES[0]]  # fmt: skip
    case["enforcement"] = [{"case_number": "(2026)京0102执1901号", "status": "执行中"}]
    case["judgments"] = [{"document_number": "(2025)京01民初1号之一", "outcome": "驳回"}]
    query = '{ courtCase(caseNumber: "%s") { enforcement { caseNumber } } }' % CASES[0]
    body = await ask(harness, query, "jit.member", "investigation")
    assert body["data"]["courtCase"]["enforcement"] == [{"caseNumber": "(2026)京0102执1901号"}]
    returned = harness.audit.records[-1].records_returned
    assert returned["CourtCase"] == {CASES[0], "(2026)京0102执1901号"}
    query = '{ courtCase(caseNumber: "%s") { judgments { documentNumber } } }' % CASES[0]
    await ask(harness, query, "jit.member", "investigation")
    returned = harness.audit.records[-1].records_returned
    assert returned["CourtCase"] == {CASES[0], "(2025)京01民初1号之一"}


# -- which entity a party is ------------------------------------------------------------------------

DIGIT_USCC = "91440304056715996" + uscc_check_char("91440304056715996")  # 91440304056715996L
PARTY_IDS = '{ courtCase(caseNumber: "%s") { parties { partyId } } }' % CASES[0]


def with_parties(harness: Harness, *parties: tuple[str, str | None]) -> None:
    """Court case 0's parties: (ID, what the record says the party is)."""
    [case] = [c for c in harness.agencies["courts"]._records["court_case"] if c["case_number"]
              == CASES[0]]  # fmt: skip
    case["parties"] = [
        {"party_id": party, "name": "某", "role": "被告", **({"party_type": said} if said else {})}
        for party, said in parties
    ]


async def test_a_uscc_of_digits_is_an_enterprise_shown_and_recorded_as_one(
    harness: Harness,
) -> None:
    """91440304056715996L: 18 characters, the first 17 digits, and no resident ID (its last
    character is no ISO 7064 check): kept by the party mask, and recorded as an Enterprise."""
    with_parties(harness, (DIGIT_USCC, None), (resident_id(1), None))
    body = await ask(harness, PARTY_IDS, "market.officer", "supervision")
    parties = body["data"]["courtCase"]["parties"]
    assert parties == [{"partyId": DIGIT_USCC}, {"partyId": masked_id(resident_id(1))}]
    returned = harness.audit.records[-1].records_returned
    assert returned.get("Enterprise") == {DIGIT_USCC} and "Person" not in returned
    await ask(harness, PARTY_IDS, "jit.member", "investigation")  # in clear
    returned = harness.audit.records[-1].records_returned
    assert returned["Enterprise"] == {DIGIT_USCC} and returned["Person"] == {resident_id(1)}


async def test_what_the_record_says_a_party_is_decides_a_value_valid_as_both(
    harness: Harness,
) -> None:
    """A value that is both a valid resident ID and a valid USCC is what the record's
    partyType says (not selected by the caller: the gateway asks for it all the same), and
    the mask and the audit record agree on it; said nothing, it is a person."""
    both = valid_as_both()
    for said, shown, seen in (
        ("enterprise", both, "Enterprise"),
        ("person", masked_id(both), None),
        (None, masked_id(both), None),
    ):
        with_parties(harness, (both, said))
        body = await ask(harness, PARTY_IDS, "market.officer", "supervision")
        assert body["data"]["courtCase"]["parties"] == [{"partyId": shown}], said
        returned = harness.audit.records[-1].records_returned
        assert {t for t, keys in returned.items() if both in keys} == ({seen} if seen else set())
        await ask(harness, PARTY_IDS, "jit.member", "investigation")  # in clear
        returned = harness.audit.records[-1].records_returned
        assert {t for t, keys in returned.items() if both in keys} == {seen or "Person"}, said
