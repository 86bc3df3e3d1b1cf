"""The production HTTP layer (``AgencyHTTP``: request building, the resilience guard, error
mapping, decoding, telemetry) run over the canned transport: every branch above the wire."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pytest
from opentelemetry import trace

from connectors.banking import BankingConnector
from connectors.errors import (
    AgencyProtocolError,
    AgencyRejected,
    AgencyTimeout,
    AgencyTLSError,
    AgencyUnavailable,
    CircuitOpen,
)
from connectors.http import AgencyHTTP, ExchangeTelemetry, TransportSettings
from connectors.police import PoliceConnector
from connectors.resilience import Resilience, request_deadline
from connectors.signing import KEY_ID, NONCE, SIGNATURE, TIMESTAMP, verify
from connectors.testing import Answer, CannedTransport, Exchange, Reply
from connectors.transport import ConnectFailed, ConnectionDropped, MalformedResponse

QUICK = Resilience(retry_backoff_s=0.001, retry_backoff_max_s=0.002, retry_budget_min=100)


def http(
    *replies: Reply, url: str = "http://police.test", timeout_s: float = 2.0, **policy: Any
) -> tuple[AgencyHTTP, CannedTransport]:
    """An AgencyHTTP for "police" over a canned transport answering ``replies``."""
    transport = CannedTransport(*replies)
    resilience = replace(QUICK, **policy)
    settings = TransportSettings(url, timeout_s=timeout_s, resilience=resilience)
    return AgencyHTTP("police", settings, transport=transport), transport


def ok(payload: object) -> Answer:
    return 200, orjson.dumps(payload)


async def test_a_get_hands_the_transport_its_path_and_query_and_decodes_the_answer() -> None:
    agency, transport = http(ok({"data": [1, 2]}))
    params = {"id_number": ["A", "B"], "page": "1"}
    assert await agency.get("/api/v1/persons", params) == {"data": [1, 2]}
    [seen] = transport.exchanges
    assert (seen.method, seen.path, seen.params, seen.content) == (
        "GET",
        "/api/v1/persons",
        params,
        None,
    )
    assert "traceparent" not in seen.headers  # outside any trace: nothing to pass on


async def test_a_post_says_its_body_is_json_and_keeps_the_callers_headers() -> None:
    agency, transport = http(ok({}))
    await agency.post("/q", b'{"k": 1}', {"x-extra": "1"})
    [seen] = transport.exchanges
    assert seen.content == b'{"k": 1}'
    assert seen.headers == {"content-type": "application/json", "x-extra": "1"}


async def test_the_banking_signature_reaches_the_transport_and_verifies() -> None:
    transport = CannedTransport(ok({"accounts": []}))
    bank = BankingConnector(TransportSettings("http://bank.test"), "jointgate", b"k", transport)
    await bank.fetch_many("account", "number", ["6222"], frozenset({"bank"}))
    [seen] = transport.exchanges
    h = seen.headers
    assert h[KEY_ID] == "jointgate"
    assert seen.content is not None
    assert verify(b"k", "POST", seen.path, h[TIMESTAMP], h[NONCE], seen.content, h[SIGNATURE])


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
async def test_a_4xx_is_a_rejection_with_its_status_and_is_not_retried(status: int) -> None:
    agency, transport = http((status, b'{"title": "no"}'))
    with pytest.raises(AgencyRejected) as caught:
        await agency.get("/x", {})
    assert caught.value.status == status and caught.value.agency == "police"
    assert f"HTTP {status}" in caught.value.detail
    assert len(transport.exchanges) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_a_5xx_or_429_is_unavailable_and_an_idempotent_call_is_retried(status: int) -> None:
    agency, transport = http((status, b"busy"), ok({"fine": True}))
    assert await agency.get("/x", {}) == {"fine": True}  # GET: retried, and answered
    assert len(transport.exchanges) == 2

    agency, transport = http((status, b"busy"), ok({"fine": True}))
    with pytest.raises(AgencyUnavailable, match=f"HTTP {status}: busy"):
        await agency.post("/x", b"{}")  # POST: not retried unless said to be idempotent
    assert len(transport.exchanges) == 1


async def test_retries_stop_at_the_policy() -> None:
    agency, transport = http((503, b""), retries=2)
    with pytest.raises(AgencyUnavailable, match=r"HTTP 503: \(empty body\)"):
        await agency.get("/x", {})
    assert len(transport.exchanges) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>oops</html>", "response is not JSON"),
        (b"", "response is not JSON"),
        (b'{"open": ', "response is not JSON"),
    ],
)
async def test_a_2xx_that_is_not_json_is_a_protocol_error(body: bytes, message: str) -> None:
    agency, transport = http((200, body))
    with pytest.raises(AgencyProtocolError, match=message):
        await agency.get("/x", {})
    assert len(transport.exchanges) == 1  # the agency answered: another try would not help


async def test_a_malformed_http_answer_is_a_protocol_error() -> None:
    agency, transport = http(MalformedResponse("the agency switched protocols"))
    with pytest.raises(AgencyProtocolError, match="malformed HTTP response: the agency switched"):
        await agency.get("/x", {})
    assert len(transport.exchanges) == 1


async def test_a_refused_or_dropped_connection_is_unavailable_and_retried() -> None:
    refused = ConnectFailed("cannot connect to police.test:80")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    agency, transport = http(refused, ConnectionDropped("closed early"), ok([1]))
    assert await agency.get("/x", {}) == [1]
    assert len(transport.exchanges) == 3

    agency, _ = http(ConnectionDropped("closed early"), retries=0)
    with pytest.raises(AgencyUnavailable, match="transport error: ConnectionDropped: closed early"):
        await agency.get("/x", {})


async def test_a_tls_failure_is_named_and_not_retried() -> None:
    failure = ssl.SSLCertVerificationError(1, "certificate verify failed")
    failure.verify_message = "self-signed certificate in certificate chain"
    agency, transport = http(failure, url="https://police.test")
    with pytest.raises(AgencyTLSError, match="TLS: certificate verify failed: self-signed"):
        await agency.get("/x", {})
    assert len(transport.exchanges) == 1


async def test_an_agency_slower_than_its_timeout_times_out() -> None:
    async def slow(exchange: Exchange) -> Answer:
        await asyncio.sleep(5)
        return ok({})

    agency, transport = http(slow, timeout_s=0.05)
    started = time.monotonic()
    with pytest.raises(AgencyTimeout, match=r"timed out after 0\.05 s waiting for the agency"):
        await agency.get("/x", {})
    assert time.monotonic() - started < 1
    assert len(transport.exchanges) == 1  # a timeout is not retried


async def test_a_transport_timeout_is_a_timeout() -> None:
    agency, _ = http(TimeoutError("connecting to police.test:80 took more than 2 s"))
    with pytest.raises(AgencyTimeout, match="timed out: TimeoutError"):
        await agency.get("/x", {})


async def test_a_passed_deadline_sends_nothing() -> None:
    agency, transport = http(ok({}))
    with request_deadline(time.monotonic() - 1), pytest.raises(AgencyTimeout, match="deadline"):
        await agency.get("/x", {})
    assert transport.exchanges == []


async def test_a_header_that_would_smuggle_a_line_is_refused() -> None:
    agency, transport = http(ok({}))
    with pytest.raises(ValueError, match="line break"):
        await agency.post("/x", b"{}", {"x": "a\r\nHost: evil"})
    assert transport.exchanges == []


async def test_failures_open_the_circuit_and_then_nothing_is_sent() -> None:
    agency, transport = http((503, b"down"), retries=0, breaker_failures=3)
    for _ in range(3):
        with pytest.raises(AgencyUnavailable):
            await agency.get("/x", {})
    with pytest.raises(CircuitOpen):
        await agency.get("/x", {})
    assert len(transport.exchanges) == 3
    assert agency.guard.status()["circuit"] == "open"


async def test_error_bodies_reach_the_detail_without_identifiers() -> None:
    asked = "11010519491231002X"
    body = (
        f'{{"title": "Bad Request", "detail": "no person {asked}; account'
        ' 6222020000000000003, case (2026)京0102执1901号"}\n second line'
    ).encode()
    for status, error in ((400, AgencyRejected), (503, AgencyUnavailable)):
        agency, _ = http((status, body), retries=0)
        with pytest.raises(error) as caught:
            await agency.get("/persons", {"id": asked})
        detail = str(caught.value)
        assert "Bad Request" in detail and f"HTTP {status}" in detail and "\n" not in detail
        for identifier in (asked, "6222020000000000003", "0102", "1901"):
            assert identifier not in detail
        assert asked not in caught.value.public_message


async def test_an_error_body_that_is_not_utf8_or_is_long_is_summarised() -> None:
    agency, _ = http((400, b"\xff\xfe bad " + b"x" * 1000))
    with pytest.raises(AgencyRejected) as caught:
        await agency.get("/x", {})
    assert len(caught.value.detail) < 320 and "bad" in caught.value.detail


@dataclass
class Ended:
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, agency: str, seconds: float, outcome: str) -> None:
        assert seconds >= 0
        self.calls.append((agency, outcome))


async def test_telemetry_hears_of_every_call_once_retries_included() -> None:
    ended = Ended()
    agency, _ = http((503, b""), ok({}), (404, b""))
    agency.telemetry = ExchangeTelemetry(trace.get_tracer("test"), ended)
    await agency.get("/x", {})
    with pytest.raises(AgencyRejected):
        await agency.get("/x", {})
    assert ended.calls == [("police", "ok"), ("police", "AgencyRejected")]


async def test_a_connector_pages_through_the_double() -> None:
    pages = {
        "1": {"data": [{"id_number": "A", "name": "a"}], "total": 2},
        "2": {"data": [{"id_number": "B", "name": "b"}], "total": 2},
    }

    async def police(exchange: Exchange) -> Answer:
        assert exchange.params is not None
        return ok(pages[str(exchange.params["page"])])

    transport = CannedTransport(police)
    connector = PoliceConnector(TransportSettings("http://police.test"), transport=transport)
    found = await connector.fetch_many("person", "id_number", ["A", "B"], frozenset({"name"}))
    assert {k: [r.data["name"] for r in v] for k, v in found.items()} == {"A": ["a"], "B": ["b"]}
    assert [e.params["page"] for e in transport.exchanges if e.params] == ["1", "2"]
    assert connector.status()["connections"] == 0
    await connector.aclose()
    assert transport.closed
    with pytest.raises(AgencyUnavailable, match="closed"):
        await connector.http.get("/x", {})
