"""The demo issuer's OpenID Connect endpoints: how the console's sign-in reaches a real
identity provider in ``jointgate demo`` (docs/console/sign-in.md).

A small Starlette app served by the sandbox process on its own port (``ports.json`` key
``issuer``). It signs with the demo issuer's keys (sandbox/issuer.py) and knows one public
client, ``jointgate-console``, with the redirect URIs it was started with
(``jointgate sandbox --console-redirect URI``):

- ``GET /.well-known/openid-configuration``: the discovery document (issuer
  :data:`~sandbox.issuer.DEMO_ISSUER`, endpoints at this server's own URL);
- ``GET /jwks.json``: the public keys;
- ``GET /authorize``: the login form (Chinese and English); ``POST /authorize`` checks a demo
  user and :data:`~sandbox.issuer.DEMO_PASSWORD` and redirects back with a one-time code
  (60 s; bound to the client, the redirect URI, the PKCE ``S256`` challenge and the nonce);
- ``POST /token``: the code and its PKCE verifier for an access token exactly like
  :func:`~sandbox.issuer.mint_token`'s (the gateway verifies it as any bearer token) and an
  ID token (``aud`` the client, ``nonce``).

Errors follow RFC 6749: JSON ``{"error": ...}`` from the token endpoint, ``error=`` on the
redirect from the authorization endpoint once the client and its redirect URI are known (an
unknown client or redirect URI gets a page, never a redirect).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from joserfc import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.issuer import (
    DEMO_ISSUER,
    DEMO_PASSWORD,
    DEMO_USERS,
    load_keys,
    mint_token,
    public_keys,
)

CONSOLE_CLIENT = "jointgate-console"
CODE_TTL_S = 60.0
ACCESS_TTL_S = 8 * 3600
ID_TOKEN_TTL_S = 600
MAX_CODES = 10_000

# What the login form carries over from the authorization request (hidden fields).
CARRIED = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "lang",
)

_TEXT = {
    "title": ("JointGate 演示身份提供方", "JointGate demo identity provider"),
    "heading": ("登录", "Sign in"),
    "intro": (
        "演示用户：任一演示用户名（如 policy.admin），密码 jointgate-demo。",
        "Demo users: any demo user name (such as policy.admin), password jointgate-demo.",
    ),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "submit": ("登录", "Sign in"),
    "failed": ("用户名或密码不正确。", "The user name or password is not correct."),
    "bad_client": (
        "登录请求无效：未知的客户端或回调地址。",
        "The sign-in request is not valid: unknown client or redirect URI.",
    ),
}


@dataclass(frozen=True, slots=True)
class Grant:
    user: str
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    expires: float


class Issuer:
    """The issuer's state: its keys' data dir, its clients and the codes not yet used."""

    def __init__(
        self,
        data_dir: Path,
        redirect_uris: Sequence[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.data_dir = data_dir
        self.clients: dict[str, frozenset[str]] = {CONSOLE_CLIENT: frozenset(redirect_uris)}
        self.clock = clock
        self.codes: dict[str, Grant] = {}

    def issue(self, grant: Grant) -> str:
        now = self.clock()
        for code in [c for c, g in self.codes.items() if g.expires < now]:
            del self.codes[code]
        while len(self.codes) >= MAX_CODES:
            del self.codes[next(iter(self.codes))]
        code = secrets.token_urlsafe(32)
        self.codes[code] = grant
        return code

    def redeem(self, code: str) -> Grant | None:
        """The code's grant, once (a second use finds nothing); None if unknown or expired."""
        grant = self.codes.pop(code, None)
        if grant is None or grant.expires < self.clock():
            return None
        return grant


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _lang(request: Request, given: str | None = None) -> str:
    chosen = given or request.query_params.get("lang")
    if chosen in ("zh", "en"):
        return str(chosen)
    accept = request.headers.get("accept-language", "").lower()
    for part in accept.split(","):
        tag = part.split(";")[0].strip()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"


def _t(key: str, lang: str) -> str:
    zh, en = _TEXT[key]
    return en if lang == "en" else zh


