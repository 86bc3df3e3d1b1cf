"""What every console page uses: the signed-in official and the roles a page needs, the CSRF
check on every change, rendering in the request's language, and the audit trail.

- :func:`page` wraps a handler that shows something: the official must be signed in (else to
  sign-in) and hold one of the page's roles (else 403, recorded as refused).
- :func:`change` wraps a handler that changes something (POST): the same, and the request's
  ``Origin`` must be the console's own and its form must carry the session's CSRF token.
- :func:`record` appends a governance record of what the official did or read to the trail the
  gateway writes (through ``gateway.audit``, committed before the page is answered);
  :func:`governed` makes a change to the governance database whose record is written before
  its commit, exactly as the command line does (gateway/governance.py).
- :func:`graphql` runs an operation through the gateway's own pipeline as the signed-in
  official (their token, their declared purpose and case): need-to-know, limits and the audit
  record are the API's, not the console's.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from console import i18n
from gateway.app import Gateway
from gateway.governance import NotRecorded, Official, governance_record
from gateway.governance import governed as governed_change
from gateway.graphql_http import serve
from policies.db import Database

T = TypeVar("T")

TEMPLATES = Path(__file__).parent / "templates"
#: The console's Content-Security-Policy: only its own scripts, styles, images and fonts (all
#: shipped in the package: console/static), no inline script or style, no framing, forms and
#: fetches to itself only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none';"
    " base-uri 'none'"
)
#: ``Referrer-Policy: same-origin`` (not the gateway's ``no-referrer``): under ``no-referrer``
#: browsers send ``Origin: null`` with a form's POST, and every change would fail the origin
#: check (:func:`same_origin`); other sites still learn nothing.
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class Page:
    """A page of the console: its path under /console, its title's message key, the roles
    that open it (any one; empty: every signed-in official), its place in the navigation."""

    slug: str
    title: str
    roles: tuple[str, ...] = ()
    order: int = 50

    def opens_for(self, official: Official) -> bool:
        return not self.roles or bool(official.roles & set(self.roles))


@dataclass
class Console:
    """What the console holds, built once beside the gateway (``request.app.state.console``)."""

    gateway: Gateway
    pages: Sequence[Page] = ()
    extras: dict[str, Any] = field(default_factory=dict)  # what a page keeps (auth's client)


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def language(request: Request) -> str:
    return i18n.choose(
        request.cookies.get("lang"),
        request.query_params.get("lang"),
        request.headers.get("accept-language", ""),
    )


def official(request: Request) -> Official | None:
    """The signed-in official, or None."""
    data = request.scope.get("session", {})
    held = data.get("official")
    if not held:
        return None
    if float(data.get("expires_at", 0)) <= time.time():  # the access token has expired:
        return None  # signed out (the token would be refused by the pipeline anyway)
    return Official(
        subject=held["subject"],
        agency=held["agency"],
        roles=frozenset(held["roles"]),
        name=held.get("name", ""),
        token_id=held.get("token_id", ""),
        clearance=int(held.get("clearance", 0)),
    )


def session_data(who: Official, token: str, expires_at: float) -> dict[str, Any]:
    """What a new session holds (console/auth.py starts it after sign-in)."""
    return {
        "official": {
            "subject": who.subject,
            "agency": who.agency,
            "roles": sorted(who.roles),
            "name": who.name,
            "token_id": who.token_id,
            "clearance": who.clearance,
        },
        "token": token,
        "expires_at": expires_at,
        "csrf": secrets.token_urlsafe(32),
    }


def access_token(request: Request) -> str:
    return str(request.scope.get("session", {}).get("token", ""))


def csrf_token(request: Request) -> str:
    return str(request.scope.get("session", {}).get("csrf", ""))


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` in the request's language; every page gets ``t``, ``official``, ``csrf``,
    ``nav`` (the pages this official may open), ``lang`` and ``path``."""
    lang = language(request)
    who = official(request)
    found = console(request)

    def t(key: str, **values: object) -> str:
        return i18n.text(key, lang, **values)

    nav = [p for p in found.pages if who is not None and p.opens_for(who)]
    body = _env.get_template(template).render(
        t=t,
        lang=lang,
        official=who,
        csrf=csrf_token(request),
        nav=nav,
        path=request.url.path,
        here=page_root(request),
        **context,
    )
    response = HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(
            "lang", language(request), max_age=365 * 86400, path="/console", samesite="strict"
        )
    return response


def page_root(request: Request) -> str:
    """Where a GET of this page goes: the path itself for a GET, else its page
    (``/console/review/ID/sign-off`` → ``/console/review``); the sign-in's own paths go to the
    overview. For the language links and for signing in again after a session ended."""
    path = request.url.path
    if path.startswith("/console/auth/"):
        return "/console/"
    if request.method == "GET":
        return path
    parts = path.split("/")
    return "/".join(parts[:3]) if len(parts) > 2 else "/console/"


Handler = Callable[..., Awaitable[Response]]


