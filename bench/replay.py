"""The replaying courts subgraph: the sandbox's answers, served again from memory.

    python -m bench.replay PORT UPSTREAM_URL

The sandbox's courts subgraph is a Python (strawberry) GraphQL server: resolving 50 cases costs it
more CPU than any gateway spends forwarding them, so with it behind them all three gateways of
the peers benchmark would measure the subgraph. This server sits in its place: the first time
it sees a request body it forwards it to ``UPSTREAM_URL/graphql`` and keeps the answer; every
later identical body gets the kept answer, byte for byte, from a raw asyncio protocol on uvloop
(no GraphQL work). Each gateway still sends its own query (Apollo's query plan, ariadne's
printed query, JointGate's ``courtCases`` call with the fields its plan allows) and gets the
subgraph's real answer to it. At most ``MAX_KEPT`` distinct bodies are kept; the rest are
forwarded every time.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import httptools
import httpx
import uvloop

MAX_KEPT = 1000


class _Replay(asyncio.Protocol):
    def __init__(self, kept: dict[bytes, bytes], upstream: httpx.AsyncClient) -> None:
        self.kept = kept
        self.upstream = upstream
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body, self.body = b"".join(self.body), []
        url, self.url = self.url, b""
        if url.startswith(b"/health"):
            self._write(200, b'{"status":"ok"}')
            return
        response = self.kept.get(body)
        if response is not None:
            assert self.transport is not None
            self.transport.write(response)
        else:
            asyncio.get_running_loop().create_task(self._forward(body))

    async def _forward(self, body: bytes) -> None:
        try:
            answer = await self.upstream.post(
                "/graphql", content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            error = b'{"errors":[{"message":"%s"}]}' % type(exc).__name__.encode()
            response = _response(502, error)
        else:
            response = _response(answer.status_code, answer.content)
            if answer.status_code == 200 and len(self.kept) < MAX_KEPT:
                self.kept[body] = response
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)

    def _write(self, status: int, body: bytes) -> None:
        if self.transport is not None:
            self.transport.write(_response(status, body))


def _response(status: int, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def serve(port: int, upstream_url: str) -> None:
    kept: dict[bytes, bytes] = {}
    upstream = httpx.AsyncClient(base_url=upstream_url, trust_env=False, timeout=30)
    server = await asyncio.get_running_loop().create_server(
        lambda: _Replay(kept, upstream), "127.0.0.1", port
    )
    async with server:
        await server.serve_forever()


def main() -> int:
    uvloop.run(serve(int(sys.argv[1]), sys.argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
