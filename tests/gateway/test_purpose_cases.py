"""X-Case-Id names a registered open case the caller is assigned to, or the request is refused
with CASE_NOT_ASSIGNED before analysis and before any agency is asked (gateway/purpose.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from gateway.purpose import NOT_ASSIGNED, Purposes
from kernel.errors import CaseNotAssigned
from kernel.types import AuditRecord, Principal, RequestContext
from policies.cases import CaseDirectory, CaseStore, Subject
from policies.db import Database
from policies.teams import TeamDirectory, TeamStore
from tests.gateway.conftest import Harness, card, resident_id, uscc

QUERY = '{ enterprise(uscc: "%s") { name bankAccounts { number balance } } }' % uscc(2)
INVENTED = "J1101052026009999"  # well formed, never registered


def refused(response: object, harness: Harness) -> dict[str, object]:
    """The answer of a refused request, checked: 403, CASE_NOT_ASSIGNED, no agency asked."""
    assert response.status_code == 403, response.text  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body == {"errors": [{"message": NOT_ASSIGNED,
                                "extensions": {"code": "CASE_NOT_ASSIGNED"}}]}  # fmt: skip
    assert all(not agency.calls for agency in harness.agencies.values())
    return body


def registry(harness: Harness) -> CaseStore:
    return CaseStore(harness.gateway.governance)  # the gateway's handle: seen at once


async def test_an_invented_case_is_refused_audited_and_no_agency_is_asked(
    harness: Harness,
) -> None:
    response = await harness.query(QUERY, user="bank.analyst", case=INVENTED.lower())
    refused(response, harness)
    (record,) = harness.audit.records
    assert (record.subject, record.purpose, record.case_id) == (
        "bank.analyst", "investigation", INVENTED  # normalised as declared cases are
    )  # fmt: skip
    assert record.error_codes == ["CASE_NOT_ASSIGNED"] and record.status == 403
    assert record.outcome == "refused" and record.fields_requested == []  # before analysis
    assert record.agency_calls == []


async def test_unknown_closed_and_not_assigned_answer_alike(harness: Harness) -> None:
    store = registry(harness)
    store.register("J1101052026008888", agency="police", title="t", by="office.coordinator",
                   officials=["police.investigator"])  # fmt: skip
    store.register("J1101052026008889", agency="police", title="t", by="office.coordinator",
                   officials=["bank.analyst"])  # fmt: skip
    store.close("J1101052026008889", by="office.coordinator")
    answers = [
        refused(await harness.query(QUERY, user="bank.analyst", case=case), harness)
        for case in (INVENTED, "J1101052026008888", "J1101052026008889")
    ]
    assert answers[0] == answers[1] == answers[2]
    ok = await harness.query("{ __typename }", user="police.investigator", case="J1101052026008888")
    assert ok.status_code == 200


async def test_any_purpose_and_break_glass_are_held_to_the_case(harness: Harness) -> None:
    for user, purpose, extra in (
        ("market.officer", "supervision", {}),
        ("bank.analyst", "risk-monitoring", {}),
        ("duty.officer", "investigation", {"x-break-glass": quote("嫌疑人即将转移资金")}),
    ):
        response = await harness.query(QUERY, user=user, purpose=purpose, case=INVENTED, **extra)
        refused(response, harness)
        record = harness.audit.records[-1]
        assert record.purpose == purpose and record.case_id == INVENTED
    assert harness.audit.records[-1].break_glass
    # no case sent: the purposes that need none are not concerned
    fine = await harness.query("{ __typename }", user="market.officer", purpose="supervision",
                               case=None)  # fmt: skip
    assert fine.status_code == 200


async def test_an_assigned_case_in_another_spelling_is_that_case(harness: Harness) -> None:
    store = registry(harness)
    store.register("(2026)京0102执1902号", agency="courts", title="t", by="office.coordinator",
                   officials=["court.clerk"])  # fmt: skip
    for spelling in ("（２０２６）京０１０２执１９０２号", "(2026)京0102执1902号"):
        response = await harness.query("{ __typename }", user="court.clerk", purpose="enforcement",
                                       case=quote(spelling))  # fmt: skip
        assert response.status_code == 200, response.text
    store.register("J1101052026007777", agency="police", title="t", by="office.coordinator",
                   officials=["police.investigator"])  # fmt: skip
    for spelling in ("j1101052026007777", quote("Ｊ１１０１０５２０２６００７７７７")):
        response = await harness.query("{ __typename }", user="police.investigator", case=spelling)
        assert response.status_code == 200, response.text
    assert {r.case_id for r in harness.audit.records} == {
        "(2026)京0102执1902号", "J1101052026007777"
    }  # fmt: skip


async def test_a_membership_counts_only_inside_its_window(harness: Harness) -> None:
    registry(harness).register("JIT-2026-401", agency="office", title="t", by="office.coordinator")
    teams = TeamStore(harness.gateway.governance)
    now = time.time()
    teams.create("JIT-T-401", ["JIT-2026-401"])
    teams.add_member("JIT-T-401", "market.officer", valid_from=now + 3600)  # not yet
    teams.add_member("JIT-T-401", "bank.analyst", valid_until=now + 1.0)  # for a second
    refused(await harness.query(QUERY, user="market.officer", case="JIT-2026-401"), harness)
    first = await harness.query("{ __typename }", user="bank.analyst", case="JIT-2026-401")
    assert first.status_code == 200
    await asyncio.sleep(max(0.0, now + 1.05 - time.time()))
    refused(await harness.query(QUERY, user="bank.analyst", case="JIT-2026-401"), harness)


async def test_a_case_closed_after_a_team_was_formed_is_refused_to_the_team(
    harness: Harness,
) -> None:
    before = await harness.query(QUERY, user="jit.member", case="JIT-2026-001")
    assert before.status_code == 200  # the demo's team case
    registry(harness).close("JIT-2026-001", by="office.coordinator")
    for agency in harness.agencies.values():
        agency.calls.clear()
    refused(await harness.query(QUERY, user="jit.member", case="JIT-2026-001"), harness)


def test_the_case_subjects_are_given_only_when_the_case_comes_through_a_team(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'governance.sqlite3'}")
    try:
        store = CaseStore(db)
        subjects = [Subject("uscc", uscc(1)), Subject("resident-id", resident_id(1)),
                    Subject("account", card(1))]  # fmt: skip
        store.register("JIT-2026-501", agency="office", title="t", by="office.coordinator",
                       subjects=subjects, officials=["alice"])  # fmt: skip
        teams = TeamStore(db)
        teams.create("T", ["JIT-2026-501"])
        for member in ("alice", "bob"):
            teams.add_member("T", member)
        purposes = Purposes(CaseDirectory(store), TeamDirectory(teams))
        headers = {"x-purpose": "investigation", "x-case-id": "jit-2026-501"}
        found = {}
        for who in ("alice", "bob"):
            ctx = RequestContext(request_id="r", audit=AuditRecord(request_id="r"))
            purposes.declare(headers, Principal(who, "police", frozenset(), 3), ctx)
            found[who] = ctx.case_subjects
        # alice is an official of the case (and in the team): not scoped; bob only via the team
        assert found == {"alice": None, "bob": frozenset({uscc(1), resident_id(1), card(1)})}
        ctx = RequestContext(request_id="r", audit=AuditRecord(request_id="r"))
        with pytest.raises(CaseNotAssigned):
            purposes.declare(headers, Principal("carol", "police", frozenset(), 3), ctx)
        assert ctx.audit.case_id == "JIT-2026-501" and ctx.case_subjects is None
    finally:
        db.close()