def page(spec: Page) -> Callable[[Handler], Handler]:
    """A handler of ``spec``: signed in, and holding one of its roles."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            who = official(request)
            if who is None:
                # a change (POST) cannot be replayed after sign-in: back to its page
                query = (
                    f"?{request.url.query}" if request.url.query and request.method == "GET" else ""
                )
                target = page_root(request) + query
                return RedirectResponse(f"/console/sign-in?next={quote(target)}", 303)
            if not spec.opens_for(who):
                reason = f"{spec.slug} needs one of the roles {', '.join(spec.roles)}"
                asked = {"method": request.method, "path": request.url.path}
                await record(request, f"console.{spec.slug}", asked, "refused", reason)
                return render(request, "forbidden.html", 403, needs=", ".join(spec.roles))
            return await handler(request)

        return guarded

    return wrap


def change(spec: Page) -> Callable[[Callable[[Request, FormData], Awaitable[Response]]], Handler]:
    """A POST handler of ``spec`` that changes something: signed in, one of the page's roles,
    the console's own origin and the session's CSRF token (form field ``csrf``). The handler
    is given the form."""

    def wrap(handler: Callable[[Request, FormData], Awaitable[Response]]) -> Handler:
        @page(spec)
        @functools.wraps(handler)
        async def checked(request: Request) -> Response:
            form = await request.form()
            if not same_origin(request) or not csrf_ok(request, form.get("csrf")):
                reason = "not from the console's own page (origin or CSRF token)"
                asked = {"method": request.method, "path": request.url.path}
                await record(request, f"console.{spec.slug}", asked, "refused", reason)
                return render(
                    request, "error.html", 403, message=i18n.text("app.csrf", language(request))
                )
            return await handler(request, form)

        return checked

    return wrap


FLASH = "flash"


def redirect(request: Request, path: str, **flash: str) -> RedirectResponse:
    """303 to ``path`` (Post/Redirect/Get). What the next page says of the change (``flash``)
    is kept in the session for one page, never in the URL: a link cannot make a page claim a
    change that was not made."""
    if flash:
        request.scope["session"][FLASH] = {k: str(v)[:500] for k, v in flash.items()}
    return RedirectResponse(path, 303)


def flashed(request: Request) -> dict[str, str]:
    """What the change before said of itself (:func:`redirect`), once; {} if nothing."""
    found = request.scope.get("session", {}).pop(FLASH, None)
    return dict(found) if isinstance(found, dict) else {}


def same_origin(request: Request) -> bool:
    """The request's ``Origin`` (or, without one, ``Referer``) is the console's own."""
    given = request.headers.get("origin") or request.headers.get("referer")
    if not given:
        return False
    parts = urlsplit(given)
    return f"{parts.scheme}://{parts.netloc}" == own_origin(request)


def own_origin(request: Request) -> str:
    public = console(request).gateway.settings.console.public_url
    if public:
        parts = urlsplit(public)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.url.scheme}://{request.url.netloc}"


def csrf_ok(request: Request, given: object) -> bool:
    expected = csrf_token(request)
    if not expected or not isinstance(given, str):
        return False
    # bytes: compare_digest refuses non-ASCII text (a 500 where a 403 is due)
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def csrf_header_ok(request: Request) -> bool:
    """For the console's JSON calls (the workbench): ``X-CSRF-Token`` and the same origin."""
    return same_origin(request) and csrf_ok(request, request.headers.get("x-csrf-token"))


def client_of(request: Request) -> str:
    return f"console@{request.client.host if request.client else '-'}"


async def record(
    request: Request,
    action: str,
    details: Mapping[str, Any],
    outcome: str = "ok",
    reason: str = "",
) -> None:
    """Append the record of what the signed-in official did or read (before it is shown);
    raises NotRecorded if the trail cannot take it (the page then shows nothing)."""
    who = official(request)
    if who is None:
        return
    entry = governance_record(who, action, details, outcome, reason, client=client_of(request))
    try:
        await console(request).gateway.audit.commit(entry)
    except Exception as exc:
        raise NotRecorded(f"cannot record {action} in the audit trail: {exc}") from None


async def governed(
    request: Request,
    action: str,
    details: dict[str, Any],
    make: Callable[[Database], T],
    refusals: tuple[type[Exception], ...] = (ValueError,),
) -> T:
    """``make(db)`` changes the governance database in a worker thread, its record written to
    the trail before the commit (refused and failed changes recorded too; gateway/governance.py).
    ``details`` may be filled in by ``make`` before its change commits (a new proposal's id)."""
    who = official(request)
    assert who is not None
    loop = asyncio.get_running_loop()
    trail = console(request).gateway.audit
    client = client_of(request)

    def append(outcome: str, reason: str) -> None:
        entry = governance_record(who, action, details, outcome, reason, client=client)
        try:
            asyncio.run_coroutine_threadsafe(trail.commit(entry), loop).result(timeout=30)
        except Exception as exc:
            raise NotRecorded(f"cannot record {action} in the audit trail: {exc}") from None

    def run() -> T:
        db = Database(console(request).gateway.settings.governance_url)
        try:
            with governed_change(db, append, action, refusals):
                return make(db)
        finally:
            db.close()

    return await asyncio.to_thread(run)


async def graphql(
    request: Request,
    query: str,
    variables: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of ``query`` run through the gateway's pipeline as the
    signed-in official, with ``headers`` (``x-purpose``, ``x-case-id`` ...) beside their token."""
    body = orjson.dumps({"query": query, "variables": dict(variables or {})})
    status, raw = await forward(request, body, headers or {})
    return status, orjson.loads(raw)


async def forward(request: Request, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    """A POST to ``/graphql`` with ``body``, answered in-process by the pipeline."""
    pipeline = console(request).gateway.pipeline
    sent = [
        (b"authorization", f"Bearer {access_token(request)}".encode("latin-1")),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode("latin-1"), v.encode("utf-8")) for k, v in headers.items()),
    ]
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": request.url.scheme,
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": sent,
        "client": request.scope.get("client"),
        "server": request.scope.get("server"),
        "app": request.scope.get("app"),
    }
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    inner = Request(scope, receive)
    response = await serve(inner, pipeline.handle, pipeline.http, pipeline.request_timeout_s)
    return response.status_code, bytes(response.body)
