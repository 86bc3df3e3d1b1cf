"""``auditLog``: the trail for auditors declaring the audit purpose, through need-to-know like
every field, and the read itself audited by the request's own record."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from audit.reader import SearchFilter
from schema.audit import FILTER_VARIABLE, READ_FLAG, field_entities, field_identities
from schema.unified import build_schema
from tests.audit.conftest import Live, open_live
from tests.gateway.conftest import Harness, open_harness, resident_id, uscc

LOOKUP = "query($u: USCC!) { enterprise(uscc: $u) { name legalRepresentative { name } } }"
AUDIT_LOG = """query($user: String, $entity: String, $outcome: String, $since: String,
  $until: String, $first: Int! = 20, $after: String) {
  auditLog(user: $user, entity: $entity, outcome: $outcome, since: $since, until: $until,
           first: $first, after: $after) {
    nodes { logId seq time received requestId subject agency roles purpose caseId justification
            operationName fieldsRequested fieldsAllowed fieldsMasked fieldsDenied flags status
            outcome errorCodes recordsReturned { entityType count keys } }
    pageInfo { hasNextPage endCursor }
  }
}"""
NOT_AVAILABLE = "Not available for your access rights and declared purpose."


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async with open_live(tmp_path) as opened:
        yield opened


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:  # the in-memory audit log: nothing to read
        yield opened


async def audit_log(live: Live, **variables: Any) -> dict[str, Any]:
    """``auditLog`` with these variables, asked by the auditor for the audit purpose."""
    response = await live.query(AUDIT_LOG, variables, user="auditor", purpose="audit", case=None)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["request_id"] = response.headers["x-request-id"]
    return body


def record_of(live: Live, request_id: str) -> dict[str, Any]:
    reader = live.reader()
    try:
        [row] = reader.search(SearchFilter(request_id=request_id))
    finally:
        reader.store.close()
    return row


async def traffic(live: Live) -> list[str]:
    """Two lookups by a team member and one refused request: the trail auditors read."""
    ids = []
    for n in (3, 4):
        response = await live.query(LOOKUP, {"u": uscc(n)})
        assert response.status_code == 200
        ids.append(response.headers["x-request-id"])
    refused = await live.query(LOOKUP, {"u": uscc(3)}, user=None)
    assert refused.status_code == 401
    ids.append(refused.headers["x-request-id"])
    return ids


async def test_an_auditor_finds_who_saw_an_enterprise(live: Live) -> None:
    first, _, _ = await traffic(live)
    body = await audit_log(live, entity=uscc(3))
    assert "errors" not in body, body["errors"]
    [node] = body["data"]["auditLog"]["nodes"]
    assert node["requestId"] == first and (node["logId"], node["seq"]) == ("gw-test", 0)
    assert (node["subject"], node["agency"], node["purpose"], node["caseId"]) == (
        "jit.member", "police", "investigation", "JIT-2026-001",
    )  # fmt: skip
    assert node["outcome"] == "ok" and node["status"] == 200 and node["errorCodes"] == []
    assert "enterprise.legalRepresentative.name" in node["fieldsAllowed"]
    assert node["recordsReturned"] == [
        {"entityType": "Enterprise", "count": 1, "keys": [uscc(3)]},
        {"entityType": "Person", "count": 1, "keys": [resident_id(3)]},
    ]
    assert node["time"].endswith("Z") and node["received"].endswith("Z")


async def test_filters_and_paging(live: Live) -> None:
    ids = await traffic(live)
    refused = (await audit_log(live, outcome="refused"))["data"]["auditLog"]["nodes"]
    assert [n["requestId"] for n in refused] == [ids[2]] and refused[0]["errorCodes"] == [
        "UNAUTHENTICATED"
    ]
    mine = (await audit_log(live, user="jit.member"))["data"]["auditLog"]["nodes"]
    assert [n["requestId"] for n in mine] == ids[:2]
    seen, after, pages = [], None, 0
    while pages < 10:  # each page read is recorded too, but not as jit.member's
        page = (await audit_log(live, user="jit.member", first=1, after=after))["data"]["auditLog"]
        seen += [n["requestId"] for n in page["nodes"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert (seen, pages) == (ids[:2], 2)
    everything = (await audit_log(live, first=100))["data"]["auditLog"]["nodes"]
    assert [n["requestId"] for n in everything][:3] == ids  # then the auditor's reads
    assert [n["subject"] for n in everything][3:] == ["auditor"] * (len(everything) - 3)
    assert (await audit_log(live, since="2999-01-01"))["data"]["auditLog"]["nodes"] == []
    until = await audit_log(live, until="2999-01-01T00:00:00+00:00", first=100)
    assert len(until["data"]["auditLog"]["nodes"]) == len(everything) + 2  # and those two reads


async def test_the_read_is_in_the_auditors_own_record(live: Live) -> None:
    await traffic(live)
    body = await audit_log(live, entity=uscc(3))
    record = record_of(live, body["request_id"])
    assert record["subject"] == "auditor" and record["purpose"] == "audit"
    assert READ_FLAG in record["flags"]
    assert record["variables"][FILTER_VARIABLE] == {"entity": uscc(3), "first": 20, "after": None}
    assert "auditLog.nodes.subject" in record["fields_requested"]
    assert "auditLog.nodes.recordsReturned.keys" in record["fields_allowed"]
    # what the auditor was shown: the audit record, and the keys inside it
    assert record["records_returned"] == {
        "AuditRecord": ["gw-test:0"], "Enterprise": [uscc(3)], "Person": [resident_id(3)],
    }  # fmt: skip
    reader = live.reader()
    try:  # who looked at this enterprise: the team member, then the auditor
        subjects = [r["subject"] for r in reader.search(SearchFilter(entity=uscc(3)))]
    finally:
        reader.store.close()
    assert subjects == ["jit.member", "auditor"]


@pytest.mark.parametrize(
    ("user", "purpose"),
    [
        ("jit.member", "investigation"),  # a joint team, which sees almost everything else
        ("police.investigator", "audit"),  # the audit purpose without the auditor role
        ("policy.admin", "supervision"),  # the auditor's own agency
        ("auditor", "supervision"),  # an auditor, but not auditing
    ],
)
async def test_nobody_else_reads_the_trail(live: Live, user: str, purpose: str) -> None:
    await traffic(live)
    response = await live.query(AUDIT_LOG, {"entity": uscc(3)}, user=user, purpose=purpose,
                                case="JIT-2026-001" if purpose == "investigation" else None)  # fmt: skip
    body = response.json()
    record = record_of(live, response.headers["x-request-id"])
    [error] = body["errors"]
    if user == "auditor":  # may read it auditing: denied for another purpose
        assert body["data"] == {"auditLog": None}
        assert error["message"] == NOT_AVAILABLE and error["path"] == ["auditLog"]
        assert "auditLog" in record["fields_denied"] and not record["fields_allowed"]
    else:  # never may: not in the caller's schema at all (schema visibility)
        assert "data" not in body and response.status_code == 400
        assert error["message"] == "Cannot query field 'auditLog' on type 'Query'."
        assert not record["fields_requested"] and not record["fields_allowed"]
    assert READ_FLAG not in record["flags"]  # the resolver never ran
    assert record["records_returned"] == {}


async def test_bad_times_and_cursors_are_bad_input(live: Live) -> None:
    for variables in ({"since": "yesterday"}, {"after": "not-a-cursor"}):
        body = await audit_log(live, **variables)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
        assert body["data"] == {"auditLog": None}


async def test_without_a_trail_the_audit_log_is_unavailable(harness: Harness) -> None:
    response = await harness.query("{ auditLog { nodes { subject } } }", user="auditor",
                                   purpose="audit", case=None)  # fmt: skip
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "AGENCY_UNAVAILABLE", "agency": "audit"}


def test_field_paths_map_to_the_entity_holding_them() -> None:
    entity_of = field_entities(build_schema().catalog)
    assert entity_of("enterprise") == "Enterprise"
    assert entity_of("enterprise.name") == "Enterprise"
    assert entity_of("enterprise.shareholders.holderName") == "Enterprise"
    assert entity_of("enterprise.legalRepresentative") == "Person"
    assert entity_of("enterprise.legalRepresentative.idNumber") == "Person"
    assert entity_of("enterprises.nodes.bankAccounts.balance") == "BankAccount"
    assert entity_of("enterprises.totalCount") == ""
    assert entity_of("auditLog.nodes.subject") == ""
    assert entity_of("enterprise.noSuchField") is None


async def test_cursors_are_sealed_to_the_auditors_search(live: Live) -> None:
    await traffic(live)
    page = (await audit_log(live, user="jit.member", first=1))["data"]["auditLog"]
    cursor = page["pageInfo"]["endCursor"]
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert b"gw-test" not in decoded  # no position in clear: nothing to edit
    forged = base64.urlsafe_b64encode(orjson.dumps([0, "gw-test", 0])).decode()
    for variables in (
        {"user": "jit.member", "after": forged},  # a position made up by the client
        {"outcome": "refused", "after": cursor},  # a cursor of another search
        {"user": "jit.member", "first": 0},
        {"user": "jit.member", "first": 101},
    ):
        body = await audit_log(live, **variables)
        assert body["data"] == {"auditLog": None}, variables
        [error] = body["errors"]
        argument = "after" if "after" in variables else "first"
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
    following = await audit_log(live, user="jit.member", first=1, after=cursor)
    assert following["data"]["auditLog"]["nodes"][0]["subject"] == "jit.member"


async def test_each_field_of_a_record_cites_its_policies(live: Live) -> None:
    first, _, _ = await traffic(live)
    query = """query($entity: String) { auditLog(entity: $entity) { nodes { requestId
      fieldPolicies { path policies } } } }"""
    response = await live.query(query, {"entity": uscc(3)}, user="auditor", purpose="audit",
                                case=None)  # fmt: skip
    body = response.json()
    assert "errors" not in body, body
    [node] = body["data"]["auditLog"]["nodes"]
    cited = {p["path"]: p["policies"] for p in node["fieldPolicies"]}
    assert node["requestId"] == first
    assert set(cited) == {"enterprise", "enterprise.name", "enterprise.legalRepresentative",
                          "enterprise.legalRepresentative.name"}  # fmt: skip
    assert all(cited.values()) and "joint-team-investigation" in cited["enterprise.name"]


def test_identifier_paths_map_to_the_entities_they_identify() -> None:
    identities_of = field_identities(build_schema().catalog)
    assert identities_of("courtCase.parties.partyId") == ("Person", "Enterprise")
    assert identities_of("bankAccount.transactions.counterpartyAccount") == ("BankAccount",)
    assert identities_of("enterprise.legalRepresentative.idNumber") == ("Person",)
    assert identities_of("enterprise.name") == identities_of("enterprise.noSuchField") == ()


async def test_a_value_withheld_by_a_record_rule_shows_as_withheld(live: Live) -> None:
    """The market officer may read an enterprise's legal representative (field policy), but not
    the person record itself (above clearance): auditLog says which path was withheld, and by
    which rule, besides the field's own decision."""
    response = await live.query(LOOKUP, {"u": uscc(3)}, user="market.officer",
                                purpose="supervision", case=None)  # fmt: skip
    assert response.status_code == 200
    query = """query($user: String) { auditLog(user: $user) { nodes { fieldsAllowed
      fieldsWithheld fieldPolicies { path policies } } } }"""
    body = (await live.query(query, {"user": "market.officer"}, user="auditor", purpose="audit",
                             case=None)).json()  # fmt: skip
    assert "errors" not in body, body
    [node] = body["data"]["auditLog"]["nodes"]
    assert node["fieldsWithheld"] == ["enterprise.legalRepresentative"]
    cited = {p["path"]: p["policies"] for p in node["fieldPolicies"]}
    assert cited["enterprise.legalRepresentative"][-1] == "default-deny"


async def test_an_auditor_reads_what_a_mutation_changed(live: Live) -> None:
    """A mutation's record holds the states it moved the lead between; the auditor reads them,
    the lead's id opened, and finds the record by the lead's id."""
    submit = """mutation($input: SubmitLeadInput!) {
      submitLead(input: $input, idempotencyKey: "k1") { lead { id } } }"""
    given = {"category": "OTHER", "description": "线索", "subjects": [uscc(1)]}
    response = await live.query(submit, {"input": given}, user="bank.analyst",
                                purpose="risk-monitoring", case=None)  # fmt: skip
    lead = response.json()["data"]["submitLead"]["lead"]["id"]
    query = """query($entity: String) { auditLog(entity: $entity) { nodes {
      operationType changes { entity id action before after replayed } } } }"""
    found = await live.query(query, {"entity": lead}, user="auditor", purpose="audit", case=None)
    assert found.json()["data"]["auditLog"]["nodes"] == [{
        "operationType": "mutation",
        "changes": [{"entity": "lead", "id": lead, "action": "submitLead", "before": None,
                     "after": "SUBMITTED", "replayed": False}],
    }]  # fmt: skip
