"""Identifiers shown anywhere in an answer: declared on the schema, recorded as seen when shown
in clear, and never an obstacle to the links that hang off a masked one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import get_named_type

from policies.masks import resident_id as masked_id
from schema.base import SPECS_BY_NAME, attr, embedded_type, link
from schema.catalog import SchemaMappingError, build_catalog
from schema.unified import build_schema
from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc

SCHEMA = build_schema()
IDENTIFIER_SCALARS = {"USCC", "ResidentID", "AccountNumber"}
IDENTIFIER_MASKS = {"resident_id", "party_id", "account"}
CASES = [f"(2025)京01民初{i + 1}号" for i in range(4)]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        yield opened


def test_every_identifier_field_declares_the_identities_it_discloses() -> None:
    for (type_name, field_name), resource in SCHEMA.catalog.items():
        gql_field = SCHEMA.graphql.type_map[type_name].fields[field_name]  # type: ignore[union-attr]
        identifier = (
            get_named_type(gql_field.type).name in IDENTIFIER_SCALARS
            or resource.mask in IDENTIFIER_MASKS
        )
        assert bool(resource.identity) == identifier, resource.path
        for identity in resource.identity:
            assert SPECS_BY_NAME[identity].kind is not None, resource.path  # an entity type
    party = ("Person", "Enterprise")
    assert SCHEMA.catalog[("Party", "partyId")].identity == party
    assert SCHEMA.catalog[("Shareholder", "holderId")].identity == party
    assert SCHEMA.catalog[("BankAccount", "holderId")].identity == party
    assert SCHEMA.catalog[("DefaulterEntry", "partyId")].identity == party
    assert SCHEMA.catalog[("Transaction", "counterpartyAccount")].identity == ("BankAccount",)
    assert SCHEMA.catalog[("FrozenAsset", "accountNumber")].identity == ("BankAccount",)
    assert SCHEMA.catalog[("Person", "idNumber")].identity == ("Person",)


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
    body = await ask(harness, PARTIES, "court.clerk", "supervision")
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
    record = harness.audit.records[-1]
    assert record.fields_masked == ["courtCases.parties.partyId"]
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
