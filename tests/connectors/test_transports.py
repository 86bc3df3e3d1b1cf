"""The two real transports, the wire client and httpx, give the production path the same result
for the same exchange: against the sandbox agencies (plain and mutual TLS), an echo server that
says what arrived, and servers that misbehave, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import functools
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import pytest

from connectors.errors import (
    AgencyProtocolError,
    AgencyRejected,
    AgencyTimeout,
    AgencyTLSError,
    AgencyUnavailable,
    ConnectorError,
)
from connectors.http import AgencyHTTP, Signer, TransportSettings
from connectors.resilience import Resilience
from connectors.signing import sign_headers
from connectors.tls import AgencyTLS, client_context
from connectors.transport import ConnectionDropped, HttpxTransport, Transport
from connectors.wire import WirePool
from sandbox.banking import DEFAULT_KEY
from sandbox.tls import CertificateFiles
from sandbox.world import World

NO_RETRY = Resilience(retries=0)
MAKERS: dict[str, Callable[[str, AgencyTLS | None], Transport]] = {
    "wire": lambda url, tls: WirePool(url, client_context(tls)),
    "httpx": lambda url, tls: HttpxTransport(url, client_context(tls)),
}
Call = Callable[[AgencyHTTP], Awaitable[Any]]


async def each(
    url: str,
    call: Call,
    *,
    tls: AgencyTLS | None = None,
    timeout_s: float = 2.0,
    sign: Signer | None = None,
) -> dict[str, Any]:
    """``call`` over each transport: what it returned, or the ConnectorError it raised."""
    out: dict[str, Any] = {}
    for name, make in MAKERS.items():
        settings = TransportSettings(url, timeout_s=timeout_s, resilience=NO_RETRY)
        agency = AgencyHTTP("agency", settings, transport=make(url, tls), sign=sign)
        try:
            out[name] = await call(agency)
        except ConnectorError as exc:
            out[name] = exc
        finally:
            await agency.aclose()
    return out


def same(results: dict[str, Any]) -> Any:
    """The one result both transports gave (errors: the same class, status and detail)."""
    wire, other = results["wire"], results["httpx"]
    if isinstance(wire, ConnectorError):
        assert type(other) is type(wire), results
        assert getattr(other, "status", None) == getattr(wire, "status", None)
        assert other.detail == wire.detail
    else:
        assert other == wire
    return wire


def failed_alike(results: dict[str, Any], error: type[ConnectorError], prefix: str) -> None:
    """Both raised ``error`` with a detail starting ``prefix`` (the rest is the transport's own
    description of the failure)."""
    for name, result in results.items():
        assert type(result) is error, (name, result)
        assert result.detail.startswith(prefix), (name, result.detail)


# -- the sandbox agencies ------------------------------------------------------------------------


async def test_police_lookups_with_repeated_parameters(urls: dict[str, str], world: World) -> None:
    ids = [*sorted(world.persons)[:3], "11010519491231002X"]
    params = {"id_number": ids, "fields": "name,gender", "page": "1", "page_size": "2"}
    answer = same(await each(urls["police"], lambda a: a.get("/api/v1/persons", params)))
    assert answer["total"] >= 3 and len(answer["data"]) == 2


async def test_a_market_search_in_chinese(urls: dict[str, str], world: World) -> None:
    text = world.scenario["enterprise_name"][:4]
    params = {"name_contains": text, "limit": "5", "fields": "name"}
    answer = same(await each(urls["market"], lambda a: a.get("/registry/v2/enterprises", params)))
    assert answer["items"] and all(text in item["name"] for item in answer["items"])


async def test_a_signed_banking_post(urls: dict[str, str], world: World) -> None:
    body = orjson.dumps({"numbers": [world.scenario["account_number"]], "fields": ["bank"]})
    results = await each(
        urls["banking"],
        lambda a: a.post("/v1/accounts:batchGet", body),
        sign=functools.partial(sign_headers, "jointgate", DEFAULT_KEY),
    )
    assert same(results)["accounts"]


async def test_a_courts_graphql_post(urls: dict[str, str], world: World) -> None:
    numbers = world.scenario["court_case_numbers"]
    query = "query($n: [String!]!) { courtCases(caseNumbers: $n) { caseNumber stage } }"
    body = orjson.dumps({"query": query, "variables": {"n": numbers}})
    answer = same(await each(urls["courts"], lambda a: a.post("/graphql", body)))
    assert [c["caseNumber"] for c in answer["data"]["courtCases"]] == numbers


async def test_the_agencies_refusals_alike(urls: dict[str, str]) -> None:
    bad_id = same(
        await each(urls["police"], lambda a: a.get("/api/v1/persons", {"id_number": "x"}))
    )
    assert isinstance(bad_id, AgencyRejected) and bad_id.status == 400
    unknown = same(await each(urls["market"], lambda a: a.get("/nowhere", {})))
    assert isinstance(unknown, AgencyRejected) and unknown.status == 404
    unsigned = same(await each(urls["banking"], lambda a: a.post("/v1/accounts:batchGet", b"{}")))
    assert isinstance(unsigned, AgencyRejected) and unsigned.status == 401


async def test_raw_answers_alike(urls: dict[str, str], world: World) -> None:
    """Below AgencyHTTP too: the same status and the same bytes."""
    params = {"id_number": sorted(world.persons)[:2]}
    answers = []
    for make in MAKERS.values():
        transport = make(urls["police"], None)
        try:
            answers.append(await transport.request("GET", "/api/v1/persons", params, None, {}))
        finally:
            await transport.aclose()
    assert answers[0] == answers[1] and answers[0][0] == 200


async def test_over_mutual_tls(
    tls_urls: dict[str, str], gateway_tls: AgencyTLS, world: World
) -> None:
    params = {"id_number": [world.scenario["person_id"]], "fields": "name"}
    answer = same(
        await each(tls_urls["police"], lambda a: a.get("/api/v1/persons", params), tls=gateway_tls)
    )
    assert answer["data"][0]["name"] == world.scenario["person_name"]


async def test_an_untrusted_agency_certificate_alike(
    tls_urls: dict[str, str], certs: CertificateFiles, other_ca: CertificateFiles
) -> None:
    wrong = AgencyTLS(other_ca.ca, certs.client_cert, certs.client_key)
    results = await each(tls_urls["police"], lambda a: a.get("/api/v1/persons", {}), tls=wrong)
    error = same(results)
    assert isinstance(error, AgencyTLSError) and "certificate verify failed" in error.detail


# -- servers of our own ---------------------------------------------------------------------------

Answering = Callable[[bytes, bytes], Awaitable[bytes]]
"""(request head, body) -> the bytes to answer; :class:`Closing` ones, then the connection
is closed."""


class Closing(bytes):
    """Bytes after which the server closes the connection."""


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Answering], Awaitable[str]]]:
    started: list[asyncio.Server] = []

    async def handle(
        answering: Answering, r: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                reply = await answering(head, await r.readexactly(length))
                w.write(reply)
                await w.drain()
                if isinstance(reply, Closing):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            w.close()

    async def start(answering: Answering) -> str:
        server = await asyncio.start_server(functools.partial(handle, answering), "127.0.0.1", 0)
        started.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in started:
        server.close()


def http_answer(body: bytes, status: str = "200 OK") -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status.encode(), len(body), body)


async def echo(head: bytes, body: bytes) -> bytes:
    """What arrived, decoded as a server framework would: method, path, query, body, and the
    caller's headers."""
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if line)}
    parts = urlsplit(target)
    seen = {
        "method": method,
        "path": unquote(parts.path),
        "query": parse_qs(parts.query, keep_blank_values=True),
        "body": body.decode(),
        "headers": {k: v for k, v in headers.items() if k.startswith("x-")},
        "content_type": headers.get("content-type"),
    }
    return http_answer(orjson.dumps(seen))


