"""The demo issuer's OpenID Connect endpoints (sandbox/oidc.py): discovery, the authorization
code flow with PKCE, and what it refuses."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.authn import AuthSettings, TokenVerifier
from sandbox import oidc
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, DEMO_PASSWORD, public_keys

BASE = "http://127.0.0.1:9400"
REDIRECT = "http://127.0.0.1:8400/console/auth/callback"
CLIENT = "jointgate-console"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def issuer(tmp_path: Path, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    app = oidc.create_app(tmp_path, [REDIRECT], clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


def request_params(verifier: str, **overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "s-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4),
        "code_challenge": oidc.s256(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return params


async def authorize(
    client: httpx.AsyncClient,
    verifier: str,
    user: str = "policy.admin",
    password: str = DEMO_PASSWORD,
    **overrides: str,
) -> httpx.Response:
    params = request_params(verifier, **overrides)
    return await client.post("/authorize", data={**params, "username": user, "password": password})


def code_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query["code"][0]


async def redeem(
    client: httpx.AsyncClient, code: str, verifier: str, **overrides: str
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": CLIENT,
        "code_verifier": verifier,
        **overrides,
    }
    return await client.post("/token", data=form)


async def test_discovery_names_the_endpoints_at_the_servers_own_url(
    issuer: httpx.AsyncClient,
) -> None:
    found = (await issuer.get("/.well-known/openid-configuration")).json()
    assert found["issuer"] == DEMO_ISSUER
    assert found["authorization_endpoint"] == f"{BASE}/authorize"
    assert found["token_endpoint"] == f"{BASE}/token"
    assert found["jwks_uri"] == f"{BASE}/jwks.json"
    assert found["code_challenge_methods_supported"] == ["S256"]
    assert found["response_types_supported"] == ["code"]
    assert found["grant_types_supported"] == ["authorization_code"]
    assert {"openid", "profile"} <= set(found["scopes_supported"])
    assert found["id_token_signing_alg_values_supported"] == ["ES256"]
    keys = (await issuer.get("/jwks.json")).json()
    assert keys["keys"] and all("d" not in k for k in keys["keys"])


async def test_the_login_form_is_shown_for_a_registered_client(issuer: httpx.AsyncClient) -> None:
    page = await issuer.get("/authorize", params=request_params("v" * 43) | {"lang": "en"})
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    assert "<script" not in page.text and "style=" not in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "http://127.0.0.1:8400" in csp
    zh = await issuer.get("/authorize", params=request_params("v" * 43) | {"lang": "zh"})
    assert "用户名" in zh.text


async def test_the_full_code_flow(issuer: httpx.AsyncClient, tmp_path: Path) -> None:
    verifier = secrets.token_urlsafe(48)
    params = request_params(verifier)
    answer = await issuer.post(
        "/authorize", data={**params, "username": "policy.admin", "password": DEMO_PASSWORD}
    )
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [params["state"]]
    tokens = await redeem(issuer, query["code"][0], verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 8 * 3600
    keys = KeySet.import_key_set(public_keys(tmp_path).as_dict(private=False))
    id_token = jwt.decode(body["id_token"], keys, algorithms=["ES256"]).claims
    assert id_token["iss"] == DEMO_ISSUER
    assert id_token["aud"] == CLIENT
    assert id_token["sub"] == "policy.admin"
    assert id_token["nonce"] == params["nonce"]
    assert id_token["name"] == "赵磊"
    access = jwt.decode(body["access_token"], keys, algorithms=["ES256"]).claims
    assert access["aud"] == DEMO_AUDIENCE and access["azp"] == CLIENT
    assert access["exp"] - access["iat"] <= 8 * 3600
    # the gateway accepts it as any bearer token
    verifier_ = TokenVerifier(AuthSettings(DEMO_ISSUER, DEMO_AUDIENCE), lambda: keys)
    principal, expires = await verifier_.verify(f"Bearer {body['access_token']}")
    assert principal.subject == "policy.admin"
    assert set(principal.roles) == {"policy-admin"}
    assert expires == access["exp"]


async def test_a_wrong_verifier_is_refused(issuer: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    code = code_of(await authorize(issuer, verifier))
    refused = await redeem(issuer, code, secrets.token_urlsafe(48))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert "access_token" not in refused.json()


async def test_a_code_is_used_once(issuer: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    code = code_of(await authorize(issuer, verifier))
    assert (await redeem(issuer, code, verifier)).status_code == 200
    again = await redeem(issuer, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_a_code_expires(issuer: httpx.AsyncClient, clock: Clock) -> None:
    verifier = secrets.token_urlsafe(48)
    code = code_of(await authorize(issuer, verifier))
    clock.now += oidc.CODE_TTL_S + 1
    late = await redeem(issuer, code, verifier)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


async def test_the_redirect_uri_must_be_the_registered_one(issuer: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    elsewhere = "http://evil.example/console/auth/callback"
    page = await authorize(issuer, verifier, redirect_uri=elsewhere)
    assert page.status_code == 400 and "location" not in page.headers  # no redirect there
    shown = await issuer.get("/authorize", params=request_params(verifier, redirect_uri=elsewhere))
    assert shown.status_code == 400 and 'name="password"' not in shown.text
    # and the code is bound to the redirect URI it was issued for
    code = code_of(await authorize(issuer, verifier))
    other = await redeem(issuer, code, verifier, redirect_uri=REDIRECT + "x")
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"


async def test_a_wrong_password_gets_the_form_again_without_naming_what_was_wrong(
    issuer: httpx.AsyncClient,
) -> None:
    verifier = secrets.token_urlsafe(48)
    same = {"lang": "en", "state": "s", "nonce": "n"}
    wrong = await authorize(issuer, verifier, password="not-it", **same)
    unknown = await authorize(issuer, verifier, user="nobody", **same)
    for page in (wrong, unknown):
        assert page.status_code == 401
        assert "location" not in page.headers
        assert 'name="password"' in page.text
        assert "The user name or password is not correct." in page.text
    assert wrong.text == unknown.text  # the same page, whichever was wrong


async def test_an_unknown_client_is_refused(issuer: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    page = await authorize(issuer, verifier, client_id="someone-else")
    assert page.status_code == 400 and "location" not in page.headers
    code = code_of(await authorize(issuer, verifier))
    refused = await redeem(issuer, code, verifier, client_id="someone-else")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


async def test_pkce_s256_is_required(issuer: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    for overrides in ({"code_challenge": ""}, {"code_challenge_method": "plain"}):
        answer = await authorize(issuer, verifier, **overrides)
        assert answer.status_code == 303
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert query["error"] == ["invalid_request"] and "code" not in query


async def test_only_the_code_response_type_and_grant(issuer: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    answer = await authorize(issuer, verifier, response_type="token")
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["unsupported_response_type"]
    refused = await issuer.post("/token", data={"grant_type": "password", "client_id": CLIENT})
    assert refused.status_code == 400 and refused.json()["error"] == "unsupported_grant_type"


def test_s256_is_rfc7636s() -> None:
    # RFC 7636, appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oidc.s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
