"""Signing in to the console in a real browser, through the demo issuer's OpenID Connect
login (sandbox/oidc.py), and signing out."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from sandbox.issuer import DEMO_USERS
from tests.console.browser.conftest import ConsoleDemo
from tests.console.browser.helpers import DEMO_PASSWORD, check_accessibility, shoot, sign_in


def test_sign_in_shows_the_overview_and_a_strict_session_cookie(
    page: Page, console_demo: ConsoleDemo
) -> None:
    page.goto(f"{console_demo.url}/console/?lang=en")
    expect(page).to_have_url(re.compile(r".*/console/sign-in"))
    expect(page.locator("#sign-in")).to_be_visible()
    check_accessibility(page)
    shoot(page, "sign-in")

    page.click("#sign-in")
    page.wait_for_selector("input[name=username]")
    check_accessibility(page)  # the issuer's login page
    page.fill("input[name=username]", "policy.admin")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))
    expect(page.locator('[data-subject="policy.admin"]')).to_have_text(
        DEMO_USERS["policy.admin"].name
    )
    check_accessibility(page)
    shoot(page, "overview")

    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["jg_console"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["path"] == "/console"
    assert "jg_console_login" not in cookies or not cookies["jg_console_login"]["value"]

    page.click("form[action='/console/sign-out'] button")
    expect(page).to_have_url(re.compile(r".*/console/sign-in"))
    expect(page.locator("[role=status]")).to_have_text("You are signed out.")
    assert "jg_console" not in {c["name"] for c in page.context.cookies() if c["value"]}
    page.goto(f"{console_demo.url}/console/")
    expect(page).to_have_url(re.compile(r".*/console/sign-in"))


def test_a_wrong_password_is_refused_at_the_issuer(page: Page, console_demo: ConsoleDemo) -> None:
    page.goto(f"{console_demo.url}/console/sign-in?lang=en")
    page.click("#sign-in")
    page.fill("input[name=username]", "policy.admin")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_be_visible()
    expect(page.locator("input[name=username]")).to_be_visible()
    assert "/console/" not in page.url


def test_the_helper_signs_in_any_demo_user(page: Page, console_demo: ConsoleDemo) -> None:
    sign_in(page, console_demo, "auditor")
    expect(page.locator('[data-subject="auditor"]')).to_be_visible()
