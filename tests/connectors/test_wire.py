"""The agency HTTP/1.1 client over real loopback sockets: what it sends, how it reads every
response framing, keeps and reuses connections, bounds them, and what it raises when the other
side misbehaves (and what the connector layer makes of that)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import uvloop

from connectors import wire
from connectors.errors import AgencyProtocolError, AgencyUnavailable
from connectors.http import AgencyHTTP, TransportSettings
from connectors.transport import ConnectFailed, ConnectionDropped, MalformedResponse
from connectors.wire import WirePool


@dataclass
class Seen:
    head: bytes
    body: bytes


Reply = Callable[[Seen, asyncio.StreamWriter], Awaitable[bool]]
"""Writes the answer to one request; returns False to stop serving the connection."""


@dataclass
class Server:
    reply: Reply
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    url: str = ""


async def _serve(
    server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    server.connections += 1
    server.open_now += 1
    server.most_open = max(server.most_open, server.open_now)
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            seen = Seen(head, await reader.readexactly(length))
            server.requests.append(seen)
            if not await server.reply(seen, writer):
                return
            await writer.drain()
    finally:
        server.open_now -= 1
        writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Reply], Awaitable[Server]]]:
    started: list[asyncio.Server] = []

    async def start(reply: Reply) -> Server:
        server = Server(reply)
        listening = await asyncio.start_server(lambda r, w: _serve(server, r, w), "127.0.0.1", 0)
        started.append(listening)
        server.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
        return server

    yield start
    for listening in started:
        listening.close()


def answer(body: bytes, status: str = "200 OK", extra: str = "") -> Reply:
    async def reply(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body
        )
        return True

    return reply


def raw(data: bytes, keep: bool = True) -> Reply:
    """Writes ``data`` as it is; ``keep`` False closes the connection after it."""

    async def reply(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        return keep

    return reply


async def test_a_get_carries_host_headers_and_query_and_reuses_its_connection(serve) -> None:
    server = await serve(answer(b'{"ok": true}'))
    pool = WirePool(server.url + "/api", None)
    params = {"id": ["A 1", "B/2"], "fields": "name"}
    for _ in range(3):
        status, body = await pool.request("GET", "/v1/persons", params, None, {"x-sig": "abc"})
        assert (status, body) == (200, b'{"ok": true}')
    await pool.aclose()
    head = server.requests[0].head.decode()
    port = server.url.rsplit(":", 1)[1]
    assert head.startswith("GET /api/v1/persons?id=A%201&id=B%2F2&fields=name HTTP/1.1\r\n")
    assert f"\r\nHost: 127.0.0.1:{port}\r\n" in head and "\r\nx-sig: abc\r\n" in head
    assert "content-length" not in head.lower()
    assert server.connections == 1  # kept alive and reused


async def test_a_post_sends_its_body_with_its_length(serve) -> None:
    server = await serve(answer(b"{}"))
    pool = WirePool(server.url, None)
    await pool.request("POST", "/q", None, b'{"keys": [1]}', {"content-type": "application/json"})
    await pool.request("POST", "/q", None, None, {})
    await pool.aclose()
    assert server.requests[0].body == b'{"keys": [1]}'
    assert b"\r\nContent-Length: 13\r\n" in server.requests[0].head
    assert b"\r\nContent-Length: 0\r\n" in server.requests[1].head  # a POST always says


async def test_chunked_gzip_and_interim_responses_are_read(serve) -> None:
    packed = gzip.compress(b'{"big": "' + b"x" * 5000 + b'"}')

    async def reply(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n")
        writer.write(b"Content-Encoding: gzip\r\n\r\n")
        for lo in range(0, len(packed), 1000):
            part = packed[lo : lo + 1000]
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        return True

    server = await serve(reply)
    pool = WirePool(server.url, None)
    for _ in range(2):
        status, body = await pool.request("GET", "/", None, None, {})
        assert status == 200 and body == b'{"big": "' + b"x" * 5000 + b'"}'
    await pool.aclose()
    assert server.connections == 1


async def test_a_body_ended_by_closing_the_connection_is_complete(serve) -> None:
    server = await serve(raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[1, 2, 3]", False))
    pool = WirePool(server.url, None)
    assert await pool.request("GET", "/", None, None, {}) == (200, b"[1, 2, 3]")
    assert await pool.request("GET", "/", None, None, {}) == (200, b"[1, 2, 3]")
    await pool.aclose()
    assert server.connections == 2


async def test_connection_close_is_honoured(serve) -> None:
    server = await serve(answer(b"{}", extra="Connection: close\r\n"))
    pool = WirePool(server.url, None)
    for _ in range(3):
        await pool.request("GET", "/", None, None, {})
    await pool.aclose()
    assert server.connections == 3


async def test_a_connection_the_agency_closed_while_idle_is_not_reused(serve) -> None:
    # closes without saying so in a header
    server = await serve(raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", False))
    pool = WirePool(server.url, None)
    await pool.request("GET", "/", None, None, {})
    await asyncio.sleep(0.05)  # the close reaches us while the connection is idle
    assert await pool.request("GET", "/", None, None, {}) == (200, b"{}")
    await pool.aclose()
    assert server.connections == 2


async def test_an_expired_idle_connection_is_replaced(serve) -> None:
    server = await serve(answer(b"{}"))
    pool = WirePool(server.url, None, keepalive_s=0.01)
    await pool.request("GET", "/", None, None, {})
    await asyncio.sleep(0.03)
    await pool.request("GET", "/", None, None, {})
    await pool.aclose()
    assert server.connections == 2


async def test_a_response_cut_short_raises_connection_dropped(serve) -> None:
    server = await serve(raw(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"half', False))
    pool = WirePool(server.url, None)
    with pytest.raises(ConnectionDropped, match="before the response was complete"):
        await pool.request("GET", "/", None, None, {})
    await pool.aclose()


@pytest.mark.parametrize(
    "data",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n\r\n",  # two answers
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Encoding: br\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Encoding: gzip\r\n\r\nnope",
    ],
)
async def test_malformed_answers_raise_and_close_the_connection(serve, data: bytes) -> None:
    server = await serve(raw(data))
    pool = WirePool(server.url, None)
    with pytest.raises(MalformedResponse):
        await pool.request("GET", "/", None, None, {})
    await asyncio.sleep(0)
    assert pool.open_connections == 0
    await pool.aclose()


async def test_an_answer_over_the_size_limit_is_refused(
    serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wire, "MAX_RESPONSE_BYTES", 1000)
    server = await serve(answer(b"x" * 5000))
    pool = WirePool(server.url, None)
    with pytest.raises(MalformedResponse, match="larger than 1000 bytes"):
        await pool.request("GET", "/", None, None, {})
    await pool.aclose()


async def test_a_compressed_body_may_not_expand_past_the_limit(
    serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wire, "MAX_RESPONSE_BYTES", 10_000)
    bomb = gzip.compress(b"0" * 1_000_000)  # about 1 KB on the wire
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
    server = await serve(raw(head % len(bomb) + bomb))
    pool = WirePool(server.url, None)
    with pytest.raises(MalformedResponse, match="decoded body larger than 10000 bytes"):
        await pool.request("GET", "/", None, None, {})
    await pool.aclose()


async def test_endless_headers_are_refused_too(serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "MAX_RESPONSE_BYTES", 1000)

    async def reply(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(100):
            writer.write(b"X-Pad-%d: %s\r\n" % (i, b"p" * 50))
        writer.write(b"Content-Length: 2\r\n\r\n{}")
        return True

    server = await serve(reply)
    pool = WirePool(server.url, None)
    with pytest.raises(MalformedResponse, match="larger than 1000 bytes"):
        await pool.request("GET", "/", None, None, {})
    await pool.aclose()


async def test_no_more_than_the_limit_of_connections_are_opened(serve) -> None:
    async def reply(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.02)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        return True

    server = await serve(reply)
    pool = WirePool(server.url, None, limit=2)
    answers = await asyncio.gather(*(pool.request("GET", "/", None, None, {}) for _ in range(7)))
    await pool.aclose()
    assert answers == [(200, b"{}")] * 7
    assert server.most_open == 2 and server.connections == 2


async def test_a_call_cancelled_mid_exchange_drops_its_connection(serve) -> None:
    async def reply(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if b"slow" in seen.head:
            await asyncio.sleep(0.5)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        return True

    server = await serve(reply)
    pool = WirePool(server.url, None, limit=1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await pool.request("GET", "/slow", None, None, {})
    # the late answer to the cancelled call must not become the answer to the next one
    assert await pool.request("GET", "/fast", None, None, {}) == (200, b"{}")
    await pool.aclose()
    assert server.connections == 2


async def test_a_waiter_cancelled_after_being_woken_passes_the_slot_on(serve) -> None:
    server = await serve(answer(b"{}"))
    pool = WirePool(server.url, None, limit=1)
    await pool.request("GET", "/", None, None, {})
    conn = await pool._acquire()  # hold the only connection
    first = asyncio.ensure_future(pool.request("GET", "/", None, None, {}))
    second = asyncio.ensure_future(pool.request("GET", "/", None, None, {}))
    await asyncio.sleep(0.01)
    pool._release(conn, True)  # wakes the first waiter ...
    first.cancel()  # ... which is cancelled before it runs
    assert await asyncio.wait_for(second, 2) == (200, b"{}")
    await pool.aclose()


async def test_headers_cannot_smuggle_lines() -> None:
    pool = WirePool("http://127.0.0.1:9", None)
    for headers in ({"x": "a\r\nHost: evil"}, {"x\nHost": "evil"}, {"x": "a\0"}):
        with pytest.raises(ValueError, match="line break or NUL"):
            pool.head("GET", "/", None, headers, 0)


async def test_a_refused_connection_raises_connect_failed() -> None:
    pool = WirePool("http://127.0.0.1:9", None)
    with pytest.raises(ConnectFailed, match=r"cannot connect to 127\.0\.0\.1:9"):
        await pool.request("GET", "/", None, None, {})
    await pool.aclose()


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="not an http"):
        WirePool("ftp://agency.example", None)


async def test_the_connector_layer_names_what_went_wrong(serve) -> None:
    """Through AgencyHTTP: a refused connection is the agency being unavailable (retryable),
    garbage is a protocol error, each naming the agency."""
    down = AgencyHTTP("police", TransportSettings("http://127.0.0.1:9"))
    with pytest.raises(AgencyUnavailable, match="ConnectFailed: cannot connect") as caught:
        await down.get("/x", {})
    assert caught.value.agency == "police"
    await down.aclose()

    server = await serve(raw(b"SMTP ready\r\n\r\n"))
    broken = AgencyHTTP("police", TransportSettings(server.url))
    with pytest.raises(AgencyProtocolError, match="malformed HTTP response"):
        await broken.get("/x", {})
    await broken.aclose()


async def test_head_reads_no_body_and_drops_the_connection(serve) -> None:
    server = await serve(raw(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))  # the GET's
    pool = WirePool(server.url, None)
    assert await pool.request("HEAD", "/", None, None, {}) == (200, b"")
    await asyncio.sleep(0)
    assert pool.open_connections == 0  # the parser expected a body: not reused
    await pool.aclose()


def test_under_uvloop_as_the_gateway_runs_it() -> None:
    """The gateway's event loop is uvloop, whose transports are not asyncio's classes."""

    async def main() -> tuple[list[tuple[int, bytes]], int]:
        server = Server(answer(b'{"n": 1}'))
        listening = await asyncio.start_server(lambda r, w: _serve(server, r, w), "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        pool = WirePool(f"http://127.0.0.1:{port}", None)
        try:
            got = [await pool.request("GET", "/", {"k": "v"}, None, {}) for _ in range(3)]
        finally:
            await pool.aclose()
            listening.close()
        return got, server.connections

    got, connections = uvloop.run(main())
    assert got == [(200, b'{"n": 1}')] * 3 and connections == 1
