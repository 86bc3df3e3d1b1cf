"""Security headers, the CORS allowlist, the request timeout and their settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.http_security import SECURITY_HEADERS, SecurityHeaders
from gateway.settings import from_mapping
from kernel.config import ConfigError
from tests.gateway.conftest import Harness, open_harness, uscc
from tests.http.conftest import LiveGateway

APP = "https://app.police.example"
TYPENAME = {"query": "{ __typename }"}


def _assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (
            name,
            response.request.url,
            response.status_code,
        )
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_every_response_carries_the_security_headers(harness: Harness) -> None:
    client, headers = harness.client, harness.headers()
    responses = [
        await client.post("/graphql", json=TYPENAME, headers=headers),
        await client.get("/graphql", params=TYPENAME, headers=headers),
        await client.post("/graphql", json=TYPENAME),  # 401
        await client.post("/graphql", json={"query": "{"}, headers=headers),  # 400
        await client.post("/graphql", json=TYPENAME, headers=headers | {"accept": "text/html"}),
        await client.put("/graphql", headers=headers),  # 405
        await client.post("/graphql", data={"query": "{ __typename }"}, headers=headers),  # 415
        await client.get("/healthz"),
        await client.get("/readyz"),
        await client.get("/no-such-page"),
        await client.options(
            "/graphql", headers={"origin": APP, "access-control-request-method": "POST"}
        ),
    ]
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 200, 401, 400, 406, 405, 415, 200, 200, 404, 403]  # fmt: skip
    for response in responses:
        _assert_security_headers(response)
    assert "strict-transport-security" not in responses[0].headers


async def test_hsts_when_configured(tmp_path: Path) -> None:
    async with open_harness(tmp_path, hsts_max_age_s=31_536_000) as harness:
        response = await harness.client.get("/healthz")
        assert (
            response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        )


async def test_no_cross_origin_access_by_default(harness: Harness) -> None:
    preflight = await harness.client.options(
        "/graphql",
        headers={"origin": APP, "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization, content-type, x-purpose"},
    )  # fmt: skip
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    response = await harness.client.post(
        "/graphql", json=TYPENAME, headers=harness.headers() | {"origin": APP}
    )
    assert not any(h.startswith("access-control-") for h in response.headers)
    assert "Origin" in response.headers["vary"]


async def _preflight(
    client: httpx.AsyncClient, origin: str, method: str = "POST", headers: Sequence[str] = ()
) -> httpx.Response:
    request_headers = {"origin": origin, "access-control-request-method": method}
    if headers:
        request_headers["access-control-request-headers"] = ", ".join(headers)
    return await client.options("/graphql", headers=request_headers)


async def test_allowlisted_origins_get_cors_and_others_do_not(tmp_path: Path) -> None:
    async with open_harness(tmp_path, cors_allowed_origins=(APP,)) as harness:
        client = harness.client
        ok = await _preflight(
            client, APP, "POST", ("Authorization", "Content-Type", "X-Purpose", "X-Case-Id")
        )
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == APP
        assert set(ok.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
        allowed_headers = ok.headers["access-control-allow-headers"].split(", ")
        assert {"authorization", "content-type", "x-purpose", "x-case-id"} <= set(allowed_headers)
        assert "access-control-allow-credentials" not in ok.headers
        assert int(ok.headers["access-control-max-age"]) > 0
        assert harness.audit.records == []  # a preflight is no GraphQL request
        for refused in (
            await _preflight(client, "https://evil.example"),
            await _preflight(client, APP + ".evil.example"),
            await _preflight(client, "null"),
            await _preflight(client, APP, "PUT"),
            await _preflight(client, APP, "POST", ("authorization", "x-forwarded-user")),
        ):
            assert refused.status_code == 403
            assert "access-control-allow-origin" not in refused.headers

        response = await client.post(
            "/graphql", json=TYPENAME, headers=harness.headers() | {"origin": APP}
        )
        assert response.headers["access-control-allow-origin"] == APP
        assert "X-Request-Id" in response.headers["access-control-expose-headers"]
        assert "access-control-allow-credentials" not in response.headers
        other = await client.post(
            "/graphql",
            json=TYPENAME,
            headers=harness.headers() | {"origin": "https://evil.example"},
        )
        assert not any(h.startswith("access-control-") for h in other.headers)


async def test_credentials_only_when_configured_and_only_for_allowlisted_origins(
    tmp_path: Path,
) -> None:
    async with open_harness(
        tmp_path, cors_allowed_origins=(APP,), cors_allow_credentials=True
    ) as harness:
        preflight = await _preflight(harness.client, APP)
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert preflight.headers["access-control-allow-origin"] == APP  # never "*"
        for origin, expected in ((APP, "true"), ("https://evil.example", None)):
            response = await harness.client.post(
                "/graphql", json=TYPENAME, headers=harness.headers() | {"origin": origin}
            )
            assert response.headers.get("access-control-allow-credentials") == expected


def _slow(harness: Harness, agency: str, seconds: float) -> None:
    connector = harness.agencies[agency]
    fetch_many = connector.fetch_many

    async def slow_fetch_many(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(seconds)
        return await fetch_many(*args, **kwargs)

    connector.fetch_many = slow_fetch_many  # type: ignore[method-assign]


async def test_a_request_past_the_timeout_is_504_and_audited(tmp_path: Path) -> None:
    async with open_harness(tmp_path, request_timeout_s=0.3, request_deadline_s=30.0) as harness:
        _slow(harness, "market", 5.0)
        started = time.monotonic()
        response = await harness.query('{ enterprise(uscc: "%s") { name } }' % uscc(1))
        assert time.monotonic() - started < 2.0
        assert response.status_code == 504
        assert response.json() == {"errors": [{
            "message": "The request took longer than 0.3 s and was stopped.",
            "extensions": {"code": "REQUEST_TIMEOUT"},
        }]}  # fmt: skip
        (record,) = harness.audit.records
        assert record.request_id == response.headers["x-request-id"]
        assert record.status == 504 and record.outcome == "refused"
        assert record.error_codes == ["REQUEST_TIMEOUT"]
        assert record.subject == "jit.member"
        assert record.fields_requested == ["enterprise", "enterprise.name"]


@pytest.mark.parametrize("batching", [False, True])
async def test_a_slow_request_body_is_cut_by_the_timeout(tmp_path: Path, batching: bool) -> None:
    async with open_harness(tmp_path, request_timeout_s=0.3, batching=batching) as harness:

        async def trickle() -> AsyncIterator[bytes]:
            yield b'{"query": '
            await asyncio.sleep(5)
            yield b'"{ __typename }"}'

        response = await harness.client.post(
            "/graphql",
            content=trickle(),
            headers=harness.headers() | {"content-type": "application/json"},
        )
        assert response.status_code == 504
        (record,) = harness.audit.records
        assert record.error_codes == ["REQUEST_TIMEOUT"]


def _config(**gateway: Any) -> dict[str, Any]:
    agencies = {name: {"url": f"http://{name}.example"} for name in ("police", "market", "courts")}
    agencies["banking"] = {"url": "http://bank.example", "key_env": "TEST_BANK_KEY"}
    agencies["credit"] = {  # its UsernameToken password from the same test variable
        "url": "http://credit.example", "institution": "B10011000H0001",
        "password_env": "TEST_BANK_KEY",
    }  # fmt: skip
    return {
        "gateway": gateway,
        "auth": {
            "issuer": "https://idp.example",
            "audience": "jointgate",
            "jwks_url": "https://idp.example/jwks",
        },
        "agencies": agencies,
    }


def test_http_settings_defaults_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_BANK_KEY", "k")
    defaults = from_mapping(_config())
    assert defaults.request_timeout_s == 15.0 and defaults.max_json_depth == 16
    assert not defaults.batching and defaults.max_batch_operations == 10
    assert defaults.cors_allowed_origins == () and not defaults.cors_allow_credentials
    assert defaults.hsts_max_age_s == 0
    settings = from_mapping(_config(
        request_timeout_s=20, max_json_depth=8, batching=True, max_batch_operations=5,
        cors_allowed_origins=[APP, "http://localhost:3000"], cors_allow_credentials=True,
        hsts_max_age_s=63_072_000,
    ))  # fmt: skip
    assert settings.request_timeout_s == 20.0 and settings.max_json_depth == 8
    assert settings.batching and settings.max_batch_operations == 5
    assert settings.cors_allowed_origins == (APP, "http://localhost:3000")
    assert settings.cors_allow_credentials and settings.hsts_max_age_s == 63_072_000
    # the timeout's default leaves room after a longer agency deadline
    assert from_mapping(_config(request_deadline_s=20)).request_timeout_s == 25.0


@pytest.mark.parametrize(
    ("gateway", "message"),
    [
        (
            {"request_timeout_s": 5},
            "gateway.request_timeout_s: must be longer than gateway.request_deadline_s",
        ),
        (
            {"request_deadline_s": 20, "request_timeout_s": 20},
            "gateway.request_timeout_s: must be longer",
        ),
        ({"max_json_depth": 0}, "gateway.max_json_depth: must be a positive number"),
        ({"batching": "yes"}, "gateway.batching: true or false"),
        ({"cors_allowed_origins": ["*"]}, "gateway.cors_allowed_origins: a list of origins"),
        ({"cors_allowed_origins": ["https://app.example/"]}, "gateway.cors_allowed_origins"),
        ({"cors_allowed_origins": "https://app.example"}, "gateway.cors_allowed_origins"),
        ({"cors_allow_credentials": 1}, "gateway.cors_allow_credentials: true or false"),
        ({"hsts_max_age_s": -1}, "gateway.hsts_max_age_s: a whole number"),
    ],
)
def test_http_settings_mistakes_are_named(
    monkeypatch: pytest.MonkeyPatch, gateway: dict[str, Any], message: str
) -> None:
    monkeypatch.setenv("TEST_BANK_KEY", "k")
    with pytest.raises(ConfigError, match=message):
        from_mapping(_config(**gateway))


def test_a_live_gateway_sends_the_headers(live: LiveGateway) -> None:
    """The same over real sockets (uvicorn), refusals included."""
    ok = httpx.post(live.url, json=TYPENAME, headers=live.headers(), timeout=10)
    refused = httpx.post(live.url, json=TYPENAME, timeout=10)
    health = httpx.get(live.url.replace("/graphql", "/healthz"), timeout=10)
    assert [r.status_code for r in (ok, refused, health)] == [200, 401, 200]
    for response in (ok, refused, health):
        _assert_security_headers(response)


def test_a_live_gateway_records_the_peer_not_what_x_forwarded_for_claims(
    live: LiveGateway,
) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told not to (``proxy_headers``,
    ``forwarded_allow_ips``); the gateway reads the header itself, and only from
    ``gateway.trusted_proxies``, none by default (gateway/forwarded.py)."""
    lie = {"x-forwarded-for": "6.6.6.6", "x-forwarded-proto": "https"}
    sent = httpx.post(live.url, json=TYPENAME, headers=live.headers() | lie, timeout=10)
    assert sent.status_code == 200, sent.text
    query = '{ auditLog(user: "jit.member", first: 100) { nodes { requestId client } } }'
    found = httpx.post(
        live.url, json={"query": query}, headers=live.headers("auditor", "audit"), timeout=10
    )
    nodes = found.json()["data"]["auditLog"]["nodes"]
    assert [n["client"] for n in nodes if n["requestId"] == sent.headers["x-request-id"]] == [
        "127.0.0.1"
    ]


async def test_headers_the_app_set_itself_are_kept_and_none_is_doubled() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"cache-control", b"max-age=60"), (b"X-Frame-Options", b"SAMEORIGIN")],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    wrapped = SecurityHeaders(app, hsts_max_age_s=600)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=wrapped), base_url="http://g"
    ) as client:
        response = await client.get("/")
    names = [name.lower() for name, _ in response.headers.raw]
    assert len(names) == len(set(names))  # nothing twice
    assert response.headers["cache-control"] == "max-age=60"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["strict-transport-security"] == "max-age=600; includeSubDomains"
