"""The joint office's work through the API (issue 18), over real HTTP on loopback: a lead from
submission to closed case as the right demo officials, each step refused as a wrong one, an
illegal transition, idempotent retries, before/after states in each mutation's audit record,
a lead's subjects linked into agency data exactly as the agency types are shown, no oracle for
leads one may not read, mutations by GET (405) and subscriptions over HTTP (400)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from gateway.app import create_app
from kernel.types import AuditRecord
from kernel.workflow import LeadEvent
from tests.demo_process import free_port
from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc

SEEN_CASE = "J1101052026000001"  # a fixture case every demo user is assigned to
NEW_CASE = "J1101052026000777"  # the case the police open from the lead
# a mutation the caller could never be allowed is not in its schema (gateway/visibility.py)
INVISIBLE = "GRAPHQL_VALIDATION_FAILED"
LEAD_FIELDS = """
  id state category sourceAgency region description amount victims caseNumber major
  subjects { kind identifier }
  verification { outcome findings byAgency }
  referral { toAgency receivingUnit }
  feedback { note byAgency }
"""
SUBMIT = f"""
mutation($input: SubmitLeadInput!, $key: String!) {{
  submitLead(input: $input, idempotencyKey: $key) {{ replayed lead {{ {LEAD_FIELDS} }} }}
}}"""
VERIFY = f"""
mutation($id: ID!, $outcome: LeadState!, $key: String!) {{
  verifyLead(leadId: $id, outcome: $outcome, findings: "核实属实", idempotencyKey: $key) {{
    replayed lead {{ {LEAD_FIELDS} }}
  }}
}}"""
REFER = f"""
mutation($id: ID!, $key: String!) {{
  referLead(leadId: $id, receivingUnit: "市公安局经侦支队", idempotencyKey: $key) {{
    replayed lead {{ {LEAD_FIELDS} }}
  }}
}}"""
OPEN = f"""
mutation($id: ID!, $number: String!, $key: String!) {{
  openCase(leadId: $id, caseNumber: $number, title: "某公司非法吸收公众存款案",
           officials: ["police.investigator"], idempotencyKey: $key) {{
    replayed lead {{ {LEAD_FIELDS} }} case {{ number state officials }}
  }}
}}"""
FEEDBACK = f"""
mutation($id: ID!, $note: String!, $key: String!) {{
  recordFeedback(leadId: $id, note: $note, idempotencyKey: $key) {{
    replayed lead {{ {LEAD_FIELDS} }}
  }}
}}"""
CLOSE = """
mutation($number: String!, $key: String!) {
  closeCase(caseNumber: $number, note: "移送审查起诉", idempotencyKey: $key) {
    replayed lead { id state } case { number state closingNote }
  }
}"""


@dataclass
class Live:
    """The harness's gateway served by uvicorn on 127.0.0.1."""

    h: Harness
    url: str
    client: httpx.AsyncClient

    async def call(
        self,
        user: str,
        query: str,
        variables: dict[str, Any] | None = None,
        purpose: str = "supervision",
        case: str | None = None,
    ) -> httpx.Response:
        headers = self.h.headers(user, purpose, case)
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        return await self.client.post(self.url, json=body, headers=headers)

    async def data(self, user: str, query: str, variables: dict[str, Any] | None = None,
                   purpose: str = "supervision", case: str | None = None) -> Any:  # fmt: skip
        response = await self.call(user, query, variables, purpose, case)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def refused(self, user: str, query: str, variables: dict[str, Any] | None = None,
                      purpose: str = "supervision", case: str | None = None) -> str:  # fmt: skip
        """The error code of a refused call (it changed nothing: its data is null). A mutation
        the caller could never be allowed is not in its schema at all (validation, 400)."""
        response = await self.call(user, query, variables, purpose, case)
        body = response.json()
        error = body["errors"][0]
        code: str = error["extensions"]["code"]
        if code == "GRAPHQL_VALIDATION_FAILED":  # with its variables' types, maybe, unknown too
            assert {e["extensions"]["code"] for e in body["errors"]} == {code}, body
            assert response.status_code == 400 and "data" not in body, body
            assert error["message"].startswith("Cannot query field") or error["message"] == (
                "The mutation operation is not supported by the schema."  # none at all
            ), body
        else:
            assert len(body["errors"]) == 1, body
            assert response.status_code == 200, response.text
            [root] = body["data"].values()
            assert root is None, body
        return code

    def last_record(self) -> AuditRecord:
        return self.h.audit.records[-1]


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async with open_harness(tmp_path) as h:
        published: list[LeadEvent] = []
        h.gateway.events = published.append
        port = free_port()
        config = uvicorn.Config(
            create_app(h.gateway), host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        await _until(lambda: server.started)
        async with httpx.AsyncClient(timeout=30) as client:
            yield Live(h, f"http://127.0.0.1:{port}/graphql", client)
        server.should_exit = True
        await task


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - uvicorn's Server has a flag, not an event
            await asyncio.sleep(0.01)


def submission(n: int = 1) -> dict[str, Any]:
    return {
        "category": "ILLEGAL_FUNDRAISING",
        "description": f"某财富公司承诺高息吸收公众存款（线索{n}）",
        # a resident ID can pass an account's check too: then its kind is said
        "subjects": [uscc(n), f"resident-id:{resident_id(n)}", card(n)],
        "amount": 2_000_000.0,
        "victims": 30,
    }


async def submitted(live: Live, n: int = 1) -> str:
    done = await live.data(
        "bank.analyst", SUBMIT, {"input": submission(n), "key": f"s{n}"}, "risk-monitoring"
    )
    lead_id: str = done["submitLead"]["lead"]["id"]
    return lead_id


def changes(record: AuditRecord) -> list[tuple[str, str | None, str, bool]]:
    return [(c["entity"], c["before"], c["after"], c["replayed"]) for c in record.changes]


async def test_a_lead_from_submission_to_closed_case(live: Live) -> None:
    # reporting: not the office's policy administrator (no mutation at all for it)
    given = {"input": submission(), "key": "s1"}
    assert await live.refused("policy.admin", SUBMIT, given) == INVISIBLE
    lead = await submitted(live)
    assert lead.endswith("-000001")  # the refused one created nothing
    record = live.last_record()
    assert record.operation_type == "mutation" and record.outcome == "ok"
    assert changes(record) == [("lead", None, "SUBMITTED", False)]
    assert record.changes[0]["id"] == lead and "Lead" in record.records_returned

    # verification: not by the agency that reported it, nor by the police; by market.officer
    verify = {"id": lead, "outcome": "VERIFIED", "key": "v1"}
    assert await live.refused("bank.analyst", VERIFY, verify) == "ACTION_FORBIDDEN"
    assert changes(live.last_record()) == []
    assert live.last_record().error_codes == ["ACTION_FORBIDDEN"]
    assert await live.refused("police.investigator", VERIFY, verify, "investigation",
                              SEEN_CASE) == INVISIBLE  # fmt: skip
    done = (await live.data("market.officer", VERIFY, verify))["verifyLead"]["lead"]
    assert done["state"] == "VERIFIED" and done["verification"]["byAgency"] == "market"
    assert done["verification"]["findings"] == "核实属实"
    assert changes(live.last_record()) == [("lead", "SUBMITTED", "VERIFIED", False)]

    # referral: the coordinator; not the court's clerk (who may not even know of the lead)
    refer = {"id": lead, "key": "r1"}
    assert await live.refused("court.clerk", REFER, refer) == INVISIBLE
    done = (await live.data("office.coordinator", REFER, refer))["referLead"]["lead"]
    assert done["state"] == "REFERRED" and done["referral"]["toAgency"] == "police"
    assert changes(live.last_record()) == [("lead", "VERIFIED", "REFERRED", False)]

    # the police open the case (investigating a case of theirs); the market officer may not
    opened = {"id": lead, "number": NEW_CASE, "key": "o1"}
    assert await live.refused("market.officer", OPEN, opened) == INVISIBLE
    done = (await live.data("police.investigator", OPEN, opened, "investigation", SEEN_CASE))[
        "openCase"
    ]
    assert done["lead"]["state"] == "CASE_OPENED" and done["lead"]["caseNumber"] == NEW_CASE
    assert done["case"] == {"number": NEW_CASE, "state": "OPEN",
                            "officials": ["police.investigator"]}  # fmt: skip
    assert changes(live.last_record()) == [
        ("lead", "REFERRED", "CASE_OPENED", False), ("case", None, "OPEN", False)]  # fmt: skip

    # feedback on the open case, declaring it (X-Case-Id): the new case is declarable at once
    note = {"id": lead, "note": "已冻结涉案账户", "key": "f1"}
    assert await live.refused("bank.analyst", FEEDBACK, note, "risk-monitoring") == INVISIBLE
    # the police's own, not assigned to the case, may not declare it, nor report on it
    # declaring another one
    code = await live.refused("duty.officer", FEEDBACK, note, "investigation", SEEN_CASE)
    assert code == "ACTION_FORBIDDEN"
    done = (await live.data("police.investigator", FEEDBACK, note, "investigation", NEW_CASE))[
        "recordFeedback"
    ]["lead"]
    assert [f["note"] for f in done["feedback"]] == ["已冻结涉案账户"]
    assert changes(live.last_record()) == [("lead", "CASE_OPENED", "CASE_OPENED", False)]

    # closing it, with X-Case-Id; the court's clerk may not
    close = {"number": NEW_CASE, "key": "c1"}
    assert await live.refused("court.clerk", CLOSE, close) == INVISIBLE
    code = await live.refused("duty.officer", CLOSE, close, "investigation", SEEN_CASE)
    assert code == "ACTION_FORBIDDEN"
    done = (await live.data("police.investigator", CLOSE, close, "investigation", NEW_CASE))[
        "closeCase"
    ]
    assert done["lead"]["state"] == "CLOSED"
    assert done["case"] == {"number": NEW_CASE, "state": "CLOSED", "closingNote": "移送审查起诉"}
    assert changes(live.last_record()) == [
        ("lead", "CASE_OPENED", "CLOSED", False), ("case", "OPEN", "CLOSED", False)]  # fmt: skip
    assert live.last_record().case_id == NEW_CASE

    # and the lead reads as closed for its source agency
    query = "query($id: ID!) { lead(id: $id) { state caseNumber } }"
    found = await live.data("bank.analyst", query, {"id": lead}, "risk-monitoring")
    assert found == {"lead": {"state": "CLOSED", "caseNumber": NEW_CASE}}


async def test_an_illegal_transition_is_refused_with_its_code(live: Live) -> None:
    lead = await submitted(live)
    response = await live.call("office.coordinator", REFER, {"id": lead, "key": "r1"})
    body = response.json()
    assert body["data"] == {"referLead": None}
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "ILLEGAL_TRANSITION", "state": "SUBMITTED", "action": "referLead"}  # fmt: skip
    assert error["path"] == ["referLead"]
    assert live.last_record().error_codes == ["ILLEGAL_TRANSITION"]
    assert live.last_record().changes == []


