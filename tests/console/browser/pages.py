"""What the browser tests of the governance pages share: the demo's scenario and a query made
through the demo's /graphql as an official, before the console is opened."""

from __future__ import annotations

import json
from typing import Any

import httpx

from sandbox.issuer import mint_token
from tests.console.browser.conftest import ConsoleDemo


def scenario(console_demo: ConsoleDemo) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        (console_demo.data_dir / "sandbox" / "scenario.json").read_text(encoding="utf-8")
    )
    return found


def query(
    console_demo: ConsoleDemo, user: str, text: str, variables: dict[str, Any],
    **headers: str,
) -> httpx.Response:  # fmt: skip
    """``text`` through the demo's /graphql as ``user`` with ``headers`` (x-purpose ...)."""
    token = mint_token(user, console_demo.data_dir)
    return httpx.post(
        f"{console_demo.url}/graphql",
        json={"query": text, "variables": variables},
        headers={"authorization": f"Bearer {token}", **headers},
        timeout=30,
    )
