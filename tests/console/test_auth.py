"""Sign-in by OpenID Connect (console/auth.py), server-side: the console over a test gateway
and the demo issuer's endpoints (sandbox/oidc.py) in-process, reached by authlib through an
ASGI transport; the browser test (browser/test_sign_in.py) does the same over real sockets."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from console import auth
from console.app import mount
from console.session import LOGIN_COOKIE, SESSION_COOKIE
from console.web import session_data
from gateway.console_settings import ConsoleSettings
from gateway.governance import Official
from sandbox import oidc
from sandbox.issuer import DEMO_PASSWORD
from tests.console.conftest import ConsoleHarness
from tests.gateway.conftest import open_harness

ISSUER = "http://127.0.0.1:9"  # never dialled: authlib reaches the issuer in-process
CALLBACK = "http://gateway/console/auth/callback"


class Signing:
    """The console with an issuer: each step of the code flow, as a browser would go."""

    def __init__(self, console: ConsoleHarness, issuer: Starlette) -> None:
        self.console = console
        self.issuer = httpx.AsyncClient(transport=httpx.ASGITransport(app=issuer), base_url=ISSUER)

    @property
    def client(self) -> httpx.AsyncClient:
        return self.console.client

    async def start(self, next_: str = "/console/") -> dict[str, str]:
        """``/console/auth/login``: the authorization request's parameters."""
        response = await self.client.get("/console/auth/login", params={"next": next_})
        assert response.status_code == 302, response.text
        location = urlsplit(response.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSUER}/authorize"
        return {k: v[0] for k, v in parse_qs(location.query).items()}

    async def log_in(self, params: dict[str, str], user: str) -> str:
        """The issuer's login form; returns the callback URL it redirects to."""
        answer = await self.issuer.post(
            "/authorize", data={**params, "username": user, "password": DEMO_PASSWORD}
        )
        assert answer.status_code == 303, answer.text
        return str(answer.headers["location"])

    async def sign_in(self, user: str, next_: str = "/console/") -> httpx.Response:
        callback = await self.log_in(await self.start(next_), user)
        return await self.client.get(callback)


def console_app(console: ConsoleHarness) -> Any:
    for route in console.client._transport.app.routes:  # type: ignore[attr-defined]
        if getattr(route, "path", "") == "/console":
            return route.app
    raise LookupError("the console is not mounted")


async def signing(tmp_path: Path, issuer_dir: Path | None = None) -> AsyncIterator[Signing]:
    settings = ConsoleSettings(oidc_discovery_url=f"{ISSUER}/.well-known/openid-configuration")
    async with open_harness(
        tmp_path, extensions=[mount], policy_shared=True, console=settings
    ) as harness:
        issuer = oidc.create_app(issuer_dir or tmp_path, [CALLBACK])
        console = ConsoleHarness(harness)
        extras = console_app(console).state.console.extras
        extras["oauth.transport"] = httpx.ASGITransport(app=issuer)
        found = Signing(console, issuer)
        async with found.issuer:
            yield found


@pytest.fixture
async def idp(tmp_path: Path) -> AsyncIterator[Signing]:
    async for found in signing(tmp_path):
        yield found


@pytest.fixture
async def foreign_idp(tmp_path: Path) -> AsyncIterator[Signing]:
    """An issuer whose keys the gateway does not trust (another data dir's)."""
    other = tmp_path / "other-issuer"
    other.mkdir()
    async for found in signing(tmp_path / "gateway", other):
        yield found


def sign_ins(console: ConsoleHarness) -> list[Any]:
    return [r for r in console.harness.audit.records if r.operation_name == "console.sign-in"]


async def test_sign_in_starts_a_session_and_records_it(idp: Signing) -> None:
    page = await idp.sign_in("policy.admin", "/console/?lang=en")
    assert page.status_code == 200, page.text
    # a page, not a redirect: the Strict cookie rides on the browser's next, same-site request
    assert '<meta http-equiv="refresh" content="0;url=/console/?lang=en">' in page.text
    assert "script" not in page.text.split("</head>")[0].replace("script-src", "")
    cookies = page.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/console" in session
    assert any(c.startswith(f"{LOGIN_COOKIE}=;") for c in cookies)  # the transaction is over
    home = await idp.client.get("/console/?lang=en")
    assert home.status_code == 200
    assert 'data-subject="policy.admin"' in home.text and "赵磊" in home.text
    [record] = sign_ins(idp.console)
    assert record.subject == "policy.admin" and record.outcome == "ok"
    assert record.roles == ("policy-admin",)
    assert record.client.startswith("console@")


async def test_the_session_holds_the_verified_access_token(idp: Signing) -> None:
    await idp.sign_in("auditor")
    [data] = [e.data for e in idp.console.store._entries.values() if "official" in e.data]
    assert data["official"]["subject"] == "auditor"
    assert data["token"].count(".") == 2
    assert time.time() < data["expires_at"] <= time.time() + 8 * 3600 + 5
    principal = await idp.console.harness.gateway.pipeline.verifier.authenticate(
        f"Bearer {data['token']}"
    )
    assert principal.subject == "auditor"


