"""Cases & teams, Agencies, and Leads and cases open in a real browser for an official who may
use them, and pass the accessibility check."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.browser.conftest import ConsoleDemo
from tests.console.browser.helpers import check_accessibility, shoot, sign_in


def test_cases_and_teams(page: Page, console_demo: ConsoleDemo) -> None:
    sign_in(page, console_demo, "office.coordinator")
    page.click("nav.side a[href='/console/cases']")
    page.goto(f"{console_demo.url}/console/cases?lang=zh")
    expect(page.locator("h1")).to_have_text("案件与联合专班")
    page.goto(f"{console_demo.url}/console/cases?lang=en")
    expect(page.locator("table").first).to_contain_text("JIT-2026-001")
    expect(page.locator("section.team").first).to_contain_text("jit.member")
    check_accessibility(page)
    shoot(page, "cases")
    page.click("a[href='/console/cases/JIT-2026-001']")
    expect(page.locator("h1")).to_have_text("Case JIT-2026-001")
    expect(page.get_by_label("Official (their identity provider name)")).to_be_visible()
    check_accessibility(page)


def test_agencies(page: Page, console_demo: ConsoleDemo) -> None:
    sign_in(page, console_demo, "policy.admin")
    page.goto(f"{console_demo.url}/console/agencies?lang=en")
    expect(page.locator("h1")).to_have_text("Agencies")
    for agency in ("banking", "courts", "market", "police"):
        expect(page.locator("th[scope=row]", has_text=agency).first).to_be_visible()
    check_accessibility(page)
    shoot(page, "agencies")


def test_leads_and_cases(page: Page, console_demo: ConsoleDemo) -> None:
    sign_in(page, console_demo, "office.coordinator")
    page.goto(f"{console_demo.url}/console/leads?lang=en")
    expect(page.locator("h1")).to_have_text("Leads and cases")
    first = page.locator("table a[href^='/console/leads/L-']").first
    expect(first).to_be_visible()  # the demo seeds leads in every state
    check_accessibility(page)
    shoot(page, "leads")
    lead_id = first.inner_text()
    first.click()
    expect(page.locator("h1")).to_contain_text(lead_id)
    check_accessibility(page)
