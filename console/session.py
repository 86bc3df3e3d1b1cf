"""Server-side console sessions behind a cookie that carries only a random id.

The session cookie (``jg_console``) is ``HttpOnly``, ``SameSite=Strict``, ``Path=/console`` and
``Secure`` whenever the console is reached over TLS (``console.public_url`` says ``https``, or
the request came over it). What a session holds (the official, their access token, the CSRF
token) stays in the gateway's memory: the browser never sees the token.

Sign-in needs a second, short-lived cookie: the identity provider sends the browser back to
``/console/auth/callback`` from another site, and a ``Strict`` cookie is not sent on such a
navigation. The sign-in transaction (authlib's state, nonce and PKCE verifier) is therefore
kept under ``jg_console_login`` (``SameSite=Lax``, ``Path=/console/auth``, ten minutes), and
the callback starts a *new* session with a new id (nothing chosen before sign-in survives it).

Sessions end ``session_ttl_s`` after sign-in or ``session_idle_s`` after the last request, and
at sign-out. They live in this process: behind several replicas, route a browser to one
(sticky sessions), or it signs in again where it lands (docs/console.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "jg_console"
LOGIN_COOKIE = "jg_console_login"
LOGIN_PATH = "/console/auth"
LOGIN_TTL_S = 600.0
MAX_SESSIONS = 20_000  # the oldest are dropped beyond this (memory stays bounded)
MAX_LOGINS = 5_000  # sign-ins under way: a store of their own, so a flood of them (anyone may
# start one) drops only the oldest unfinished sign-ins, never a signed-in official's session


@dataclass
class Entry:
    data: dict[str, Any]
    created: float
    seen: float
    ttl_s: float


@dataclass
class SessionStore:
    ttl_s: float
    idle_s: float
    limit: int = MAX_SESSIONS
    _entries: OrderedDict[str, Entry] = field(default_factory=OrderedDict)

    @staticmethod
    def _key(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    def get(self, session_id: str, now: float | None = None) -> dict[str, Any] | None:
        now = time.time() if now is None else now
        key = self._key(session_id)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now - entry.created > entry.ttl_s or now - entry.seen > self.idle_s:
            del self._entries[key]
            return None
        entry.seen = now
        self._entries.move_to_end(key)
        return entry.data

    def create(self, data: dict[str, Any], ttl_s: float | None = None) -> str:
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        self._entries[self._key(session_id)] = Entry(data, now, now, ttl_s or self.ttl_s)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        return session_id

    def drop(self, session_id: str) -> None:
        self._entries.pop(self._key(session_id), None)

    def __len__(self) -> int:
        return len(self._entries)


class Sessions:
    """ASGI middleware: ``scope["session"]`` is the request's session (the sign-in transaction
    under ``/console/auth``); :func:`start` and :func:`end` replace or drop it."""

    def __init__(self, app: ASGIApp, store: SessionStore, secure: bool | None = None) -> None:
        self.app = app
        self.store = store
        self.logins = SessionStore(LOGIN_TTL_S, LOGIN_TTL_S, MAX_LOGINS)
        self.secure = secure  # None: by the request's scheme

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        login = scope["path"].startswith(LOGIN_PATH + "/")
        name = LOGIN_COOKIE if login else SESSION_COOKIE
        given = cookies.get(name, "")
        kept = self.logins if login else self.store
        data = kept.get(given) if given else None
        known = data is not None
        session: dict[str, Any] = data if data is not None else {}
        scope["session"] = session
        scope["console.session_id"] = given if known else ""
        secure = self.secure if self.secure is not None else scope.get("scheme") == "https"

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if scope.get("console.end"):
                    if given:
                        kept.drop(given)
                    headers.append(_set_cookie(SESSION_COOKIE, "", "/console", 0, secure, "Strict"))
                started = scope.get("console.start")
                if started is not None:
                    if given:
                        kept.drop(given)  # the sign-in transaction, or the old session
                    new_id = self.store.create(started)
                    max_age = int(self.store.ttl_s)
                    headers.append(
                        _set_cookie(SESSION_COOKIE, new_id, "/console", max_age, secure, "Strict")
                    )
                    if login:
                        headers.append(_set_cookie(LOGIN_COOKIE, "", LOGIN_PATH, 0, secure, "Lax"))
                elif login and session and not known:  # a sign-in transaction begins
                    new_id = self.logins.create(session)
                    headers.append(
                        _set_cookie(
                            LOGIN_COOKIE, new_id, LOGIN_PATH, int(LOGIN_TTL_S), secure, "Lax"
                        )
                    )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cookies)


def start(scope: Scope, data: dict[str, Any]) -> None:
    """Begin a new session holding ``data`` with a new id when the response starts."""
    scope["console.start"] = data


def end(scope: Scope) -> None:
    """Drop the request's session and clear its cookie when the response starts."""
    scope["console.end"] = True


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            with contextlib.suppress(Exception):  # a malformed cookie header: as if none
                jar.load(value.decode("latin-1"))
    return {key: morsel.value for key, morsel in jar.items()}


def _set_cookie(
    name: str, value: str, path: str, max_age: int, secure: bool, same_site: str
) -> tuple[bytes, bytes]:
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly"]
    parts.append(f"SameSite={same_site}")
    if secure:
        parts.append("Secure")
    return b"set-cookie", "; ".join(parts).encode("latin-1")
