"""HTTP hardening around every endpoint: security headers and the CORS allowlist.

Two ASGI middlewares, built from the ``[gateway]`` settings by :func:`http_middleware` and
installed in ``gateway/app.py``, outermost first:

- :class:`SecurityHeaders` puts on every response ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer``, ``Content-Security-Policy: default-src 'none'``,
  ``X-Frame-Options: DENY`` and ``Cache-Control: no-store`` (answers hold personal data and
  differ per caller), plus ``Strict-Transport-Security`` when ``gateway.hsts_max_age_s`` is set.
- :class:`CrossOrigin` answers CORS preflights and marks responses for the origins in
  ``gateway.cors_allowed_origins`` only; by default the list is empty, so no browser page on
  another origin can call the gateway. Every call needs ``Authorization`` and ``X-Purpose``
  headers, so a browser must preflight it; refused preflights get 403. The gateway never reads
  cookies; ``Access-Control-Allow-Credentials`` is sent only with
  ``gateway.cors_allow_credentials`` and only to allowlisted origins.

The request body and JSON limits are applied where the body is read (gateway/graphql_http.py),
the request timeout in the pipeline (gateway/pipeline.py), so that both leave an audit record.
"""

from __future__ import annotations

from collections.abc import Collection

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.settings import Settings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
CORS_METHODS = ("GET", "POST")
CORS_REQUEST_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "traceparent",
    "tracestate",
    "x-purpose",
    "x-case-id",
    "x-justification",
    "x-break-glass",
)
CORS_EXPOSED_HEADERS = "X-Request-Id, WWW-Authenticate, Retry-After"
CORS_MAX_AGE_S = 600


def http_middleware(settings: Settings) -> list[Middleware]:
    return [
        Middleware(SecurityHeaders, hsts_max_age_s=settings.hsts_max_age_s),
        Middleware(
            CrossOrigin,
            origins=settings.cors_allowed_origins,
            credentials=settings.cors_allow_credentials,
        ),
    ]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, hsts_max_age_s: int = 0) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if hsts_max_age_s:
            self.headers["Strict-Transport-Security"] = (
                f"max-age={hsts_max_age_s}; includeSubDomains"
            )
        self._raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # raw pairs, one pass: MutableHeaders decoded and scanned the list per header
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _ in headers}
                headers.extend(pair for pair in self._raw if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CrossOrigin:
    """CORS for an allowlist of origins (``https://app.agency.example``, no path)."""

    def __init__(self, app: ASGIApp, origins: Collection[str], credentials: bool = False) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in request_headers:
            await self._preflight(origin, request_headers)(scope, receive, send)
            return
        allowed = origin in self.origins

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.add_vary_header("Origin")
                if allowed:
                    headers.update(self._allow(origin))
                    headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
            await send(message)

        await self.app(scope, receive, send_marked)

    def _preflight(self, origin: str, request_headers: Headers) -> Response:
        method = request_headers["access-control-request-method"].strip().upper()
        asked = request_headers.get("access-control-request-headers", "")
        unknown = sorted({h.strip().lower() for h in asked.split(",") if h.strip()}.difference(
            CORS_REQUEST_HEADERS
        ))  # fmt: skip
        if origin not in self.origins:
            return _refused(
                "Cross-origin requests from this origin are not allowed"
                " (setting gateway.cors_allowed_origins)."
            )
        if method not in CORS_METHODS:
            return _refused(f"Cross-origin requests may use {' or '.join(CORS_METHODS)} only.")
        if unknown:
            return _refused(f"Cross-origin requests may not send the header {unknown[0]}.")
        headers = self._allow(origin) | {
            "Access-Control-Allow-Methods": ", ".join(CORS_METHODS),
            "Access-Control-Allow-Headers": ", ".join(CORS_REQUEST_HEADERS),
            "Access-Control-Max-Age": str(CORS_MAX_AGE_S),
            "Vary": "Origin",
        }
        return Response(status_code=204, headers=headers)

    def _allow(self, origin: str) -> dict[str, str]:
        headers = {"Access-Control-Allow-Origin": origin}
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers


def _refused(message: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
    return Response(
        orjson.dumps(body),
        status_code=403,
        media_type="application/json",
        headers={"Vary": "Origin"},
    )