async def test_an_idempotent_retry_answers_the_same_and_is_recorded_as_a_replay(
    live: Live,
) -> None:
    first = await live.call(
        "bank.analyst", SUBMIT, {"input": submission(), "key": "k-1"}, "risk-monitoring"
    )
    again = await live.call(
        "bank.analyst", SUBMIT, {"input": submission(), "key": "k-1"}, "risk-monitoring"
    )
    one, two = first.json()["data"]["submitLead"], again.json()["data"]["submitLead"]
    assert (one["replayed"], two["replayed"]) == (False, True)
    assert one["lead"] == two["lead"]
    records = [r for r in live.h.audit.records if r.operation_type == "mutation"]
    assert [r.flags for r in records] == [[], ["idempotent-replay"]]
    assert changes(records[1]) == [("lead", None, "SUBMITTED", True)]
    # the same key for another input
    other = {"input": submission(2), "key": "k-1"}
    code = await live.refused("bank.analyst", SUBMIT, other, "risk-monitoring")
    assert code == "IDEMPOTENCY_KEY_REUSED"
    # one lead only
    leads = await live.data("bank.analyst", "{ leads { totalCount nodes { id } } }", None,
                            "risk-monitoring")  # fmt: skip
    assert leads["leads"] == {"totalCount": 1, "nodes": [{"id": one["lead"]["id"]}]}
    # a key that is not one
    code = await live.refused(
        "bank.analyst", SUBMIT, {"input": submission(), "key": " "}, "risk-monitoring"
    )
    assert code == "BAD_USER_INPUT"