async def test_what_arrives_is_the_same(serve: Callable[[Answering], Awaitable[str]]) -> None:
    url = await serve(echo) + "/base/"
    params = {"q": ["a b", "c&d=e", "中文", "+%/"], "empty": "", "one": "1"}
    get = same(await each(url, lambda a: a.get("/v1/items:search", params)))
    assert get == {
        "method": "GET",
        "path": "/base/v1/items:search",
        "query": {"q": ["a b", "c&d=e", "中文", "+%/"], "empty": [""], "one": ["1"]},
        "body": "",
        "headers": {},
        "content_type": None,
    }
    post = same(await each(url, lambda a: a.post("/q", '{"k": "中"}'.encode(), {"x-id": "7"})))
    assert post["body"] == '{"k": "中"}' and post["headers"] == {"x-id": "7"}
    assert post["content_type"] == "application/json"


async def test_chunked_and_gzipped_alike(serve: Callable[[Answering], Awaitable[str]]) -> None:
    payload = orjson.dumps({"big": "x" * 5000})
    packed = gzip.compress(payload)

    async def answer(head: bytes, body: bytes) -> bytes:
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(packed[i : i + 999]), packed[i : i + 999])
            for i in range(0, len(packed), 999)
        )
        return (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
            + chunks
            + b"0\r\n\r\n"
        )

    url = await serve(answer)
    assert same(await each(url, lambda a: a.get("/", {}))) == orjson.loads(payload)


