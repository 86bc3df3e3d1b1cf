"""Leads and cases: read through the pipeline with the official's own token and declared
purpose; the desk decides what exists for them, refusals are shown with their code, and the
API records the read (the console records nothing of its own here)."""

from __future__ import annotations

import pytest

from tests.console.conftest import ConsoleHarness
from tests.gateway.conftest import card, resident_id, uscc

SUBMIT = """mutation($input: SubmitLeadInput!, $key: String!) {
  submitLead(input: $input, idempotencyKey: $key) { lead { id state } }
}"""


async def submit(console: ConsoleHarness) -> str:
    variables = {
        "key": "k1",
        "input": {
            "category": "ILLEGAL_FUNDRAISING", "description": "线索一", "amount": 1000.0,
            "subjects": [uscc(1), f"resident-id:{resident_id(1)}", card(1)],
        },
    }  # fmt: skip
    response = await console.harness.query(
        SUBMIT, variables, user="bank.analyst", purpose="risk-monitoring", case=None
    )
    assert response.status_code == 200, response.text
    lead_id: str = response.json()["data"]["submitLead"]["lead"]["id"]
    return lead_id


@pytest.mark.parametrize(("lang", "words"), [("zh", "线索与案件"), ("en", "Leads and cases")])
async def test_the_leads_one_may_read_in_both_languages(
    console: ConsoleHarness, lang: str, words: str
) -> None:
    lead_id = await submit(console)
    console.sign_in("bank.analyst")
    response = await console.client.get(f"/console/leads?lang={lang}")
    assert response.status_code == 200, response.text
    assert words in response.text and lead_id in response.text and "SUBMITTED" in response.text
    assert 'value="risk-monitoring" selected' in response.text  # the analyst's purpose
    record = console.harness.audit.records[-1]  # the API's own record of the read
    assert (record.subject, record.operation_name, record.purpose) == (
        "bank.analyst",
        "ConsoleLeads",
        "risk-monitoring",
    )


async def test_a_lead_in_detail_through_the_pipeline(console: ConsoleHarness) -> None:
    lead_id = await submit(console)
    console.sign_in("bank.analyst")
    response = await console.client.get(f"/console/leads/{lead_id}?lang=en")
    assert response.status_code == 200
    assert "线索一" in response.text and "ILLEGAL_FUNDRAISING" in response.text
    assert console.harness.audit.records[-1].operation_name == "ConsoleLead"


async def test_refusals_are_shown_with_their_code(console: ConsoleHarness) -> None:
    await submit(console)
    console.sign_in("bank.analyst")
    missing = await console.client.get("/console/leads/L-2026-999999?lang=en")
    assert "LEAD_NOT_FOUND" in missing.text
    unassigned = await console.client.get(
        "/console/leads?lang=en&purpose=investigation&case=J1101052026000999"
    )
    assert "CASE_NOT_ASSIGNED" in unassigned.text
    record = console.harness.audit.records[-1]
    assert record.error_codes == ["CASE_NOT_ASSIGNED"] and record.subject == "bank.analyst"


async def test_bad_declarations_are_clear_errors(console: ConsoleHarness) -> None:
    console.sign_in("bank.analyst")
    before = len(console.harness.audit.records)
    bad_case = await console.client.get("/console/leads?lang=en&case=not%20a%20case")
    assert bad_case.status_code == 400 and "not a valid case number" in bad_case.text
    bad_purpose = await console.client.get("/console/leads?lang=en&purpose=curiosity")
    assert bad_purpose.status_code == 400 and "Unknown purpose" in bad_purpose.text
    bad_id = await console.client.get("/console/leads/<script>?lang=en")
    assert bad_id.status_code == 400 and "<script>" not in bad_id.text.split("<main")[1]
    assert len(console.harness.audit.records) == before  # nothing asked of the API


async def test_a_stranger_is_sent_to_sign_in(console: ConsoleHarness) -> None:
    response = await console.client.get("/console/leads")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/sign-in")
