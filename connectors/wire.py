"""HTTP/1.1 to one agency origin: pooled keep-alive connections on asyncio protocols.

What an agency call needs and nothing else: a request head written in one piece, the response
parsed by httptools (llhttp, the parser uvicorn uses: Content-Length, chunked, or read to the
end), gzip/deflate bodies inflated, connections kept alive and reused newest first. It replaced
aiohttp's client, whose request and response objects, per-read timeout timers and stream
readers cost about 0.5 ms of CPU per call here, twice this (docs/performance.md).

Timeouts are the caller's (:class:`connectors.resilience.AgencyGuard` wraps every attempt in
one); this module bounds only the connect. A call that is cancelled or fails mid-exchange
closes its connection, since what is still in flight on it is unknown. :class:`WirePool` is the
production :class:`~connectors.transport.Transport` as it stands (no wrapper, no call more per
request) and raises only that contract's errors: ``OSError`` subclasses (:class:`ConnectFailed`,
:class:`ConnectionDropped`), ``TimeoutError``, TLS errors from :mod:`ssl`, and
:class:`MalformedResponse`; ``connectors/http.py`` maps them.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlencode, urlsplit

import httptools

from connectors.transport import (
    KEEPALIVE_S,
    MAX_RESPONSE_BYTES,
    ConnectFailed,
    ConnectionDropped,
    MalformedResponse,
    Params,
)

__all__ = [
    "KEEPALIVE_S",
    "WirePool",
    "url_problem",
]

_NO_BODY_STATUS = frozenset({204, 304})


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one exchange at a time."""

    def __init__(self, pool: WirePool) -> None:
        self._pool = pool
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self._head_only = False
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._headers_done = False
        self._framed = False  # Content-Length or chunked: the body's end is known
        self._encoding = b""
        self._chunks: list[bytes] = []
        self._size = 0
        self._complete = False
        self._keep_alive = False

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing asked for: an idle connection must stay silent
            self._close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(MalformedResponse("the agency switched protocols"))
            return
        except httptools.HttpParserError as exc:
            self._fail(MalformedResponse(f"{exc.__class__.__name__}: {exc}"))
            return
        if self._size > MAX_RESPONSE_BYTES:
            self._fail(MalformedResponse(f"response larger than {MAX_RESPONSE_BYTES} bytes"))
        elif self._complete or (self._head_only and self._headers_done):
            self._finish(self._keep_alive and not self._head_only)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._headers_done and not self._framed and not self._head_only:
                self._finish(False)  # a body delimited by the end of the connection
            else:
                dropped = ConnectionDropped(
                    "the agency closed the connection before the response was complete"
                )
                dropped.__cause__ = exc
                waiter.set_exception(dropped)
                self._waiter = None
        self._pool._lost(self)

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:  # bytes after the response we asked for: nothing may follow it
            raise MalformedResponse("the agency sent more than one response")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._size += len(name) + len(value)  # headers count towards the limit too
        lower = name.lower()
        if lower == b"content-length" or lower == b"transfer-encoding":
            self._framed = True
        elif lower == b"content-encoding":
            self._encoding = value.strip().lower()

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._headers_done = True
        if self._status in _NO_BODY_STATUS:
            self._framed = True

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size <= MAX_RESPONSE_BYTES:
            self._chunks.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim response (103 Early Hints): the real follows
            self._reset()
            return
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()  # only valid inside the callback

    # -- the exchange ------------------------------------------------------------------------

    def send(self, data: bytes, head_only: bool) -> asyncio.Future[tuple[int, bytes, bool]]:
        """Write one request; the future gives (status, body, reusable)."""
        assert self.transport is not None and self._waiter is None
        self._head_only = head_only
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def _finish(self, reusable: bool) -> None:
        waiter, status = self._waiter, self._status
        body = b"".join(self._chunks) if len(self._chunks) != 1 else self._chunks[0]
        encoding = self._encoding
        self._waiter = None
        self._reset()
        if waiter is None or waiter.done():
            return
        if encoding and encoding != b"identity":
            try:
                body = _inflate(encoding, body)
            except (zlib.error, MalformedResponse) as exc:
                waiter.set_exception(MalformedResponse(f"cannot decode the body: {exc}"))
                self._close()
                return
        waiter.set_result((status, body, reusable))
        if not reusable:
            self._close()

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self._close()

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        self._waiter = None
        if self.transport is not None:
            self.transport.abort()


def _inflate(encoding: bytes, body: bytes) -> bytes:
    """The body decoded, never more than ``MAX_RESPONSE_BYTES`` of it (a small compressed body
    can expand without bound)."""
    if encoding in (b"gzip", b"x-gzip"):
        return _bounded(body, 16 + zlib.MAX_WBITS)
    if encoding == b"deflate":
        try:
            return _bounded(body, zlib.MAX_WBITS)
        except zlib.error:
            return _bounded(body, -zlib.MAX_WBITS)  # raw deflate, as some servers send
    raise MalformedResponse(f"unsupported content-encoding {encoding.decode('latin-1')!r}")