async def test_a_lead_another_agency_may_not_read_is_not_found(live: Live) -> None:
    lead = await submitted(live)
    query = "query($id: ID!) { lead(id: $id) { id state } }"
    for user, purpose, case in (("court.clerk", "supervision", None),
                                ("police.investigator", "investigation", SEEN_CASE)):  # fmt: skip
        missing = await live.refused(user, query, {"id": lead}, purpose, case)
        assert missing == "LEAD_NOT_FOUND"
        never = await live.call(user, query, {"id": "L-2026-999999"}, purpose, case)
        assert (
            never.json()["errors"][0]["message"]
            == (
                (await live.call(user, query, {"id": lead}, purpose, case)).json()["errors"][0][
                    "message"
                ]
            )
        )
        listed = await live.data(user, "{ leads { totalCount nodes { id } } }", None, purpose,
                                 case)  # fmt: skip
        assert listed["leads"] == {"totalCount": 0, "nodes": []}


async def referred(live: Live, n: int = 1) -> str:
    """A lead submitted, verified and referred to the police by the demo's officials."""
    lead = await submitted(live, n)
    await live.data("market.officer", VERIFY, {"id": lead, "outcome": "VERIFIED", "key": "v"})
    await live.data("office.coordinator", REFER, {"id": lead, "key": "r"})
    return lead


