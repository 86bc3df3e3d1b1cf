"""Audit in a real browser: the auditor finds who saw an identifier read just before through
the demo's API, and opens that record."""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.console.browser.conftest import ConsoleDemo
from tests.console.browser.helpers import check_accessibility, shoot, sign_in
from tests.console.browser.pages import query, scenario

NAME = "query($uscc: USCC!) { enterprise(uscc: $uscc) { name } }"


def test_who_saw_an_identifier_and_the_record(page: Page, console_demo: ConsoleDemo) -> None:
    world = scenario(console_demo)
    response = query(
        console_demo, "police.investigator", NAME, {"uscc": world["enterprise_uscc"]},
        **{"x-purpose": "investigation", "x-case-id": quote(world["police_case_number"])},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    request_id = response.headers["x-request-id"]

    sign_in(page, console_demo, "auditor")
    page.goto(f"{console_demo.url}/console/audit?lang=en")
    check_accessibility(page)
    page.fill("#who-saw-identifier", world["enterprise_uscc"])
    page.click("form[action='/console/audit/who-saw'] button")
    expect(page.locator("h1")).to_have_text("Who saw")
    row = page.locator("tr", has_text=request_id)
    expect(row).to_contain_text("police.investigator")
    check_accessibility(page)
    shoot(page, "audit")

    row.get_by_role("link", name=request_id).click()
    expect(page.locator("h1")).to_contain_text(request_id)
    expect(page.locator("table.record")).to_contain_text("police.investigator")
    check_accessibility(page)
