"""Break-glass review in a real browser: duty.officer's emergency query through the demo's API
waits in the queue; the auditor (a reviewer) signs it off with a note and it leaves."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.console.browser.conftest import ConsoleDemo
from tests.console.browser.helpers import check_accessibility, shoot, sign_in
from tests.console.browser.pages import query, scenario

BALANCES = "query($uscc: USCC!) { enterprise(uscc: $uscc) { bankAccounts { balance } } }"


def test_a_break_glass_access_is_reviewed_and_signed_off(
    page: Page, console_demo: ConsoleDemo
) -> None:
    world = scenario(console_demo)
    reason = f"suspect about to move funds {uuid.uuid4().hex[:6]}"
    response = query(
        console_demo, "duty.officer", BALANCES, {"uscc": world["enterprise_uscc"]},
        **{"x-purpose": "investigation", "x-case-id": quote(world["police_case_number"]),
           "x-break-glass": quote(reason)},
    )  # fmt: skip
    assert response.status_code == 200, response.text

    sign_in(page, console_demo, "auditor")
    page.goto(f"{console_demo.url}/console/review?lang=en")
    access = page.locator("section.access", has_text=reason)
    expect(access).to_be_visible()
    expect(access).to_contain_text("duty.officer")
    expect(access).to_contain_text("enterprise.bankAccounts.balance")
    check_accessibility(page)
    shoot(page, "review")

    access.get_by_label("Review note").fill("justified: the funds were about to move")
    access.get_by_role("button", name="Sign off").click()
    expect(page.locator("[role=status]")).to_contain_text("is signed off")
    expect(page.locator("section.access", has_text=reason)).to_have_count(0)
    check_accessibility(page)