def create_app(
    data_dir: Path,
    redirect_uris: Sequence[str],
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The issuer over the demo keys in ``data_dir`` (created there if missing), the console
    client registered with ``redirect_uris``."""
    public_keys(data_dir)  # creates the key set on first use (the demo has made it already)
    issuer = Issuer(data_dir, redirect_uris, clock)
    targets = sorted({_origin(u) for u in redirect_uris})
    # the login form posts here, and its answer redirects to a registered client's origin
    csp = (
        "default-src 'none'; style-src 'self'; img-src 'self';"
        f" form-action 'self' {' '.join(targets)}; frame-ancestors 'none'; base-uri 'none'"
    ).replace("  ", " ")
    headers = {"Content-Security-Policy": csp, "Cache-Control": "no-store"}

    async def discovery(request: Request) -> Response:
        base = _base(request)
        return JSONResponse(
            {
                "issuer": DEMO_ISSUER,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks.json",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "scopes_supported": ["openid", "profile"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
                "claims_supported": ["sub", "name", "iss", "aud", "exp", "iat", "nonce"],
            }
        )

    async def jwks(request: Request) -> Response:
        return JSONResponse(public_keys(data_dir).as_dict(private=False))

    def form_page(params: dict[str, str], lang: str, error: bool, status: int = 200) -> Response:
        hidden = "\n".join(
            f'<input type="hidden" name="{name}" value="{escape(params.get(name, ""))}">'
            for name in CARRIED
            if name != "lang"
        )
        alert = f'<p role="alert" class="error">{_t("failed", lang)}</p>' if error else ""
        body = f"""<!doctype html>
<html lang="{"en" if lang == "en" else "zh-CN"}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_t("title", lang)}</title></head>
<body>
<main>
<h1>{_t("heading", lang)}</h1>
<p>{_t("title", lang)}</p>
{alert}
<p>{_t("intro", lang)}</p>
<form method="post" action="/authorize">
{hidden}
<input type="hidden" name="lang" value="{lang}">
<p><label for="username">{_t("username", lang)}</label>
<input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">{_t("password", lang)}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">{_t("submit", lang)}</button></p>
</form>
</main>
</body>
</html>
"""
        return HTMLResponse(body, status_code=status, headers=headers)

    def refuse_page(lang: str) -> Response:
        body = f"""<!doctype html>
<html lang="{"en" if lang == "en" else "zh-CN"}">
<head><meta charset="utf-8"><title>{_t("title", lang)}</title></head>
<body><main><h1>{_t("title", lang)}</h1><p role="alert">{_t("bad_client", lang)}</p></main>
</body></html>
"""
        return HTMLResponse(body, status_code=400, headers=headers)

    def back(redirect_uri: str, **params: str) -> Response:
        sep = "&" if "?" in redirect_uri else "?"
        query = urlencode({k: v for k, v in params.items() if v})
        return RedirectResponse(f"{redirect_uri}{sep}{query}", 303, headers=headers)

    def check_request(params: dict[str, str]) -> Response | None:
        """None if the authorization request is acceptable, else the answer refusing it."""
        if params.get("response_type") != "code":
            return back(params["redirect_uri"], error="unsupported_response_type",
                        state=params.get("state", ""))  # fmt: skip
        if not params.get("code_challenge") or params.get("code_challenge_method") != "S256":
            return back(
                params["redirect_uri"],
                error="invalid_request",
                error_description="PKCE with code_challenge_method S256 is required",
                state=params.get("state", ""),
            )
        return None

    def known_client(params: dict[str, str]) -> bool:
        registered = issuer.clients.get(params.get("client_id", ""))
        return registered is not None and params.get("redirect_uri", "") in registered

    async def authorize(request: Request) -> Response:
        if request.method == "GET":
            params = {k: request.query_params.get(k, "") for k in CARRIED}
            lang = _lang(request, params.get("lang"))
            if not known_client(params):
                return refuse_page(lang)
            refused = check_request(params)
            return refused or form_page(params, lang, error=False)
        form = await request.form()
        params = {k: str(form.get(k, "")) for k in CARRIED}
        lang = _lang(request, params.get("lang"))
        if not known_client(params):
            return refuse_page(lang)
        refused = check_request(params)
        if refused is not None:
            return refused
        user = str(form.get("username", ""))
        password = str(form.get("password", ""))
        good_password = hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode())
        if not (user in DEMO_USERS and good_password):
            return form_page(params, lang, error=True, status=401)
        code = issuer.issue(
            Grant(
                user=user,
                client_id=params["client_id"],
                redirect_uri=params["redirect_uri"],
                challenge=params["code_challenge"],
                nonce=params.get("nonce", ""),
                expires=issuer.clock() + CODE_TTL_S,
            )
        )
        return back(params["redirect_uri"], code=code, state=params.get("state", ""))

    async def token(request: Request) -> Response:
        form = await request.form()
        given = {k: str(v) for k, v in form.items()}
        client_id = given.get("client_id", "") or _basic_client(request)
        if given.get("grant_type") != "authorization_code":
            return _error("unsupported_grant_type")
        if client_id not in issuer.clients:
            return _error("invalid_client", 401)
        code, verifier = given.get("code", ""), given.get("code_verifier", "")
        if not code or not verifier:
            return _error("invalid_request", description="code and code_verifier are required")
        grant = issuer.redeem(code)
        if grant is None:
            return _error("invalid_grant", description="the code is unknown, used or expired")
        if grant.client_id != client_id or grant.redirect_uri != given.get("redirect_uri"):
            return _error("invalid_grant", description="the code was issued to another client")
        if not hmac.compare_digest(s256(verifier), grant.challenge):
            return _error("invalid_grant", description="the PKCE code_verifier does not match")
        now = issuer.clock()
        access = mint_token(grant.user, data_dir, ttl_s=ACCESS_TTL_S, now=now, client=client_id)
        keyset = load_keys(data_dir)
        key = keyset.keys[0]
        demo = DEMO_USERS[grant.user]
        claims = {
            "iss": DEMO_ISSUER,
            "aud": client_id,
            "azp": client_id,
            "sub": demo.subject,
            "name": demo.name,
            "iat": int(now),
            "exp": int(now) + ID_TOKEN_TTL_S,
            "auth_time": int(now),
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        id_token = jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims, keyset)
        return JSONResponse(
            {
                "access_token": access,
                "id_token": id_token,
                "token_type": "Bearer",
                "expires_in": ACCESS_TTL_S,
                "scope": "openid profile",
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    app = Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks.json", jwks),
            Route("/authorize", authorize, methods=["GET", "POST"]),
            Route("/token", token, methods=["POST"]),
        ]
    )
    app.state.issuer = issuer
    return app


def _error(code: str, status: int = 400, description: str = "") -> Response:
    body = {"error": code, **({"error_description": description} if description else {})}
    return JSONResponse(body, status, headers={"Cache-Control": "no-store"})


def _basic_client(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(value).decode()
    except ValueError:
        return ""
    return decoded.partition(":")[0]


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"
