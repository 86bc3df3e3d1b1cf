"""Break-glass review: duty.officer's emergency access waits in the queue with what it showed
and its deadline; a reviewer signs it off with a note (review.sign-off, as the command line),
never their own; reads recorded, changes need CSRF and the origin."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.review import ReviewQueue
from tests.console.conftest import ConsoleHarness
from tests.console.trail import open_audited
from tests.gateway.conftest import uscc

QUERY = '{ enterprise(uscc: "%s") { bankAccounts { balance } } }' % uscc(4)


async def break_glass(console: ConsoleHarness) -> str:
    """duty.officer's break-glass query through the API; the access's id."""
    response = await console.harness.query(
        QUERY, user="duty.officer", case="J1101052026000004",
        **{"x-break-glass": "suspect%20about%20to%20move%20funds"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    (pending,) = ReviewQueue(console.harness.gateway.governance).pending()
    return pending.id


def actions(console: ConsoleHarness) -> list[tuple[str | None, str, str]]:
    return [(r.operation_name, r.subject or "", r.outcome) for r in console.harness.audit.records]


@pytest.mark.parametrize(("lang", "words"), [("zh", "紧急访问复核"), ("en", "Break-glass review")])
async def test_the_queue_shows_the_access_in_both_languages(
    console: ConsoleHarness, lang: str, words: str
) -> None:
    access = await break_glass(console)
    console.sign_in("auditor")
    response = await console.client.get(f"/console/review?lang={lang}")
    assert response.status_code == 200, response.text
    page = response.text
    assert words in page and access in page
    assert "duty.officer" in page and "suspect about to move funds" in page
    assert "enterprise.bankAccounts.balance" in page  # the fields it disclosed
    assert "OVERDUE" not in page  # due 24 hours after
    record = console.harness.audit.records[-1]
    assert (record.operation_name, record.subject) == ("console.review.view", "auditor")
    assert record.variables["listed"] == 1


async def test_a_reviewer_signs_it_off_and_it_leaves_the_queue(console: ConsoleHarness) -> None:
    access = await break_glass(console)
    csrf = console.sign_in("auditor")
    done = await console.post(
        f"/console/review/{access}/sign-off", csrf, note="justified: 110 call"
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/review"
    assert console.flash() == {"done": access}  # said on the next page, never in the URL
    record = console.harness.audit.records[-1]
    assert (record.operation_name, record.subject, record.outcome) == (
        "review.sign-off",
        "auditor",
        "ok",
    )
    assert record.variables == {"access": access, "note": "justified: 110 call"}
    signed = ReviewQueue(console.harness.gateway.governance).all()[0]
    assert signed.reviewed_by == "auditor" and signed.note == "justified: 110 call"
    after = await console.client.get("/console/review?lang=en&done=" + access)
    assert "No break-glass access awaits review" in after.text
    again = await console.post(f"/console/review/{access}/sign-off", csrf, note="twice")
    assert again.status_code == 400 and "signed off by auditor already" in again.text


async def test_an_overdue_access_is_marked(console: ConsoleHarness) -> None:
    await break_glass(console)
    hours = console.harness.gateway.settings.review_deadline_h + 1  # made that long ago
    console.harness.gateway.governance.transaction(
        [("UPDATE jg_break_glass SET at = at - ?", (hours * 3600,))]
    )
    console.sign_in("auditor")
    response = await console.client.get("/console/review?lang=en")
    assert "OVERDUE" in response.text


async def test_others_are_refused_and_the_refusal_recorded(console: ConsoleHarness) -> None:
    access = await break_glass(console)
    csrf = console.sign_in("duty.officer")
    assert (await console.client.get("/console/review")).status_code == 403
    refused = await console.post(f"/console/review/{access}/sign-off", csrf, note="mine")
    assert refused.status_code == 403
    assert ("console.review", "duty.officer", "refused") in actions(console)
    assert ReviewQueue(console.harness.gateway.governance).pending()[0].id == access


async def test_a_sign_off_needs_csrf_and_the_origin(console: ConsoleHarness) -> None:
    access = await break_glass(console)
    csrf = console.sign_in("auditor")
    path = f"/console/review/{access}/sign-off"
    assert (await console.post(path, "wrong", note="x")).status_code == 403
    foreign = await console.client.post(
        path, data={"csrf": csrf, "note": "x"}, headers={"origin": "http://evil.example"}
    )
    assert foreign.status_code == 403
    bad = await console.post("/console/review/not-an-id/sign-off", csrf, note="x")
    assert bad.status_code == 400
    unknown = await console.post("/console/review/0123456789ab/sign-off", csrf, note="x")
    assert unknown.status_code == 400 and "no break-glass access" in unknown.text
    # refused, and recorded as refused: never as done (the store the sign-off makes creates
    # its tables inside the witnessed change, which once took the record as written)
    signed = [a for a in actions(console) if a[0] == "review.sign-off"]
    assert signed == [("review.sign-off", "auditor", "refused")]
    assert ReviewQueue(console.harness.gateway.governance).pending()[0].id == access


async def test_the_records_an_access_disclosed_come_from_the_trail(tmp_path: Path) -> None:
    async with open_audited(tmp_path) as audited:
        access = await break_glass(audited)
        audited.sign_in("auditor")
        page = (await audited.client.get("/console/review?lang=en")).text
        shown = page.split(f'id="access-{access}"')[1]
        assert f"Enterprise: {uscc(4)}" in shown  # the record it showed, from its audit record
        assert "cannot be read here" not in shown
