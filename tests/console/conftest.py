"""The console over a test gateway (tests/gateway/conftest.py's harness, with the console
mounted), and signing a demo user in without the browser: a session made in the console's
store exactly as console/auth.py makes one after the identity provider's callback. The
browser tests (tests/console/browser/) sign in for real."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.app import mount
from console.session import SESSION_COOKIE, SessionStore
from console.web import session_data
from gateway.governance import Official
from sandbox.issuer import DEMO_USERS, mint_token
from tests.gateway.conftest import Harness, open_harness

ORIGIN = "http://gateway"  # the harness client's base URL: the console's own origin


@dataclass
class ConsoleHarness:
    harness: Harness

    @property
    def client(self) -> httpx.AsyncClient:
        return self.harness.client

    @property
    def store(self) -> SessionStore:
        for route in self.harness.client._transport.app.routes:  # type: ignore[attr-defined]
            if getattr(route, "path", "") == "/console":
                store: SessionStore = route.app.state.sessions
                return store
        raise LookupError("the console is not mounted")

    def sign_in(self, user: str) -> str:
        """Sign ``user`` in (a session with their real token); returns the CSRF token. The
        client's cookie is replaced: one official at a time."""
        demo = DEMO_USERS[user]
        token = mint_token(user, self.harness.data_dir, client="jointgate-console")
        who = Official(
            demo.subject, demo.agency, frozenset(demo.roles), demo.name, "t", demo.clearance
        )
        data = session_data(who, token, time.time() + 3600)
        session_id = self.store.create(data)
        self.client.cookies.set(SESSION_COOKIE, session_id, path="/console")
        return str(data["csrf"])

    def flash(self) -> dict[str, str]:
        """What the last change said of itself, waiting in the session for the next page
        (console.web.redirect), without taking it."""
        session_id = self.client.cookies.get(SESSION_COOKIE) or ""
        held = self.store.get(session_id) or {}
        return dict(held.get("flash") or {})

    async def post(self, path: str, csrf: str, **form: Any) -> httpx.Response:
        """A change: the form with its CSRF token, from the console's own origin."""
        return await self.client.post(path, data={"csrf": csrf, **form}, headers={"origin": ORIGIN})


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with open_harness(tmp_path, extensions=[mount], policy_shared=True) as harness:
        yield ConsoleHarness(harness)
