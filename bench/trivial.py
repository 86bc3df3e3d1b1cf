"""The trivial endpoint: a canned JSON body for any request, to measure the load generator.

    python -m bench.trivial PORT BODY_BYTES

A raw asyncio protocol on uvloop with httptools, no framework: per request it does little more
than the load generator itself does, so driving it shows the generator's own ceiling.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import httptools
import uvloop


def canned(body_bytes: int) -> bytes:
    body = b'{"data":{"x":"' + b"x" * max(0, body_bytes - 16) + b'"}}'
    head = (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Canned(asyncio.Protocol):
    def __init__(self, response: bytes) -> None:
        self.response = response
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_complete(self) -> None:
        if self.transport is not None:
            self.transport.write(self.response)


async def serve(port: int, body_bytes: int) -> None:
    response = canned(body_bytes)
    server = await asyncio.get_running_loop().create_server(
        lambda: _Canned(response), "127.0.0.1", port
    )
    async with server:
        await server.serve_forever()


def main() -> int:
    uvloop.run(serve(int(sys.argv[1]), int(sys.argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
