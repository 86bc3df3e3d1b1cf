"""The console in a real browser: ``jointgate demo`` (with its issuer's OpenID Connect
endpoints) on a free port, and Debian's Chromium driven by Playwright (sync API).

- ``console_demo`` (session): the running demo; ``.url`` (``http://127.0.0.1:PORT``) and
  ``.data_dir``.
- ``page`` (function): a Playwright page in a fresh context (no cookies), 1280x900.

A missing /usr/bin/chromium FAILS the tests (``make test`` installs it:
scripts/ensure-services.sh); it is never a reason to skip them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.demo_process import free_port, start_demo, wait_until_up

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 900}


@dataclass(frozen=True)
class ConsoleDemo:
    url: str  # http://127.0.0.1:PORT
    data_dir: Path


@pytest.fixture(scope="session")
def console_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleDemo]:
    data_dir = tmp_path_factory.mktemp("console-demo")
    port = free_port()
    process = start_demo(data_dir, port, "0.05")
    try:
        wait_until_up(process, data_dir, port)
        yield ConsoleDemo(f"http://127.0.0.1:{port}", data_dir)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except Exception:
                process.kill()
                process.wait()


# Playwright's sync API holds its own event loop while it runs: kept per module (not per
# session), it is stopped before the asynchronous tests of the next module need theirs.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM} is missing): the console's browser tests"
            " need it. `make test` installs it (scripts/ensure-services.sh), or run"
            " `sudo apt-get install chromium fonts-noto-cjk`.",
            pytrace=False,
        )
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
    )
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()
