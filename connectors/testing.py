"""The transport test double: canned answers to agency requests, no sockets.

A :class:`CannedTransport` is handed to :class:`~connectors.http.AgencyHTTP` (or to a
connector, ``PoliceConnector(settings, transport=...)``) in place of the wire client, so the
production path above the transport runs as it is: request building and signing, the
resilience guard, error mapping, decoding, telemetry. It records every request it is sent::

    agency = CannedTransport((503, b"busy"), (200, b'{"data": [], "total": 0}'))
    police = PoliceConnector(TransportSettings("http://police.test"), transport=agency)
    ...
    assert [e.method for e in agency.exchanges] == ["GET", "GET"]  # retried once

It keeps to the transport contract (``connectors/transport.py``): a header holding a line
break or NUL is a ValueError, a request after :meth:`~CannedTransport.aclose` raises
ConnectionDropped, and what it raises otherwise is what the test gave it to raise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from connectors.transport import ConnectionDropped, Params

__all__ = ["Answer", "CannedTransport", "Exchange", "Reply"]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request as the transport received it."""

    method: str
    path: str
    params: Params | None
    content: bytes | None
    headers: Mapping[str, str]


Answer = tuple[int, bytes]
Reply = Answer | BaseException | Callable[[Exchange], Awaitable[Answer]]
"""A status and body; an exception to raise, as a transport would (ConnectFailed,
TimeoutError, MalformedResponse, ...); or an async function of the request, for anything
else: an answer that depends on the query, or one that takes its time."""


class CannedTransport:
    """Answers the n-th request with the n-th of ``replies``; the last one repeats."""

    def __init__(self, *replies: Reply) -> None:
        if not replies:
            raise ValueError("a canned transport needs at least one reply")
        self._replies = replies
        self.exchanges: list[Exchange] = []
        self.closed = False

    @property
    def open_connections(self) -> int:
        return 0

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None,
        content: bytes | None,
        headers: Mapping[str, str],
        /,
    ) -> Answer:
        if self.closed:
            raise ConnectionDropped("the agency client is closed")
        for name, value in headers.items():
            if any(c in name or c in value for c in "\r\n\0"):
                raise ValueError("a header name or value holds a line break or NUL")
        exchange = Exchange(method, path, params, content, dict(headers))
        reply = self._replies[min(len(self.exchanges), len(self._replies) - 1)]
        self.exchanges.append(exchange)
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            return await reply(exchange)
        return reply

    async def aclose(self) -> None:
        self.closed = True
