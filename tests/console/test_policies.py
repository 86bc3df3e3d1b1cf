"""The Policies page: the set in force read, a draft validated, tested, previewed against
recorded queries and proposed; approved by a second policy administrator and then in force for
the next query; rejected, rolled back; every read and change recorded as the CLI records it."""

from __future__ import annotations

import re

import httpx

from policies.engine import DEFAULT_DIR
from tests.console.conftest import ORIGIN, ConsoleHarness
from tests.gateway.conftest import uscc

FORBID = "90-forbid.cedar"
#: market officers supervising read registered capital today (policies/tests: "market officers
#: see registry data"); the draft forbids it
DENY_CAPITAL = """
@id("no-capital-for-market-supervising")
forbid (principal, action == JointGate::Action::"read",
        resource == JointGate::Field::"Enterprise.registeredCapital")
when { principal.agency == "market" && context.purpose == "supervision" };
"""
#: the same for an enterprise's status (the test world's enterprises have no capital)
DENY_STATUS = """
@id("no-status-for-market-supervising")
forbid (principal, action == JointGate::Action::"read",
        resource == JointGate::Field::"Enterprise.status")
when { principal.agency == "market" && context.purpose == "supervision" };
"""
QUERY = '{ enterprise(uscc: "%s") { name status } }' % uscc(6)


def in_force(name: str = FORBID) -> str:
    return (DEFAULT_DIR / name).read_text()


def actions(console: ConsoleHarness) -> list[tuple[str | None, str | None, str]]:
    """(action, subject, outcome) of every governance record, in order."""
    return [
        (r.operation_name, r.subject, r.outcome)
        for r in console.harness.audit.records
        if r.operation_type == "governance"
    ]


async def market_capital(console: ConsoleHarness) -> httpx.Response:
    return await console.harness.query(
        QUERY, user="market.officer", purpose="supervision", case=None
    )


async def propose(console: ConsoleHarness, text: str, why: str = "capital") -> httpx.Response:
    csrf = console.sign_in("policy.admin")
    return await console.post(
        "/console/policies/draft", csrf, file=FORBID, text=text, why=why, do="propose"
    )