async def test_an_error_status_alike(serve: Callable[[Answering], Awaitable[str]]) -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return http_answer(b'{"title": "busy"}', "503 Service Unavailable")

    error = same(await each(await serve(answer), lambda a: a.get("/", {})))
    assert isinstance(error, AgencyUnavailable) and error.detail == 'HTTP 503: {"title": "busy"}'


async def test_garbage_is_a_protocol_error_alike(
    serve: Callable[[Answering], Awaitable[str]],
) -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return b"SMTP ready\r\n\r\n"

    results = await each(await serve(answer), lambda a: a.get("/", {}))
    failed_alike(results, AgencyProtocolError, "malformed HTTP response: ")


@pytest.mark.parametrize(
    "reply",
    [Closing(b""), Closing(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"half')],
    ids=["no-answer", "cut-short"],
)
async def test_a_dropped_connection_is_unavailable_alike(
    serve: Callable[[Answering], Awaitable[str]], reply: Closing
) -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return reply

    results = await each(await serve(answer), lambda a: a.get("/", {}))
    failed_alike(results, AgencyUnavailable, "transport error: ConnectionDropped: ")


async def test_a_closed_port_is_unavailable_alike() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = await each(f"http://127.0.0.1:{port}", lambda a: a.get("/", {}))
    failed_alike(results, AgencyUnavailable, "transport error: ConnectFailed: cannot connect to")


async def test_a_slow_agency_times_out_alike(serve: Callable[[Answering], Awaitable[str]]) -> None:
    async def slow(head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(2)
        return http_answer(b"{}")

    results = await each(await serve(slow), lambda a: a.get("/", {}), timeout_s=0.1)
    failed_alike(results, AgencyTimeout, "timed out after 0.1 s waiting for the agency")


@pytest.mark.parametrize("name", list(MAKERS))
async def test_a_header_that_would_smuggle_a_line_is_a_value_error(
    name: str, serve: Callable[[Answering], Awaitable[str]]
) -> None:
    transport = MAKERS[name](await serve(echo), None)
    try:
        for headers in ({"x": "a\r\nHost: evil"}, {"x\nHost": "evil"}, {"x": "a\0"}):
            with pytest.raises(ValueError):
                await transport.request("GET", "/", None, None, headers)
    finally:
        await transport.aclose()


@pytest.mark.parametrize("name", list(MAKERS))
async def test_a_closed_transport_raises_connection_dropped(
    name: str, serve: Callable[[Answering], Awaitable[str]]
) -> None:
    transport = MAKERS[name](await serve(echo), None)
    await transport.request("GET", "/", None, None, {})
    await transport.aclose()
    with pytest.raises(ConnectionDropped, match="closed"):
        await transport.request("GET", "/", None, None, {})
