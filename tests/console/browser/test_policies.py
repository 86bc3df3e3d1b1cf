"""The Policies page in a real browser: a policy administrator edits a draft, sees a syntax
error at its line, fixes it with a real change and proposes it; a second policy administrator
approves it; the next GraphQL query of the affected user through the demo's /graphql is decided
by the new version."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from sandbox.issuer import mint_token
from tests.console.browser.conftest import ConsoleDemo
from tests.console.browser.helpers import check_accessibility, shoot, sign_in

FILE = "90-forbid.cedar"
#: market officers supervising read an enterprise's registered capital today (policies/tests:
#: "market officers see registry data"); the change forbids it
DENY_CAPITAL = """
// Registered capital is withheld from market supervision while it is reviewed.
@id("no-capital-for-market-supervising")
forbid (principal, action == JointGate::Action::"read",
        resource == JointGate::Field::"Enterprise.registeredCapital")
when { principal.agency == "market" && context.purpose == "supervision" };
"""
QUERY = '{ enterprises(nameContains: "诚宝", first: 1) { nodes { uscc name registeredCapital } } }'


def capital(console_demo: ConsoleDemo) -> tuple[object, list[object]]:
    """The registered capital market.officer is shown, supervising, and the error paths."""
    token = mint_token("market.officer", console_demo.data_dir)
    response = httpx.post(
        f"{console_demo.url}/graphql",
        json={"query": QUERY},
        headers={"authorization": f"Bearer {token}", "x-purpose": "supervision"},
        timeout=30,
    )
    body = response.json()
    node = body["data"]["enterprises"]["nodes"][0]
    return node["registeredCapital"], [e["path"] for e in body.get("errors", [])]


def test_a_change_proposed_approved_and_in_force_for_the_next_query(
    page: Page, console_demo: ConsoleDemo
) -> None:
    shown, errors = capital(console_demo)
    assert shown is not None and not errors

    sign_in(page, console_demo, "policy.admin")
    page.goto(f"{console_demo.url}/console/policies/draft?file={FILE}&lang=en")
    original = page.input_value("#text")
    assert "break-glass-needs-justification" in original
    page.fill("#text", original + "\npermit (principal, action, resource\nwhen { true };\n")
    page.click("#validate")
    where = page.locator(".problems code.where").first
    expect(where).to_contain_text(f"{FILE}:")
    line = int(where.inner_text().rsplit(":", 1)[1])
    expect(page.locator(f"#L{line}.bad")).to_be_visible()
    check_accessibility(page)
    shoot(page, "policy-draft")

    page.fill("#text", original + DENY_CAPITAL)
    page.fill("#why", "registered capital under review for market supervision")
    page.click("#validate")
    expect(page.locator("#valid")).to_be_visible()
    page.click("#preview")  # the trail holds market.officer's query above
    impact = page.locator("table.impact tr", has_text="market.officer")
    expect(impact.filter(has_text="Enterprise.registeredCapital")).to_contain_text("deny")
    page.click("#run-tests")
    expect(page.locator("tr.fail")).to_contain_text("market officers see registry data")
    page.click("#propose")
    expect(page).to_have_url(re.compile(r".*/console/policies$"))
    said = page.locator("p.flash").inner_text()
    proposal = re.search(r"\b([0-9a-f]{12})\b", said).group(1)  # type: ignore[union-attr]
    expect(page.locator(f"#proposal-{proposal}")).to_contain_text("policy.admin")
    page.click("form[action='/console/sign-out'] button")
    expect(page).to_have_url(re.compile(r".*/console/sign-in"))

    sign_in(page, console_demo, "policy.approver")
    page.goto(f"{console_demo.url}/console/policies?lang=en&file={FILE}")
    row = page.locator(f"#proposal-{proposal}")
    expect(row).to_contain_text("registered capital under review")
    check_accessibility(page)
    shoot(page, "policies")
    row.locator("form.approve input[name=note]").fill("read the diff and the tests")
    row.locator("form.approve button").click()
    expect(page.locator("p.flash")).to_contain_text(f"Approved {proposal}")
    page.goto(f"{console_demo.url}/console/policies?lang=en&file={FILE}")
    expect(page.locator("pre.cedar")).to_contain_text("no-capital-for-market-supervising")

    shown, errors = capital(console_demo)
    assert shown is None
    assert errors == [["enterprises", "nodes", 0, "registeredCapital"]]

    page.goto(f"{console_demo.url}/console/policies/history?lang=en")
    expect(page.locator("tr.in-force")).to_contain_text("read the diff and the tests")
    check_accessibility(page)
    shoot(page, "policy-history")

    # rolled back, by proposal: the approver proposes the earlier version, the admin approves
    earlier = page.locator("form.rollback").first
    earlier.locator("input[name=why]").fill("review done: capital shown again")
    earlier.locator("button").click()
    expect(page).to_have_url(re.compile(r".*/console/policies$"))
    said = page.locator("p.flash").inner_text()
    rollback = re.search(r"\b([0-9a-f]{12})\b", said).group(1)  # type: ignore[union-attr]
    expect(page.locator(f"#proposal-{rollback}")).to_contain_text("rollback")
    page.click("form[action='/console/sign-out'] button")
    expect(page).to_have_url(re.compile(r".*/console/sign-in"))
    sign_in(page, console_demo, "policy.admin")
    page.goto(f"{console_demo.url}/console/policies?lang=en")
    page.locator(f"#proposal-{rollback} form.approve button").click()
    expect(page.locator("p.flash")).to_contain_text(f"Approved {rollback}")
    shown, errors = capital(console_demo)
    assert shown is not None and not errors
