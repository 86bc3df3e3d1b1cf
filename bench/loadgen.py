"""The load generator process: closed-loop HTTP/1.1 keep-alive clients on loopback.

    python -m bench.loadgen < spec.json > result.json

Runs in a process of its own, so it does not share an event loop (or the GIL) with any server
it measures. Each of ``concurrency`` clients holds one keep-alive connection and sends the same
pre-built request bytes again and again; responses are parsed with ``httptools`` (uvicorn's
parser, Content-Length or chunked) on uvloop. That is several times cheaper per request than an
HTTP client library, so the generator is not what limits the figures; ``bench.peers`` measures
its ceiling against a trivial endpoint in every run. The timing loop is
:func:`bench.load.run_load`.

The spec (JSON on stdin): ``url``, ``body`` (text; empty for GET), ``headers`` (object),
``concurrency``, ``seconds``, ``warmup_s``, ``name``; optional ``unique``, a marker in the body
that each request replaces with its own zero-padded number of the marker's width (the length,
and so the Content-Length, stays the same): an idempotency key per request. A request succeeds
on status 200 with no ``"errors"`` in the body. The result (JSON on stdout) is
:meth:`LoadResult.as_dict` plus ``all_requests``, the count including the warm-up.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import uvloop

from bench.load import run_load


class _Connection(asyncio.Protocol):
    """One keep-alive connection; :meth:`exchange` sends a request and awaits its response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed by the server"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(exc)

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))
        self.body = []

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


def build_request(url: str, body: str, headers: dict[str, str]) -> tuple[str, int, bytes]:
    """Host, port and the raw request bytes (POST with ``body``, else GET)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payload = body.encode()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"{'POST' if payload else 'GET'} {target} HTTP/1.1",
        f"Host: {host}:{port}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    if payload:
        lines.append(f"Content-Length: {len(payload)}")
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, request = build_request(
        spec["url"], spec.get("body", ""), dict(spec.get("headers", {}))
    )
    loop = asyncio.get_running_loop()
    idle: list[_Connection] = []
    sent = 0
    marker = spec.get("unique", "").encode()
    head, _, tail = request.rpartition(marker) if marker and marker in request else (b"", b"", b"")

    def next_request() -> bytes:
        return head + str(sent).zfill(len(marker)).encode() + tail if head else request

    async def connect() -> _Connection:
        _, protocol = await loop.create_connection(_Connection, host, port)
        return protocol

    async def one_request() -> bool:
        nonlocal sent
        sent += 1
        connection = idle.pop() if idle else await connect()
        try:
            status, body = await connection.exchange(next_request())
        except (ConnectionError, httptools.HttpParserError):
            return False
        if not connection.closed:
            idle.append(connection)
        return status == 200 and b'"errors"' not in body

    for _ in range(spec["concurrency"]):
        idle.append(await connect())
    result = await run_load(
        spec.get("name", "load"),
        one_request,
        concurrency=spec["concurrency"],
        seconds=spec["seconds"],
        warmup_s=spec.get("warmup_s", 1.0),
    )
    for connection in idle:
        if connection.transport is not None:
            connection.transport.close()
    return {**result.as_dict(), "all_requests": sent}


def main() -> int:
    spec = json.load(sys.stdin)
    result = uvloop.run(drive(spec))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
