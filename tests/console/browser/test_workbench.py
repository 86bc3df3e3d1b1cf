"""The workbench in a real browser: GraphiQL (vendored, under the console's strict CSP) runs a
query as the signed-in official with their declared purpose and case, and explains refusals."""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import Page, expect

from sandbox.world import generate
from tests.console.browser.conftest import ConsoleDemo
from tests.console.browser.helpers import check_accessibility, shoot, sign_in

WORLD = generate(0.05)  # the demo's world (tests/demo_process.py: scale 0.05, default seed)
SCENARIO = WORLD.scenario
OUTSIDE = next(u for u in sorted(WORLD.enterprises) if u != SCENARIO["enterprise_uscc"])


def run(page: Page, console_demo: ConsoleDemo, query: str) -> None:
    page.goto(f"{console_demo.url}/console/workbench?lang=en&query={quote(query)}")
    page.wait_for_selector(".graphiql-execute-button")
    page.select_option("#wb-purpose", "investigation")
    page.fill("#wb-case", "JIT-2026-001")
    page.click(".graphiql-execute-button")


def test_a_team_member_queries_as_themselves(page: Page, console_demo: ConsoleDemo) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security" in m.text else None)
    sign_in(page, console_demo, "jit.member")
    run(page, console_demo, f'{{ enterprise(uscc: "{SCENARIO["enterprise_uscc"]}") {{ name }} }}')
    expect(page.locator(".result-window")).to_contain_text(SCENARIO["enterprise_name"])
    expect(page.locator("#wb-explained")).to_be_hidden()
    # the whole page, GraphiQL included (workbench.js names its editors and scroll regions)
    query_editor = page.locator(".graphiql-query-editor textarea")
    expect(query_editor).to_have_attribute("aria-label", "Query editor")
    expect(page.locator(".result-window textarea")).to_have_attribute(
        "aria-label", "Response (read-only)"
    )
    check_accessibility(page)
    shoot(page, "workbench")
    # accounts of an enterprise outside the team's case: refused at their path, explained
    run(
        page,
        console_demo,
        f'{{ enterprise(uscc: "{OUTSIDE}") {{ name bankAccounts {{ balance }} }} }}',
    )
    expect(page.locator("#wb-explanations")).to_contain_text("FORBIDDEN_FIELD")
    expect(page.locator("#wb-explanations")).to_contain_text("enterprise.bankAccounts")
    check_accessibility(page)
    assert not [e for e in errors if "script-src" in e or "style-src" in e], errors


def test_graphiql_stays_accessible_as_it_changes(page: Page, console_demo: ConsoleDemo) -> None:
    """GraphiQL re-renders (tabs, the headers editor, the documentation, the dark palette):
    workbench.js and workbench.css keep it passing axe, names in the page's language."""
    sign_in(page, console_demo, "jit.member")
    page.goto(f"{console_demo.url}/console/workbench?lang=zh")
    page.wait_for_selector(".graphiql-execute-button")
    expect(page.locator(".graphiql-query-editor textarea")).to_have_attribute(
        "aria-label", "查询编辑器"
    )
    check_accessibility(page)
    page.click(".graphiql-editor-tools button:has-text('Headers')")
    expect(page.locator(".graphiql-editor-tool .graphiql-editor").nth(1)).to_be_visible()
    expect(
        page.locator(".graphiql-editor-tool .graphiql-editor textarea").nth(1)
    ).to_have_attribute("aria-label", "请求头编辑器（JSON）")
    check_accessibility(page)
    page.click("button[aria-label='Show Documentation Explorer']")
    expect(page.locator(".graphiql-doc-explorer")).to_be_visible()
    check_accessibility(page)
    page.click(".graphiql-tab-add")
    expect(page.locator(".graphiql-tabs > li")).to_have_count(2)
    expect(page.locator(".graphiql-tab-active .graphiql-tab-button")).to_have_attribute(
        "aria-current", "true"
    )
    check_accessibility(page)
    page.emulate_media(color_scheme="dark")
    check_accessibility(page)