def _bounded(body: bytes, wbits: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(body, MAX_RESPONSE_BYTES)
    if inflater.unconsumed_tail:
        raise MalformedResponse(f"decoded body larger than {MAX_RESPONSE_BYTES} bytes")
    return out + inflater.flush()


def url_problem(url: str, schemes: Sequence[str] = ("http", "https"), *, base: bool = True) -> str:
    """What keeps ``url`` from being one the gateway can connect to, or "": a scheme of
    ``schemes``, a host, a port from 1 to 65535 if it names one, no user or password (a URL is
    shown and logged; secrets have settings of their own), and for a ``base`` URL, to which the
    caller appends its own paths and queries, no query or fragment. The settings check agency
    URLs with it at start (gateway/settings.py), so that a wrong one is a configuration error
    naming its key, not a crash when the connectors are built."""
    must = f"must be an {' or '.join(f'{s}://' for s in schemes)} URL with a host"
    try:
        parts = urlsplit(url)
    except ValueError:  # unbalanced brackets around an IPv6 address
        return must
    if parts.scheme not in schemes or not parts.hostname:
        return must
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = 0
    if port == 0:
        return "the port must be a number from 1 to 65535"
    if parts.username is not None or parts.password is not None:
        return "no user or password in the URL"
    if base and (parts.query or parts.fragment):
        return "no query or fragment: the gateway appends its own paths to the URL"
    return ""


class WirePool:
    """Keep-alive connections to one ``http://`` or ``https://`` origin, at most ``limit`` open;
    a call beyond that waits for one to come free. A :class:`~connectors.transport.Transport`."""

    def __init__(
        self,
        base_url: str,
        tls: ssl.SSLContext | None,
        limit: int = 64,
        connect_timeout_s: float = 2.0,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        if problem := url_problem(base_url):
            raise ValueError(f"not an http(s) base URL: {problem}: {base_url!r}")
        parts = urlsplit(base_url)
        default_port = 443 if parts.scheme == "https" else 80
        self.host = parts.hostname or ""  # url_problem: there is one
        self.port = parts.port or default_port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._host_header = host if self.port == default_port else f"{host}:{self.port}"
        self._prefix = parts.path.rstrip("/")
        self._ssl = tls if parts.scheme == "https" else None
        self._limit = max(1, limit)
        self._connect_timeout_s = connect_timeout_s
        self._keepalive_s = keepalive_s
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._connecting = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def head(
        self, method: str, path: str, params: Params | None, headers: Mapping[str, str], size: int
    ) -> bytes:
        """The request line and headers, ending in the blank line."""
        target = quote(self._prefix + path, safe="/%:@!$&'()*+,;=-._~")
        if params:
            pairs = [
                (key, item)
                for key, value in params.items()
                for item in ((value,) if isinstance(value, str) else value)
            ]
            if pairs:
                target += "?" + urlencode(pairs, quote_via=quote)
        fields = [f"{name}: {value}\r\n" for name, value in headers.items()]
        if size or method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            fields.append(f"Content-Length: {size}\r\n")
        block = "".join(fields)
        lines = len(fields)
        if block.count("\n") != lines or block.count("\r") != lines or "\0" in block:
            raise ValueError("a header name or value holds a line break or NUL")
        return f"{method} {target} HTTP/1.1\r\nHost: {self._host_header}\r\n{block}\r\n".encode(
            "latin-1"
        )

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None,
        content: bytes | None,
        headers: Mapping[str, str],
    ) -> tuple[int, bytes]:
        body = content or b""
        data = self.head(method, path, params, headers, len(body)) + body
        conn = await self._acquire()
        try:
            status, answer, reusable = await conn.send(data, method == "HEAD")
        except BaseException:
            conn.abort()  # cancelled or failed mid-exchange: what is in flight is unknown
            self._release(conn, False)
            raise
        self._release(conn, reusable)
        return status, answer

    async def _acquire(self) -> _Connection:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise ConnectionDropped("the agency client is closed")
            now = loop.time()
            while self._idle:
                conn = self._idle.pop()  # the newest: the least likely to have timed out
                if not conn.closed and now - conn.idle_since < self._keepalive_s:
                    return conn
                conn._close()
                self._open.discard(conn)
            if len(self._open) + self._connecting < self._limit:
                return await self._connect()
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken, then cancelled: pass the free slot on
                raise

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        self._connecting += 1
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl is not None else None,
                )
        except BaseException as exc:
            self._wake()  # the slot this connect held is free again
            if isinstance(exc, TimeoutError):
                raise TimeoutError(
                    f"connecting to {self.host}:{self.port} took more than"
                    f" {self._connect_timeout_s:g} s"
                ) from None
            if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError):
                where = f"{self.host}:{self.port}"
                raise ConnectFailed(f"cannot connect to {where}: {exc}") from exc
            raise  # TLS errors as they are: connectors/tls.py reads them
        finally:
            self._connecting -= 1
        self._open.add(conn)
        return conn

    def _release(self, conn: _Connection, reusable: bool) -> None:
        if reusable and not conn.closed and not self._closed:
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.append(conn)
        else:
            conn._close()
            self._open.discard(conn)
        self._wake()

    def _lost(self, conn: _Connection) -> None:
        self._open.discard(conn)
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._open):
            conn._close()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        await asyncio.sleep(0)  # let the transports run their connection_lost
