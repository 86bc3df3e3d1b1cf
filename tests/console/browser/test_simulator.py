"""The simulator in a real browser: a policy administrator sees a query as a bank analyst,
with a masked field in the table and masked in the sandbox answer."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.browser.conftest import ConsoleDemo
from tests.console.browser.helpers import check_accessibility, shoot, sign_in


def test_a_policy_administrator_sees_a_mask(page: Page, console_demo: ConsoleDemo) -> None:
    sign_in(page, console_demo, "policy.admin")
    page.goto(f"{console_demo.url}/console/simulator?lang=en&example=enterprise")
    check_accessibility(page)
    page.select_option("#sim-user", "bank.analyst")
    page.select_option("#sim-purpose", "supervision")
    page.click("#simulate")
    row = page.locator('tr[data-path="enterprise.legalRepresentative.idNumber"]')
    expect(row.locator("td.mask")).to_have_text("mask")
    expect(row).to_contain_text("resident_id")
    answer = page.locator("#answer")
    expect(answer).to_contain_text('"idNumber"')
    expect(answer).to_contain_text("*")
    check_accessibility(page)
    shoot(page, "simulator")