def proposal_id(console: ConsoleHarness, response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    found = console.flash().get("proposed", "")
    assert re.fullmatch(r"[0-9a-f]{12}", found), console.flash()
    return found


async def test_the_set_in_force_is_shown_highlighted_in_both_languages(
    console: ConsoleHarness,
) -> None:
    for user in ("policy.admin", "auditor"):
        console.sign_in(user)
        for lang in ("zh", "en"):
            page = await console.client.get(f"/console/policies?lang={lang}&file={FORBID}")
            assert page.status_code == 200, page.text
            assert '<span class="kw">forbid</span>' in page.text
            assert "break-glass-needs-justification" in page.text
        history = await console.client.get("/console/policies/history")
        assert history.status_code == 200
        assert "bootstrap" in history.text
    assert ("console.policies.view", "auditor", "ok") in actions(console)
    assert ("console.policies.history", "auditor", "ok") in actions(console)
    # an auditor reads, but has no draft and no forms to decide with
    page = await console.client.get("/console/policies")
    assert (
        "/console/policies/draft" not in page.text and "/console/policies/approve" not in page.text
    )


async def test_who_holds_neither_role_is_refused_and_recorded(console: ConsoleHarness) -> None:
    console.sign_in("market.officer")
    page = await console.client.get("/console/policies")
    assert page.status_code == 403
    assert ("console.policies", "market.officer", "refused") in actions(console)


async def test_a_draft_with_an_error_shows_its_file_and_line(console: ConsoleHarness) -> None:
    csrf = console.sign_in("policy.admin")
    broken = in_force() + "\npermit (principal, action, resource\nwhen { true };\n"
    page = await console.post(
        "/console/policies/draft", csrf, file=FORBID, text=broken, do="validate"
    )
    assert page.status_code == 200
    problem = re.search(rf"<code class=\"where\">{re.escape(FORBID)}:(\d+)</code>", page.text)
    assert problem, page.text
    line = int(problem.group(1))
    assert f'<span class="line bad" id="L{line}">' in page.text
    # the draft is kept in the session: the editor shows it again
    again = await console.client.get(f"/console/policies/draft?file={FORBID}")
    assert "permit (principal, action, resource\nwhen" in again.text.replace("&#34;", '"')
    assert ("console.policies.validate", "policy.admin", "ok") in actions(console)
    # fixed: valid
    fixed = await console.post(
        "/console/policies/draft", csrf, file=FORBID, text=in_force() + DENY_CAPITAL, do="validate"
    )
    assert 'id="valid"' in fixed.text


async def test_the_tests_run_against_the_draft(console: ConsoleHarness) -> None:
    csrf = console.sign_in("policy.admin")
    same = await console.post("/console/policies/draft", csrf, file=FORBID, do="test")
    assert same.status_code == 200
    assert '<tr class="fail">' not in same.text and '<tr class="pass">' in same.text
    changed = await console.post(
        "/console/policies/draft", csrf, file=FORBID, text=in_force() + DENY_CAPITAL, do="test"
    )
    failing = re.findall(r'<tr class="fail"><th scope="row">([^<]*)', changed.text)
    assert [name.strip() for name in failing] == ["market officers see registry data"]
    assert ("console.policies.test", "policy.admin", "ok") in actions(console)


async def test_the_impact_preview_lists_a_field_the_draft_flips(console: ConsoleHarness) -> None:
    seen = (await market_capital(console)).json()
    assert seen["data"]["enterprise"]["status"] is not None  # allowed today
    csrf = console.sign_in("policy.admin")
    page = await console.post(
        "/console/policies/draft", csrf, file=FORBID, text=in_force() + DENY_STATUS, do="preview"
    )
    assert page.status_code == 200, page.text
    row = re.search(
        r'<th scope="row">market.officer</th><td>supervision</td>'
        r"<td><code>Enterprise.status</code></td>\s*"
        r'<td class="allow">allow</td><td class="deny">deny</td><td>1</td>',
        page.text,
    )
    assert row, page.text
    assert "Enterprise.name" not in page.text.split('class="impact"')[1].split("</table>")[0]
    assert ("console.policies.preview", "policy.admin", "ok") in actions(console)


async def test_proposed_then_approved_by_another_it_decides_the_next_query(
    console: ConsoleHarness,
) -> None:
    proposed = await propose(console, in_force() + DENY_STATUS)
    assert proposed.status_code == 303
    pid = proposal_id(console, proposed)
    view = await console.client.get(proposed.headers["location"])
    assert pid in view.text and "own" not in view.text.split(pid)[0][-10:]
    assert "policy.admin" in view.text
    assert "/console/policies/approve" not in view.text  # not for the proposer
    # the draft was cleared
    draft = await console.client.get("/console/policies/draft")
    assert "no-status-for-market-supervising" not in draft.text
    # still in force: the old version
    assert (await market_capital(console)).json()["data"]["enterprise"]["status"]

    csrf = console.sign_in("policy.approver")
    page = await console.client.get("/console/policies")
    assert f'name="id" value="{pid}"' in page.text and "/console/policies/approve" in page.text
    approved = await console.post("/console/policies/approve", csrf, id=pid, note="checked")
    assert approved.status_code == 303
    assert {"approved", "approved_later"} & set(console.flash())  # announced, or not (no Redis)
    body = (await market_capital(console)).json()
    assert body["data"]["enterprise"]["status"] is None
    assert [e["path"] for e in body["errors"]] == [["enterprise", "status"]]
    history = await console.client.get("/console/policies/history?lang=en")
    assert "checked" in history.text and "in force" in history.text

    records = [
        r
        for r in console.harness.audit.records
        if r.operation_name in ("policy.propose", "policy.approve")
    ]
    assert [(r.operation_name, r.subject, r.outcome, r.operation_type) for r in records] == [
        ("policy.propose", "policy.admin", "ok", "governance"),
        ("policy.approve", "policy.approver", "ok", "governance"),
    ]
    assert records[0].variables["why"] == "capital"
    assert records[0].variables["draft"] == [FORBID]
    assert records[1].variables["proposal"] == pid and records[1].variables["note"] == "checked"


async def test_the_proposer_cannot_approve_their_own(console: ConsoleHarness) -> None:
    pid = proposal_id(console, await propose(console, in_force() + DENY_STATUS))
    csrf = console.sign_in("policy.admin")
    refused = await console.post("/console/policies/approve", csrf, id=pid)
    assert refused.status_code == 303
    page = await console.client.get(refused.headers["location"])
    assert "dual control" in page.text
    assert ("policy.approve", "policy.admin", "refused") in actions(console)
    assert (await market_capital(console)).json()["data"]["enterprise"]["status"]


async def test_reject_needs_a_note_and_is_recorded(console: ConsoleHarness) -> None:
    pid = proposal_id(console, await propose(console, in_force() + DENY_STATUS))
    csrf = console.sign_in("policy.approver")
    without = await console.post("/console/policies/reject", csrf, id=pid, note=" ")
    assert "error" in console.flash(), without.text
    bad = await console.post("/console/policies/reject", csrf, id="<script>", note="x")
    assert "error" in console.flash(), bad.text
    page = await console.client.get(bad.headers["location"])
    assert "<script>" not in page.text
    done = await console.post("/console/policies/reject", csrf, id=pid, note="not now")
    assert done.status_code == 303 and console.flash().get("rejected") == pid
    assert ("policy.reject", "policy.approver", "ok") in actions(console)
    unknown = await console.post("/console/policies/reject", csrf, id="abcdef123456", note="x")
    assert unknown.status_code == 303
    assert "no policy proposal" in console.flash().get("error", "")


async def test_a_rollback_is_a_proposal(console: ConsoleHarness) -> None:
    first = console.harness.gateway.policies.engine.version
    pid = proposal_id(console, await propose(console, in_force() + DENY_STATUS))
    csrf = console.sign_in("policy.approver")
    await console.post("/console/policies/approve", csrf, id=pid)
    assert console.harness.gateway.policies.engine.version != first
    history = await console.client.get("/console/policies/history")
    assert f'name="version" value="{first}"' in history.text
    nowhy = await console.post("/console/policies/rollback", csrf, version=first, why="")
    assert "error" in console.flash(), nowhy.text
    back = await console.post("/console/policies/rollback", csrf, version=first, why="undo")
    assert "proposed" in console.flash()
    assert ("policy.rollback", "policy.approver", "ok") in actions(console)
    rid = proposal_id(console, back)
    csrf = console.sign_in("policy.admin")
    await console.post("/console/policies/approve", csrf, id=rid)
    assert console.harness.gateway.policies.engine.version == first


async def test_an_auditor_reads_history_but_cannot_change(console: ConsoleHarness) -> None:
    csrf = console.sign_in("auditor")
    assert (await console.client.get("/console/policies/history")).status_code == 200
    for path, form in (
        ("/console/policies/draft", {"file": FORBID, "text": "x", "do": "propose", "why": "x"}),
        ("/console/policies/approve", {"id": "abcdef123456"}),
        ("/console/policies/rollback", {"version": "abc", "why": "x"}),
    ):
        refused = await console.post(path, csrf, **form)
        assert refused.status_code == 403, path
    assert (await console.client.get("/console/policies/draft")).status_code == 403
    refusals = [a for a in actions(console) if a[2] == "refused"]
    assert ("console.policies.draft", "auditor", "refused") in refusals
    assert ("policy.approve", "auditor", "refused") in refusals
    assert ("policy.rollback", "auditor", "refused") in refusals


async def test_changes_need_the_csrf_token_and_the_own_origin(console: ConsoleHarness) -> None:
    pid = proposal_id(console, await propose(console, in_force() + DENY_STATUS))
    csrf = console.sign_in("policy.approver")
    before = len(actions(console))
    wrong = await console.post("/console/policies/approve", "wrong", id=pid)
    assert wrong.status_code == 403
    foreign = await console.client.post(
        "/console/policies/approve",
        data={"csrf": csrf, "id": pid},
        headers={"origin": "http://evil.example"},
    )
    assert foreign.status_code == 403
    none = await console.client.post("/console/policies/draft", data={"csrf": csrf, "do": "save"})
    assert none.status_code == 403
    # nothing done: each refusal recorded as such
    assert actions(console)[before:] == [("console.policies", "policy.approver", "refused")] * 3
    assert (await market_capital(console)).json()["data"]["enterprise"]["status"]
    ok = await console.client.post(
        "/console/policies/approve", data={"csrf": csrf, "id": pid}, headers={"origin": ORIGIN}
    )
    assert ok.status_code == 303
