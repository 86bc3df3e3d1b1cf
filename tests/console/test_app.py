"""The console's frame: sign-in required, roles per page, CSRF and origin on every change,
security headers, both languages."""

from __future__ import annotations

from console import i18n
from console.session import SESSION_COOKIE
from tests.console.conftest import ConsoleHarness


async def test_a_stranger_is_sent_to_sign_in(console: ConsoleHarness) -> None:
    response = await console.client.get("/console/")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in"
    page = await console.client.get("/console/sign-in")
    assert page.status_code == 200
    assert "/console/auth/login" in page.text


async def test_pages_carry_a_strict_content_security_policy(console: ConsoleHarness) -> None:
    console.sign_in("auditor")
    response = await console.client.get("/console/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"


async def test_both_languages(console: ConsoleHarness) -> None:
    console.sign_in("auditor")
    zh = await console.client.get("/console/?lang=zh")
    assert "控制台" in zh.text and 'lang="zh-CN"' in zh.text
    en = await console.client.get("/console/?lang=en")
    assert "JointGate console" in en.text and 'lang="en"' in en.text
    assert "lang=en" in en.headers["set-cookie"]
    after = await console.client.get("/console/")  # the cookie keeps it
    assert 'lang="en"' in after.text


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(
    console: ConsoleHarness,
) -> None:
    csrf = console.sign_in("auditor")
    refused = await console.post("/console/sign-out", "wrong")
    assert refused.headers["location"] == "/console/"
    assert (await console.client.get("/console/")).status_code == 200
    foreign = await console.client.post(
        "/console/sign-out", data={"csrf": csrf}, headers={"origin": "http://evil.example"}
    )
    assert foreign.headers["location"] == "/console/"
    done = await console.post("/console/sign-out", csrf)
    assert done.status_code == 303
    assert f"{SESSION_COOKIE}=;" in done.headers["set-cookie"]
    assert "HttpOnly" in done.headers["set-cookie"]
    assert "SameSite=Strict" in done.headers["set-cookie"]
    assert (await console.client.get("/console/")).status_code == 303
    kinds = [r.operation_name for r in console.harness.audit.records]
    assert "console.sign-out" in kinds


def test_every_message_has_both_languages() -> None:
    for key, (zh, en) in i18n.catalog().items():
        assert zh.strip() and en.strip(), key


def test_a_flood_of_sign_ins_never_drops_a_session() -> None:
    from console.session import MAX_LOGINS, Sessions, SessionStore

    store = SessionStore(3600, 600)
    kept = store.create({"official": {"subject": "auditor"}})
    sessions = Sessions(app=None, store=store)  # type: ignore[arg-type]
    for _ in range(MAX_LOGINS + 10):
        sessions.logins.create({"_state_x": 1})
    assert len(sessions.logins) == MAX_LOGINS
    assert store.get(kept) == {"official": {"subject": "auditor"}}


async def test_a_body_larger_than_the_api_takes_is_refused_unread(
    console: ConsoleHarness,
) -> None:
    csrf = console.sign_in("policy.admin")
    limit = console.harness.gateway.settings.max_body_bytes
    response = await console.post("/console/sign-out", csrf, filler="x" * (limit + 1))
    assert response.status_code == 413
    assert (await console.client.get("/console/")).status_code == 200  # still signed in
    big = await console.client.post(
        "/console/workbench/graphql",
        content=b"{" + b" " * (limit + 1) + b"}",
        headers={"origin": "http://gateway", "x-csrf-token": csrf},
    )
    assert big.status_code == 413


async def test_a_csrf_token_that_is_not_ascii_is_refused_not_a_crash(
    console: ConsoleHarness,
) -> None:
    console.sign_in("auditor")
    response = await console.post("/console/sign-out", "é")
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    assert (await console.client.get("/console/")).status_code == 200  # still signed in


async def test_sign_out_clears_what_the_browser_kept(console: ConsoleHarness) -> None:
    csrf = console.sign_in("auditor")
    done = await console.post("/console/sign-out", csrf)
    assert done.headers["clear-site-data"] == '"cache", "storage"'


async def test_a_link_cannot_make_a_page_claim_a_change(console: ConsoleHarness) -> None:
    """What a change says of itself waits in the session for the next page; a crafted link
    (``?done=ALL ACCESSES``, ``?approved=...``) once showed its text as the console's word."""
    console.sign_in("auditor")
    review = await console.client.get("/console/review?done=ALL+ACCESSES&lang=en")
    assert "ALL ACCESSES" not in review.text
    policies = await console.client.get("/console/policies?approved=ANY&version=v&lang=en")
    assert "ANY" not in policies.text
    forged = await console.client.get("/console/policies?error=Session+expired+at+evil&lang=en")
    assert "evil" not in forged.text


async def test_a_forged_change_is_recorded_with_what_it_asked(console: ConsoleHarness) -> None:
    csrf = console.sign_in("market.officer")
    await console.post("/console/policies/approve", csrf, id="cf42e74973c2")
    csrf = console.sign_in("policy.approver")
    await console.post("/console/policies/approve", "forged", id="cf42e74973c2")
    refused = [
        (r.subject, r.variables.get("method"), r.variables.get("path"), r.outcome)
        for r in console.harness.audit.records
        if r.operation_name == "console.policies"
    ]
    assert refused == [
        ("market.officer", "POST", "/console/policies/approve", "refused"),
        ("policy.approver", "POST", "/console/policies/approve", "refused"),
    ]


async def test_errors_and_language_links_in_both_languages(console: ConsoleHarness) -> None:
    console.sign_in("auditor")
    missing = await console.client.get("/console/no-such-page?lang=en")
    assert missing.status_code == 404 and "The console has no such address." in missing.text
    assert "控制台中没有这个地址" in (await console.client.get("/console/nope?lang=zh")).text
    wrong = await console.client.get("/console/sign-out?lang=en")
    assert wrong.status_code == 405 and "Not this way" in wrong.text
    # a page answering a POST links its languages to its page, not to the POST's address
    refused = await console.post("/console/review/0123456789ab/sign-off", "wrong", note="x")
    assert 'href="/console/review?lang=en"' in refused.text


async def test_a_change_after_the_session_ended_signs_in_again_to_its_page(
    console: ConsoleHarness,
) -> None:
    response = await console.client.post(
        "/console/review/0123456789ab/sign-off", data={"note": "x"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=/console/review"
