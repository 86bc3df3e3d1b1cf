"""``creditReport`` on Enterprise and Person through the gateway (in-process, over the world's
credit reports), decided by policy for the demo users: who sees the loans and guarantees, who
sees them masked, who not at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from sandbox.memory import memory_connectors
from sandbox.world import World, generate
from tests.gateway.conftest import Harness, open_harness

COURT_CASE = quote("(2026)京0102执1901号")  # tests/cases.py; headers are percent-encoded
QUERY = """
query($u: USCC!) {
  enterprise(uscc: $u) {
    name
    creditReport {
      partyId name totalBalance overdueAmount worstClass
      loans { loanId lender amount balance classification overdueSince statusHistory }
      guaranteesReceived { partyId partyName partyType amount }
      queries { institution reason }
    }
  }
}
"""


@pytest.fixture(scope="module")
def small() -> World:
    return generate(0.02)


async def ask(
    harness: Harness, world: World, user: str, purpose: str, case: str | None, query: str = QUERY
) -> Any:
    uscc = world.scenario["enterprise_uscc"]
    response = await harness.query(query, {"u": uscc}, user=user, purpose=purpose, case=case)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_police_investigating_see_the_report(tmp_path: Path, small: World) -> None:
    async with open_harness(tmp_path, connectors=memory_connectors(small)) as harness:
        body = await ask(
            harness, small, "police.investigator", "investigation", "J1101052026000001"
        )
        report = body["data"]["enterprise"]["creditReport"]
        want = small.credit[small.scenario["enterprise_uscc"]]
        assert "errors" not in body, body["errors"]
        assert report["totalBalance"] == want["total_balance"]
        assert [x["loanId"] for x in report["loans"]] == [x["loan_id"] for x in want["loans"]]
        guarantors = {g["partyId"] for g in report["guaranteesReceived"]}
        assert small.scenario["person_id"] in guarantors  # in clear: the police hold the register
        assert len(report["queries"]) == len(want["queries"])
        calls = harness.agencies["credit"].calls
        assert [(c[0], c[1], c[2]) for c in calls] == [("credit_report", "party_id", 1)]


async def test_courts_enforcing_see_loans_and_guarantors_but_not_the_queries(
    tmp_path: Path, small: World
) -> None:
    async with open_harness(tmp_path, connectors=memory_connectors(small)) as harness:
        without = QUERY.replace("queries { institution reason }", "")
        body = await ask(harness, small, "court.clerk", "enforcement", COURT_CASE, without)
        assert "errors" not in body, body["errors"]
        report = body["data"]["enterprise"]["creditReport"]
        assert report["loans"] and report["overdueAmount"] > 0
        rep = small.scenario["person_id"]
        person = [g for g in report["guaranteesReceived"] if g["partyType"] == "person"]
        assert person and person[0]["partyId"] != rep  # masked, as Person.idNumber
        assert person[0]["partyId"][-4:] == rep[-4:]
        assert person[0]["partyName"] == small.scenario["person_name"]  # names in full
        (call,) = harness.agencies["credit"].calls
        assert not any(f.startswith("queries") for f in call[3])
        # who queried the report is above a clerk's clearance: not in the clerk's schema at all
        response = await harness.query(
            QUERY,
            {"u": small.scenario["enterprise_uscc"]},
            user="court.clerk",
            purpose="enforcement",
            case=COURT_CASE,
        )
        assert response.status_code == 400
        assert "queries" in response.text and "GRAPHQL_VALIDATION_FAILED" in response.text
        assert len(harness.agencies["credit"].calls) == 1  # nothing more asked


@pytest.mark.parametrize(
    ("user", "purpose", "case"),
    [
        ("market.officer", "supervision", None),
        ("police.investigator", "supervision", None),
        ("bank.analyst", "investigation", "JIT-2026-001"),
    ],
)
async def test_others_get_no_credit_data(
    tmp_path: Path, small: World, user: str, purpose: str, case: str | None
) -> None:
    async with open_harness(tmp_path, connectors=memory_connectors(small)) as harness:
        response = await harness.query(
            QUERY, {"u": small.scenario["enterprise_uscc"]}, user=user, purpose=purpose, case=case
        )
        body = response.json()
        data = (body.get("data") or {}).get("enterprise") or {}
        assert data.get("creditReport") is None
        assert body.get("errors"), body
        assert not harness.agencies["credit"].calls  # nothing asked of the credit system