async def test_sign_in_gives_a_new_session_id(idp: Signing) -> None:
    def session_id(response: httpx.Response) -> str:
        for cookie in response.headers.get_list("set-cookie"):
            if cookie.startswith(f"{SESSION_COOKIE}="):
                return cookie.split(";")[0].split("=", 1)[1]
        raise AssertionError("no session cookie")

    before = session_id(await idp.sign_in("auditor"))
    assert idp.console.store.get(before) is not None
    after = session_id(await idp.sign_in("policy.admin"))
    assert after and after != before
    assert idp.console.store.get(before) is None  # the old session is gone
    home = await idp.client.get("/console/")
    assert 'data-subject="policy.admin"' in home.text


async def test_a_state_that_does_not_match_is_refused(idp: Signing) -> None:
    params = await idp.start()
    callback = await idp.log_in({**params, "state": "forged"}, "policy.admin")
    refused = await idp.client.get(callback)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/console/sign-in?error=state"
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert (await idp.client.get("/console/")).status_code == 303
    page = await idp.client.get("/console/sign-in?error=state&lang=en")
    assert "sign in again" in page.text
    assert sign_ins(idp.console) == []


async def test_a_callback_without_a_transaction_is_refused(idp: Signing) -> None:
    params = await idp.start()
    callback = await idp.log_in(params, "policy.admin")
    idp.client.cookies.delete(LOGIN_COOKIE, path="/console/auth")
    refused = await idp.client.get(callback)
    assert refused.headers["location"] == "/console/sign-in?error=state"


async def test_an_error_from_the_identity_provider_is_shown_as_a_fixed_message(
    idp: Signing,
) -> None:
    params = await idp.start()
    refused = await idp.client.get(
        "/console/auth/callback", params={"error": "access_denied", "state": params["state"]}
    )
    assert refused.headers["location"] == "/console/sign-in?error=denied"
    page = await idp.client.get("/console/sign-in?error=<script>alert(1)</script>")
    assert "alert(1)" not in page.text and "<script>" not in page.text


async def test_a_token_the_gateway_would_refuse_is_refused(foreign_idp: Signing) -> None:
    refused = await foreign_idp.sign_in("policy.admin")
    assert refused.status_code == 303
    assert refused.headers["location"] == "/console/sign-in?error=refused"
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert (await foreign_idp.client.get("/console/")).status_code == 303
    [record] = sign_ins(foreign_idp.console)
    assert record.subject == "policy.admin" and record.outcome == "refused"


@pytest.mark.parametrize(
    "given",
    ["https://evil.example/console/", "//evil.example/console/", "/elsewhere", "/console\\..",
     "javascript:alert(1)"],
)  # fmt: skip
async def test_next_cannot_leave_the_console(idp: Signing, given: str) -> None:
    page = await idp.sign_in("policy.admin", given)
    assert page.status_code == 200
    assert 'content="0;url=/console/"' in page.text
    assert "evil" not in page.text and "javascript" not in page.text


def test_safe_next() -> None:
    assert auth.safe_next("/console/policies?x=1") == "/console/policies?x=1"
    for bad in (None, "", "/console", "//x/console/", "/console/\\x", "/console/\n", "http://x"):
        assert auth.safe_next(bad) == "/console/"
    # dot segments the browser would resolve out of /console/, encoded or not (a review found
    # /console/../graphql and /console/..//evil.example/ accepted)
    for bad in (
        "/console/../graphql",
        "/console/..//evil.example/",
        "/console/%2e%2e/graphql",
        "/console/.%2E/x",
        "/console/a/../../metrics",
        "/console//evil",
        "/console/%2F/x",
    ):
        assert auth.safe_next(bad) == "/console/", bad


async def test_without_an_identity_provider_sign_in_says_so(console: ConsoleHarness) -> None:
    refused = await console.client.get("/console/auth/login")
    assert refused.headers["location"] == "/console/sign-in?error=unconfigured"
    page = await console.client.get(refused.headers["location"] + "&lang=en")
    assert "no identity provider is configured" in page.text


async def test_an_unreachable_identity_provider_is_a_clear_message(idp: Signing) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    extras = console_app(idp.console).state.console.extras
    extras.pop("oauth", None)
    extras["oauth.transport"] = httpx.MockTransport(down)
    refused = await idp.client.get("/console/auth/login")
    assert refused.headers["location"] == "/console/sign-in?error=unreachable"
    page = await idp.client.get("/console/sign-in?error=unreachable&lang=en")
    assert "could not be reached" in page.text and "refused" not in page.text


async def test_a_session_ends_when_its_access_token_expires(console: ConsoleHarness) -> None:
    console.sign_in("auditor")
    assert (await console.client.get("/console/")).status_code == 200
    who = Official("auditor", "office", frozenset({"auditor"}), "孙丽")
    session_id = console.store.create(session_data(who, "expired", time.time() - 1))
    console.client.cookies.set(SESSION_COOKIE, session_id, path="/console")
    assert (await console.client.get("/console/")).status_code == 303
