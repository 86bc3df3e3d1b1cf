"""The joint office's queries run compiled and answer as graphql-core does; its mutations fall
back to graphql-core (which runs mutation root fields one after the other)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc
from tests.gateway.executor.compare import both, executor_of, query

SUBMIT = """mutation($input: SubmitLeadInput!, $key: String!) {
  submitLead(input: $input, idempotencyKey: $key) { replayed lead { id state } }
}"""
READ = """query($id: ID!) {
  lead(id: $id) {
    id state category sourceAgency amount victims description major overdue
    subjects { kind identifier enterprise { uscc name legalRepName } }
    verification { outcome } feedback { note }
  }
  leads(first: 5) { totalCount pageInfo { hasNextPage endCursor } nodes { id state region } }
  missing: lead(id: "L-2026-999999") { id }
}"""
RISK = {"user": "bank.analyst", "purpose": "risk-monitoring", "case": None}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        yield opened


async def submit(harness: Harness, n: int) -> str:
    variables = {
        "key": f"k{n}",
        "input": {
            "category": "ILLEGAL_FUNDRAISING", "description": f"线索{n}", "amount": 1000.0 * n,
            "subjects": [uscc(n), f"resident-id:{resident_id(n)}", card(n)],
        },
    }  # fmt: skip
    fast = executor_of(harness).fast
    fallbacks = fast.fallbacks
    response = await harness.query(SUBMIT, variables, **RISK)  # type: ignore[arg-type]
    assert fast.fallbacks == fallbacks + 1  # a mutation: graphql-core
    lead_id: str = response.json()["data"]["submitLead"]["lead"]["id"]
    return lead_id


async def test_workflow_queries_run_compiled_as_on_graphql_core(harness: Harness) -> None:
    first = await submit(harness, 1)
    for n in range(2, 8):
        await submit(harness, n)
    answer = await both(harness, query(harness, READ, {"id": first}, **RISK))
    assert answer.status == 200
    lead = answer.body["data"]["lead"]
    assert lead["id"] == first and lead["subjects"][0]["enterprise"]["uscc"] == uscc(1)
    assert answer.body["data"]["leads"]["totalCount"] == 7
    assert answer.body["data"]["leads"]["pageInfo"]["hasNextPage"] is True
    assert [e["extensions"]["code"] for e in answer.body["errors"]] == ["LEAD_NOT_FOUND"]
    assert answer.calls["market"]  # the subject's enterprise, from the agency


async def test_indicators_run_compiled_as_on_graphql_core(harness: Harness) -> None:
    await submit(harness, 1)
    text = """{ indicators(period: MONTH, from: "2026-01", to: "2026-12", by: [CATEGORY]) {
      period category leads majorLeads amount } }"""
    answer = await both(harness, query(harness, text, user="office.coordinator",
                                       purpose="supervision", case=None))  # fmt: skip
    assert answer.status == 200, answer.body
    assert "errors" not in answer.body
    rows = answer.body["data"]["indicators"]
    assert sum(r["leads"] for r in rows) == 1 and {r["category"] for r in rows if r["leads"]} == {
        "ILLEGAL_FUNDRAISING"
    }
    # not for the market's officer (not a regulator): not in its schema
    refused = await harness.query(text, user="market.officer", purpose="supervision", case=None)
    assert refused.status_code == 400