SUBJECTS = """query($id: ID!, $uscc: USCC!) {
  lead(id: $id) { subjects { kind identifier enterprise { uscc name legalRepName status } } }
  enterprise(uscc: $uscc) { uscc name legalRepName status }
}"""
ACCOUNTS = """query($id: ID!, $card: AccountNumber!) {
  lead(id: $id) { subjects { kind identifier account { number bank balance holderId } } }
  bankAccount(number: $card) { number bank balance holderId }
}"""
PERSON = """query($id: ID!, $person: ResidentID!) {
  lead(id: $id) { subjects { kind identifier person { idNumber name gender } } }
  person(idNumber: $person) { idNumber name gender }
}"""


async def test_subjects_link_into_agency_data_as_the_agency_types_show_it(live: Live) -> None:
    lead = await referred(live)
    callers = (("market.officer", "supervision", None), ("bank.analyst", "risk-monitoring", None),
               ("police.investigator", "investigation", SEEN_CASE))  # fmt: skip
    for user, purpose, case in callers:
        data = await live.data(user, SUBJECTS, {"id": lead, "uscc": uscc(1)}, purpose, case)
        subjects = {s["kind"]: s for s in data["lead"]["subjects"]}
        assert subjects["uscc"]["enterprise"] == data["enterprise"], user
        assert subjects["resident-id"]["enterprise"] is None, user  # not what it is
        assert subjects["uscc"]["identifier"] == uscc(1)  # an enterprise's code, kept
        # the legal representative's name: in full for the police, masked for monitoring
        full = user == "police.investigator"
        assert (data["enterprise"]["legalRepName"] == "法人1") is full, user
    data = await live.data("bank.analyst", ACCOUNTS, {"id": lead, "card": card(1)},
                           "risk-monitoring")  # fmt: skip
    account = next(s for s in data["lead"]["subjects"] if s["kind"] == "account")
    assert account["account"] == data["bankAccount"]
    assert data["bankAccount"]["number"] == card(1) and data["bankAccount"]["balance"] == 1000.0
    assert live.last_record().records_returned["BankAccount"] == {card(1)}
    # where the caller may never see an account by its number, neither the link nor the lookup
    response = await live.call("market.officer", ACCOUNTS, {"id": lead, "card": card(1)})
    assert response.status_code == 400
    assert [e["message"] for e in response.json()["errors"]] == [
        "Cannot query field 'account' on type 'LeadSubject'.",
        "Cannot query field 'bankAccount' on type 'Query'.",
    ]

    # the person: the police see it (their own), as Query.person shows it; the identifier is
    # decided as Person.idNumber, in clear for them, masked for monitoring
    data = await live.data("police.investigator", PERSON,
                           {"id": lead, "person": resident_id(1)}, "investigation", SEEN_CASE)  # fmt: skip
    subject = next(s for s in data["lead"]["subjects"] if s["kind"] == "resident-id")
    assert subject["person"] == data["person"] and data["person"]["idNumber"] == resident_id(1)
    assert subject["identifier"] == resident_id(1)
    assert live.last_record().records_returned["Person"] == {resident_id(1)}
    # a subject's identifier shown in clear is recorded as what it identifies, an account too
    await live.data("police.investigator", "query($id: ID!) { lead(id: $id) { subjects {"
                    " identifier } } }", {"id": lead}, "investigation", SEEN_CASE)  # fmt: skip
    assert live.last_record().records_returned == {
        "Lead": {lead}, "Person": {resident_id(1)}, "Enterprise": {uscc(1)},
        "BankAccount": {card(1)},
    }  # fmt: skip
    monitoring = await live.data("bank.analyst", "query($id: ID!) { lead(id: $id) {"
                                 " subjects { kind identifier } } }", {"id": lead},
                                 "risk-monitoring")  # fmt: skip
    masked = next(s for s in monitoring["lead"]["subjects"] if s["kind"] == "resident-id")
    assert masked["identifier"] == resident_id(1)[:6] + "*" * 8 + resident_id(1)[-4:]
    assert masked["identifier"] != resident_id(1)
    # and where the caller may never see a person, neither the link nor the lookup exist
    response = await live.call("market.officer", PERSON, {"id": lead, "person": resident_id(1)})
    assert [e["message"] for e in response.json()["errors"]] == [
        "Cannot query field 'person' on type 'LeadSubject'.",
        "Cannot query field 'person' on type 'Query'.",
    ]


async def test_mutations_by_get_and_subscriptions_over_http_are_refused(live: Live) -> None:
    headers = live.h.headers("bank.analyst", "risk-monitoring", None)
    mutation = 'mutation { acknowledgeMajorEvent(leadId: "L-2026-000001", idempotencyKey: "a") { replayed } }'
    got = await live.client.get(live.url, params={"query": mutation}, headers=headers)
    assert got.status_code == 405 and got.headers["allow"] == "GET, POST"
    subscription = "subscription { leadEvents { eventId kind leadId } }"
    response = await live.client.post(live.url, json={"query": subscription}, headers=headers)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "WebSocket" in error["message"] and "graphql-transport-ws" in error["message"]
    assert live.last_record().operation_type == "subscription"
    assert live.last_record().status == 400


async def test_who_sees_no_mutation_has_none_in_its_schema(live: Live) -> None:
    """The auditor may not act: to it the schema has no such mutation (schema visibility)."""
    query = 'mutation { submitLead(input: {category: OTHER, description: "x", subjects: []},' \
        ' idempotencyKey: "k") { replayed } }'  # fmt: skip
    response = await live.call("auditor", query, None, "audit")
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert response.json()["errors"][0]["message"] == (
        "The mutation operation is not supported by the schema."
    )
