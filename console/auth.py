"""Sign-in by OpenID Connect: authorization code with PKCE (``S256``), through authlib's
Starlette client (docs/console/sign-in.md).

- ``GET /console/auth/login?next=/console/...``: to the identity provider (``[console]
  oidc_discovery_url``, client ``client_id``, a public client, scope ``openid profile``). The
  transaction (state, nonce, PKCE verifier, where to go next) is kept by authlib in
  ``request.session``: under ``/console/auth`` that is the server-side sign-in transaction
  behind the ``SameSite=Lax`` cookie ``jg_console_login`` (console/session.py).
- ``GET /console/auth/callback``: authlib checks the state, redeems the code with the PKCE
  verifier and checks the ID token (signature, ``iss``, ``aud``, ``nonce``); then the ACCESS
  token is verified exactly as the gateway verifies a bearer token (its verifier and keys):
  the principal it names becomes the session's official, in a new session (new id), and the
  sign-in is recorded (``console.sign-in``). The answer is a small page that moves on to
  ``next`` (not a redirect): the session cookie is ``SameSite=Strict``, and the browser's next
  request, made from the console's own page, carries it.

Every failure goes back to the sign-in page with one of :data:`ERRORS` (never an exception's
text), recorded as a refused ``console.sign-in`` when the official is known.
"""

from __future__ import annotations

import logging
import secrets
import warnings
from typing import Any
from urllib.parse import unquote

import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401 - its filter first
import httpx

with warnings.catch_warnings():  # authlib 1.9 warns that its httpx module will move (httpx2)
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.starlette_client import (  # type: ignore[import-untyped]
        OAuth,
        OAuthError,
    )
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from console import session
from console.i18n import messages
from console.web import client_of, console, own_origin, render, session_data
from gateway.governance import Official, governance_record
from kernel.errors import Unauthenticated

log = logging.getLogger("jointgate.console")

CALLBACK = "/console/auth/callback"
NEXT_KEY = "next:"  # + state: where the sign-in started by that state goes on to
CLIENT = "idp"

#: The reasons a sign-in fails, as the sign-in page names them (``?error=``).
ERRORS = ("unconfigured", "unreachable", "state", "denied", "idp", "refused", "unavailable")

messages(
    {
        "auth.error.unconfigured": (
            "未配置身份提供方（[console] oidc_discovery_url）。",
            "no identity provider is configured ([console] oidc_discovery_url).",
        ),
        "auth.error.unreachable": (
            "无法连接身份提供方，请稍后再试。",
            "the identity provider could not be reached; try again later.",
        ),
        "auth.error.state": (
            "登录请求已过期或不匹配，请重新登录。",
            "the sign-in request expired or did not match; sign in again.",
        ),
        "auth.error.denied": (
            "身份提供方拒绝了登录。",
            "the identity provider refused the sign-in.",
        ),
        "auth.error.idp": (
            "身份提供方的应答无效。",
            "the identity provider's answer was not valid.",
        ),
        "auth.error.refused": (
            "网关不接受该访问令牌。",
            "the gateway does not accept the access token.",
        ),
        "auth.error.unavailable": (
            "审计链暂时无法记录登录。",
            "the audit trail could not record the sign-in now.",
        ),
        "auth.continue": ("继续", "Continue"),
        "auth.signed_in": ("已登录，正在打开控制台……", "Signed in; opening the console ..."),
    }
)


def error_key(code: str) -> str | None:
    """The message key of a sign-in error code, or None if ``code`` is not one."""
    return f"auth.error.{code}" if code in ERRORS else None


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path of the console only (never another site, never a
    path that leaves /console/ once the browser resolves its dot segments)."""
    if not target or "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/console/"
    path = target.split("?", 1)[0].split("#", 1)[0]
    segments = unquote(path).split("/")
    if (
        not path.startswith("/console/")
        or "//" in unquote(path)
        or any(segment in (".", "..") for segment in segments)
    ):
        return "/console/"
    return target


def _client(request: Request) -> Any:
    """authlib's client of the configured identity provider, made once per console."""
    found = console(request)
    made = found.extras.get("oauth")
    if made is None:
        settings = found.gateway.settings.console
        oauth = OAuth()
        kwargs: dict[str, Any] = {
            "scope": "openid profile",
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "none",
            "timeout": 10.0,
        }
        transport = found.extras.get("oauth.transport")  # tests: an in-process issuer
        if transport is not None:
            kwargs["transport"] = transport
        oauth.register(
            CLIENT,
            client_id=settings.client_id,
            server_metadata_url=settings.oidc_discovery_url,
            client_kwargs=kwargs,
        )
        made = found.extras["oauth"] = oauth.create_client(CLIENT)
    return made


