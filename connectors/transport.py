"""How agency HTTP travels: the one contract the HTTP layer asks of a transport, and its errors.

:class:`~connectors.http.AgencyHTTP` builds each request (headers, signature, ``traceparent``),
runs it under the agency's resilience guard, maps errors and decodes the answer; a
:class:`Transport` only carries it, like httpx's ``AsyncBaseTransport``, so that every
implementation runs the same production path:

- :class:`connectors.wire.WirePool`, the production default: the own HTTP/1.1 client,
  justified by measurement (docs/performance.md); it *is* the transport, no wrapper around it;
- :class:`HttpxTransport` (here), over an ``httpx.AsyncClient``, which also lets a test hand in
  ``httpx.MockTransport`` or ``httpx.ASGITransport``;
- :class:`connectors.testing.CannedTransport`, the test double: canned answers, no sockets.

Errors a transport may raise, and nothing else (``connectors/http.py`` maps them, in one place,
to :mod:`connectors.errors`)::

    OSError
    ├── ConnectionError
    │   ├── ConnectFailed         no connection could be opened; the cause is the original
    │   └── ConnectionDropped     closed before the answer was complete, or the transport closed
    ├── TimeoutError              the transport's own bound (the connect) ran out
    └── ssl.SSLError              TLS failed (as such, or in the ``__cause__`` chain)
    MalformedResponse             the bytes that came back are not an HTTP answer we accept
    ValueError                    the request cannot be sent (a header holds a line break, NUL)

The overall timeout is not a transport's: the guard cuts every attempt, cancelling the call,
and a transport must then leave no half-read answer to be taken for the next one's.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from typing import Protocol

import httpx

__all__ = [
    "KEEPALIVE_S",
    "MAX_RESPONSE_BYTES",
    "ConnectFailed",
    "ConnectionDropped",
    "HttpxTransport",
    "MalformedResponse",
    "Params",
    "Transport",
]

Params = Mapping[str, str | Sequence[str]]
"""Query parameters; a sequence value is the parameter repeated, in order."""

MAX_RESPONSE_BYTES = 64 << 20  # an agency answer (headers and body) larger than this is refused
KEEPALIVE_S = 30.0  # an idle connection older than this is closed rather than reused


class ConnectFailed(ConnectionError):
    """No connection to the agency could be opened (refused, unreachable, reset in the
    handshake); the original error is the ``__cause__``."""


class ConnectionDropped(ConnectionError):
    """The agency closed the connection before its response was complete."""


class MalformedResponse(Exception):
    """The bytes the agency sent back are not an HTTP/1.1 response we accept."""


class Transport(Protocol):
    """Carries requests to one agency origin (the base URL it was made for)."""

    @property
    def open_connections(self) -> int:
        """Connections open to the agency now, for health and metrics (0 if not known)."""

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None,
        content: bytes | None,
        headers: Mapping[str, str],
        /,
    ) -> tuple[int, bytes]:
        """Send one request to ``path`` under the base URL's path; the answer's status and
        its body, decoded from any content-encoding, whatever the status. The transport adds
        only what framing needs (Host, Content-Length); ``headers`` are the caller's."""

    async def aclose(self) -> None:
        """Close every connection; a request after this raises ConnectionDropped."""


class HttpxTransport:
    """The contract over an ``httpx.AsyncClient``: for a test double such as
    ``httpx.MockTransport`` (``transport``), or wherever httpx's own stack is wanted; the
    gateway itself uses :class:`~connectors.wire.WirePool`, about three times leaner per call."""

    def __init__(
        self,
        base_url: str,
        tls: ssl.SSLContext | None = None,
        limit: int = 64,
        connect_timeout_s: float = 2.0,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(None, connect=connect_timeout_s),  # the rest is the guard's
            limits=httpx.Limits(
                max_connections=limit,
                max_keepalive_connections=limit,
                keepalive_expiry=keepalive_s,
            ),
            transport=transport,
            verify=tls if tls is not None else True,
            trust_env=False,
        )

    @property
    def open_connections(self) -> int:
        return 0  # httpx does not say

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None,
        content: bytes | None,
        headers: Mapping[str, str],
        /,
    ) -> tuple[int, bytes]:
        if self._client.is_closed:
            raise ConnectionDropped("the agency client is closed")
        try:
            response = await self._client.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"{exc.__class__.__name__}: {exc}") from exc
        except httpx.ConnectError as exc:
            raise ConnectFailed(f"cannot connect to {self._client.base_url}: {exc}") from exc
        except httpx.DecodingError as exc:
            raise MalformedResponse(f"cannot decode the body: {exc}") from exc
        except httpx.RemoteProtocolError as exc:
            if _cut_short(exc):
                raise ConnectionDropped(f"the agency closed the connection: {exc}") from exc
            raise MalformedResponse(f"{exc.__class__.__name__}: {exc}") from exc
        except httpx.LocalProtocolError as exc:
            raise ValueError(f"the request cannot be sent: {exc}") from exc
        except httpx.TransportError as exc:
            raise ConnectionDropped(f"{exc.__class__.__name__}: {exc}") from exc
        body = response.content
        if len(body) > MAX_RESPONSE_BYTES:
            raise MalformedResponse(f"response larger than {MAX_RESPONSE_BYTES} bytes")
        return response.status_code, body

    async def aclose(self) -> None:
        await self._client.aclose()


def _cut_short(exc: httpx.RemoteProtocolError) -> bool:
    """The connection ended early (httpcore's and h11's words for it), rather than carrying
    bytes that are not HTTP: the wire client tells these apart as it parses."""
    text = str(exc)
    return text.startswith("Server disconnected") or text.startswith("peer closed connection")
