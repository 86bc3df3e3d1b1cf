"""What the console's browser tests share: a real OpenID Connect sign-in at the demo issuer,
axe-core's accessibility check, and screenshots for the docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

from playwright.sync_api import Page, expect

from sandbox.issuer import DEMO_PASSWORD

__all__ = ["DEMO_PASSWORD", "check_accessibility", "shoot", "sign_in"]

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "tests" / "http" / "node" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "docs" / "console"
FAILING_IMPACTS = ("serious", "critical")


class Demo(Protocol):
    url: str


def sign_in(page: Page, console_demo: Demo, user: str) -> None:
    """Sign ``user`` in for real: the console's sign-in page, the demo issuer's login form
    (the demo password), back to the console's overview."""
    page.goto(f"{console_demo.url}/console/sign-in")
    page.click("#sign-in")
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/(\?.*)?$"))
    expect(page.locator(f'[data-subject="{user}"]')).to_be_visible()


def check_accessibility(page: Page) -> None:
    """axe-core (WCAG 2 A and AA rules) on the page; fails on any serious or critical
    violation, listing them. The script is injected through Playwright's evaluate, which the
    page's Content-Security-Policy does not govern."""
    assert AXE.exists(), f"{AXE} is missing: run `npm ci --prefix tests/http/node` (make test does)"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})"
    )
    bad = [v for v in result["violations"] if v.get("impact") in FAILING_IMPACTS]
    listing = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}; "
        + "; ".join(" ".join(n.get("target", [])) for n in v.get("nodes", [])[:5])
        for v in bad
    )
    assert not bad, f"accessibility violations on {page.url}:\n{listing}"


def shoot(page: Page, name: str) -> Path:
    """A full-page PNG at docs/console/<name>.png (the console's guide shows it)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