def redirect_uri(request: Request) -> str:
    public = console(request).gateway.settings.console.public_url
    return (public or own_origin(request)) + CALLBACK


def _fail(code: str) -> Response:
    return RedirectResponse(f"/console/sign-in?error={code}", 303)


async def login(request: Request) -> Response:
    if not console(request).gateway.settings.console.oidc_discovery_url:
        return _fail("unconfigured")
    state = secrets.token_urlsafe(24)
    request.session[NEXT_KEY + state] = safe_next(request.query_params.get("next"))
    try:
        response: Response = await _client(request).authorize_redirect(
            request, redirect_uri(request), state=state
        )
    except (httpx.HTTPError, OAuthError, ValueError, KeyError, RuntimeError) as exc:
        log.warning(
            "console sign-in: the identity provider is unavailable (%s)", type(exc).__name__
        )
        request.session.pop(NEXT_KEY + state, None)
        return _fail("unreachable")
    return response


async def callback(request: Request) -> Response:
    if not console(request).gateway.settings.console.oidc_discovery_url:
        return _fail("unconfigured")
    state = request.query_params.get("state", "")
    target = safe_next(request.session.pop(NEXT_KEY + state, None) if state else None)
    try:
        token = await _client(request).authorize_access_token(request)
    except OAuthError as exc:
        code = {"mismatching_state": "state", "access_denied": "denied"}.get(exc.error, "idp")
        # the error comes from the URL: only a known code is logged, never the text given
        known = exc.error if exc.error in {"mismatching_state", "access_denied"} else "other"
        log.info("console sign-in refused by the identity provider's answer: %s", known)
        return _fail(code)
    except httpx.HTTPError as exc:
        log.warning(
            "console sign-in: the identity provider is unavailable (%s)", type(exc).__name__
        )
        return _fail("unreachable")
    except Exception as exc:  # a bad ID token (signature, iss, aud, nonce, expiry)
        log.info("console sign-in: the ID token was refused (%s)", type(exc).__name__)
        return _fail("idp")
    userinfo = token.get("userinfo") or {}
    subject = str(userinfo.get("sub", ""))
    access = str(token.get("access_token", ""))
    gateway = console(request).gateway
    try:
        principal, expires = await gateway.pipeline.verifier.verify(f"Bearer {access}")
    except Unauthenticated as exc:
        if subject:
            who = Official(subject=subject, agency="", roles=frozenset(), name="")
            await _record(request, who, "refused", f"access token refused: {exc}")
        return _fail("refused")
    if subject and principal.subject != subject:
        who = Official(subject=subject, agency="", roles=frozenset(), name="")
        await _record(request, who, "refused", "the access token names another subject")
        return _fail("refused")
    who = Official.of(principal)
    if not await _record(request, who, "ok", ""):
        return _fail("unavailable")
    old = request.cookies.get(session.SESSION_COOKIE)
    if old:  # a session from before (another official's?) ends: the new one has a new id
        request.app.state.sessions.drop(old)
    session.start(request.scope, session_data(who, access, float(expires)))
    return render(request, "auth_callback.html", next=target)


async def _record(request: Request, who: Official, outcome: str, reason: str) -> bool:
    """Record the sign-in (or its refusal) in the trail; False if the trail cannot take it."""
    entry = governance_record(
        who, "console.sign-in", {}, outcome, reason, client=client_of(request)
    )
    try:
        await console(request).gateway.audit.commit(entry)
    except Exception as exc:
        log.error("console sign-in not recorded in the audit trail (%s)", type(exc).__name__)
        return False
    return True


ROUTES: list[BaseRoute] = [
    Route("/auth/login", login),
    Route("/auth/callback", callback),
]
