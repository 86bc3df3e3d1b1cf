"""Cases & teams: the registry and the joint teams for case administrators and auditors, every
read recorded; a case administrator assigns an official (case.assign, as the command line)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from policies.cases import CaseStore
from policies.db import Database
from tests.console.conftest import ORIGIN, ConsoleHarness

CASE = "J1101052026000001"


def actions(console: ConsoleHarness) -> list[tuple[str | None, str, str]]:
    return [(r.operation_name, r.subject or "", r.outcome) for r in console.harness.audit.records]


@pytest.mark.parametrize("user", ["office.coordinator", "auditor"])
@pytest.mark.parametrize(("lang", "words"), [("zh", "案件与联合专班"), ("en", "Cases &amp; teams")])
async def test_the_registry_and_teams_render_in_both_languages(
    console: ConsoleHarness, user: str, lang: str, words: str
) -> None:
    console.sign_in(user)
    response = await console.client.get(f"/console/cases?lang={lang}&all=1")
    assert response.status_code == 200, response.text
    assert words in response.text
    assert CASE in response.text and "JIT-2026-001" in response.text
    assert "jit.member" in response.text  # the team's member, with their window
    assert ("console.cases.view", user, "ok") in actions(console)


async def test_a_case_in_detail_is_recorded_before_it_is_shown(console: ConsoleHarness) -> None:
    console.sign_in("auditor")
    response = await console.client.get(f"/console/cases/{CASE}?lang=en")
    assert response.status_code == 200
    assert "police.investigator" in response.text  # an assigned official
    assert "Assign an official" not in response.text  # auditors read only
    record = console.harness.audit.records[-1]
    assert record.operation_name == "console.cases.view" and record.variables["case"] == CASE


async def test_a_bad_case_number_is_a_clear_error(console: ConsoleHarness) -> None:
    console.sign_in("auditor")
    response = await console.client.get("/console/cases/not-a-case?lang=en")
    assert response.status_code == 400
    assert "not a valid case number" in response.text
    unknown = await console.client.get("/console/cases/J1101052026009999?lang=en")
    assert unknown.status_code == 404 and "no case" in unknown.text


async def test_others_are_refused_and_the_refusal_recorded(console: ConsoleHarness) -> None:
    console.sign_in("market.officer")
    response = await console.client.get("/console/cases")
    assert response.status_code == 403
    assert ("console.cases", "market.officer", "refused") in actions(console)


async def test_the_coordinator_assigns_an_official(console: ConsoleHarness) -> None:
    csrf = console.sign_in("office.coordinator")
    page = await console.client.get(f"/console/cases/{CASE}?lang=en")
    assert "Assign an official" in page.text
    done = await console.post(f"/console/cases/{CASE}/assign", csrf, user="u-new")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/console/cases/{CASE}"
    assert console.flash() == {"done": "u-new"}  # said on the next page, never in the URL
    db = Database(console.harness.gateway.settings.governance_url)
    try:
        assert "u-new" in CaseStore(db).get(CASE).officials
    finally:
        db.close()
    record = console.harness.audit.records[-1]
    assert (record.operation_name, record.subject) == ("case.assign", "office.coordinator")
    assert record.variables == {"case": CASE, "user": "u-new"}


async def test_an_assignment_needs_csrf_the_origin_and_the_role(console: ConsoleHarness) -> None:
    csrf = console.sign_in("office.coordinator")
    path = f"/console/cases/{CASE}/assign"
    assert (await console.post(path, "wrong", user="u-x")).status_code == 403
    foreign = await console.client.post(
        path, data={"csrf": csrf, "user": "u-x"}, headers={"origin": "http://evil.example"}
    )
    assert foreign.status_code == 403
    bad = await console.post(path, csrf, user="two words")
    assert bad.status_code == 400 and "no spaces" in bad.text
    closed_or_unknown = await console.post(
        f"/console/cases/{quote('J1101052026009999')}/assign", csrf, user="u-x"
    )
    assert closed_or_unknown.status_code == 400
    auditor = console.sign_in("auditor")
    refused = await console.post(path, auditor, user="u-x")
    assert refused.status_code == 403
    assert ("case.assign", "auditor", "refused") in actions(console)
    db = Database(console.harness.gateway.settings.governance_url)
    try:
        assert "u-x" not in CaseStore(db).get(CASE).officials
    finally:
        db.close()
    assert ORIGIN == "http://gateway"


async def test_an_assigned_official_may_declare_the_case_at_once(console: ConsoleHarness) -> None:
    number = "J1101052026000777"
    db = Database(console.harness.gateway.settings.governance_url)
    try:
        CaseStore(db).register(number, agency="police", title="测试", by="test")
    finally:
        db.close()
    query = "{ __typename }"
    before = await console.harness.query(query, user="police.investigator", case=number)
    assert before.status_code == 403  # CASE_NOT_ASSIGNED
    csrf = console.sign_in("office.coordinator")
    done = await console.post(f"/console/cases/{number}/assign", csrf, user="police.investigator")
    assert done.status_code == 303
    after = await console.harness.query(query, user="police.investigator", case=number)
    assert after.status_code == 200, after.text
