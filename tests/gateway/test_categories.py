"""Fields are decided by data category, through the whole gateway: a person's ID number or name
shows as the person's own field would, whichever agency's record carries it (issue 17;
docs/policies.md, "Fields are decided by data category")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import Harness, card, labels, open_harness, resident_id, uscc

PERSON_ACCOUNT = card(50)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        # an account held by enterprise 3's legal representative, a person
        opened.agencies["banking"]._records["account"].append(labels({
            "number": PERSON_ACCOUNT, "holder_id": resident_id(3), "holder_type": "person",
            "holder_name": "法人3", "bank": "中国工商银行", "balance": 5.0,
        }, "H1", 2))  # fmt: skip
        yield opened


async def ask(harness: Harness, query: str, user: str, purpose: str) -> dict[str, Any]:
    case = "J1101052026000003" if purpose == "investigation" else None
    response = await harness.query(query, user=user, purpose=purpose, case=case)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_bank_analyst_sees_a_holders_id_number_as_the_persons(harness: Harness) -> None:
    """Regression: the banking regulator saw Person.idNumber masked, and the same number in full
    as BankAccount.holderId (its own agency's field)."""
    query = """{ bankAccount(number: "%s") { holderId holderName }
      enterprise(uscc: "%s") { legalRepresentative { idNumber name } } }""" % (
        PERSON_ACCOUNT, uscc(3),
    )  # fmt: skip
    body = await ask(harness, query, "bank.analyst", "supervision")
    assert "errors" not in body, body
    account = body["data"]["bankAccount"]
    person = body["data"]["enterprise"]["legalRepresentative"]  # the same person
    assert account == {"holderId": person["idNumber"], "holderName": person["name"]}
    assert person == {"idNumber": resident_id(3)[:6] + "********" + resident_id(3)[-4:],
                      "name": "法**"}  # fmt: skip
    record = harness.audit.records[-1]
    assert {"bankAccount.holderId", "bankAccount.holderName"} <= set(record.fields_masked)
    assert record.field_policies["bankAccount.holderId"] == ("identity-masked-for-monitoring",)
    # masked, the holder's ID discloses no person (docs/limits.md)
    body = await ask(harness, query.split("enterprise")[0] + "}", "bank.analyst", "supervision")
    assert body["data"]["bankAccount"] == account
    assert "Person" not in harness.audit.records[-1].records_returned
    # an enterprise's account: its USCC is registry data, kept by the party mask
    query = '{ bankAccount(number: "%s") { holderId } }' % card(3)
    body = await ask(harness, query, "bank.analyst", "supervision")
    assert body["data"]["bankAccount"] == {"holderId": uscc(3)}


PERSONS_NAMES = """{ enterprise(uscc: "%s") { name legalRepName shareholders { holderName sharePct }
  courtCases { parties { name role } } } }""" % uscc(3)


async def test_market_officer_gets_names_of_persons_as_person_name(harness: Harness) -> None:
    """Regression: market.officer could not see a person's name but read the legal
    representative's through legalRepName, shareholders.holderName, courtCases.parties.name."""
    body = await ask(harness, PERSONS_NAMES, "market.officer", "supervision")
    assert "errors" not in body, body
    assert body["data"]["enterprise"] == {
        "name": "测试3号财富管理有限公司",
        "legalRepName": "法**",
        "shareholders": [{"holderName": "法**", "sharePct": 100.0}],
        "courtCases": [{"parties": [{"name": "测***", "role": "被告"}]}],  # an enterprise's name
    }
    body = await ask(harness, PERSONS_NAMES, "market.officer", "investigation")
    denied = {tuple(e["path"]) for e in body["errors"]}
    assert denied == {
        ("enterprise", "legalRepName"),
        ("enterprise", "shareholders", 0, "holderName"),
        ("enterprise", "courtCases", 0, "parties", 0, "name"),
    }
    assert body["data"]["enterprise"]["name"] == "测试3号财富管理有限公司"
    # denied names are never asked of the agencies
    asked = [c[3] for c in harness.agencies["market"].calls][-1]
    assert "legal_rep_name" not in asked and "shareholders.holder_name" not in asked
