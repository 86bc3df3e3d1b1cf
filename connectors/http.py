"""The shared HTTP layer every agency connector uses.

:class:`AgencyHTTP` builds each request (content type, signature, ``traceparent``), hands it to
the agency's :class:`~connectors.transport.Transport`, decodes the answer with orjson and is the
single place where transport and HTTP errors become :mod:`connectors.errors` types. The
transport is taken, not chosen here: by default one pool of keep-alive HTTP/1.1 connections per
agency (``connectors/wire.py``: asyncio protocols and httptools, leaner than aiohttp's client,
see docs/performance.md) with TLS to the agency's CA and our client certificate
(``connectors/tls.py``); tests hand in a double (``connectors/testing.py``, or httpx's through
:class:`~connectors.transport.HttpxTransport`), so everything above runs as it does in
production. Every exchange runs through the agency's
:class:`~connectors.resilience.AgencyGuard` (deadline, timeout, cap, retries, breaker), carries
the W3C ``traceparent`` of the current trace, and is a span of its own when the request is
recorded (:class:`ExchangeTelemetry`, set by ``gateway/telemetry.py``).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from connectors.base import Connector
from connectors.errors import (
    AgencyProtocolError,
    AgencyRejected,
    AgencyTimeout,
    AgencyTLSError,
    AgencyUnavailable,
    ConnectorError,
    causes,
)
from connectors.resilience import AgencyGuard, Resilience
from connectors.tls import AgencyTLS, client_context, describe_tls_failure
from connectors.transport import MalformedResponse, Params, Transport
from connectors.wire import WirePool

Decoder = Callable[[int, bytes], Any]
"""Turns an answer into a value or a :mod:`connectors.errors` error: ``(status, body) ->
value``; by default JSON, with 5xx and 429 unavailable and other 4xx rejected. An agency that
speaks another format (the credit system's SOAP/XML) gives its own."""

Signer = Callable[[str, str, bytes], Mapping[str, str]]
"""Headers that authenticate one attempt: ``(method, path, body) -> headers``; called afresh for
every attempt, so a retry carries a new nonce and timestamp."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PROPAGATOR = TraceContextTextMapPropagator()  # W3C traceparent only: no caller baggage onward


@dataclass(frozen=True, slots=True)
class ExchangeTelemetry:
    """How the HTTP layer reports to the gateway's telemetry (``gateway/telemetry.py``): a span
    per attempt from ``tracer`` while the request's trace is recorded, and ``ended(agency,
    seconds, outcome)`` once per call, retries included; outcome "ok" or the error's class."""

    tracer: Tracer
    ended: Callable[[str, float, str], None]


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """How to reach one agency system."""

    base_url: str
    timeout_s: float = 5.0
    connect_timeout_s: float = 2.0
    max_connections: int = 64
    resilience: Resilience = field(default_factory=Resilience)
    tls: AgencyTLS | None = None


# An agency's error text may echo what it was asked for (a resident ID, an account or case
# number); the summary goes to the operators' log, where no identifier belongs: every run of
# characters holding four digits or more is left out.
_IDENTIFIER_LIKE = re.compile(r"""[^\s"',:;{}\[\]()=]*[0-9]{4,}[^\s"',:;{}\[\]()=]*""")


def _describe_error_body(body: bytes) -> str:
    """Best-effort one-line summary of an agency error body, for operators' logs only, with
    anything that may be an identifier redacted."""
    text = body[:300].decode("utf-8", "replace").replace("\n", " ")
    return _IDENTIFIER_LIKE.sub("<redacted>", text) or "(empty body)"


describe_error_text = _describe_error_body  # for an agency's own decoder (connectors/credit.py)


@contextlib.contextmanager
def map_transport_errors(agency: str, over_tls: bool = False) -> Iterator[None]:
    """Turn every error of the transport contract (``connectors/transport.py``) into the
    project's own tree, at the boundary, whichever transport raised it."""
    try:
        yield
    except MalformedResponse as exc:
        raise AgencyProtocolError(agency, f"malformed HTTP response: {exc}") from exc
    except OSError as exc:  # TimeoutError, ConnectFailed, ConnectionDropped, ssl.SSLError
        tls = describe_tls_failure(exc, over_tls)
        if tls is not None:
            raise AgencyTLSError(agency, tls) from exc
        if _timed_out(exc):
            raise AgencyTimeout(agency, f"timed out: {exc.__class__.__name__}") from exc
        raise AgencyUnavailable(
            agency, f"transport error: {exc.__class__.__name__}: {exc}"
        ) from exc


def _timed_out(exc: BaseException) -> bool:
    return any(isinstance(e, TimeoutError) for e in causes(exc))


def wire_transport(settings: TransportSettings) -> WirePool:
    """The production transport to one agency: the wire client, with the agency's TLS.

    Raises ``OSError``/``ssl.SSLError`` if a TLS file cannot be read (``connectors/tls.py``)."""
    return WirePool(
        settings.base_url,
        client_context(settings.tls),
        settings.max_connections,
        settings.connect_timeout_s,
    )


class AgencyHTTP:
    """A client for one agency over ``transport`` (:func:`wire_transport` of the settings if
    none is given), returning decoded JSON or raising ConnectorError. A transport given is made
    for ``settings.base_url`` by the caller, with its own TLS and limits; from the settings this
    class reads the timeout, the resilience policy and whether the URL is https. It owns the
    transport: :meth:`aclose` closes it."""

    def __init__(
        self,
        agency: str,
        settings: TransportSettings,
        describe_error: Callable[[bytes], str] = _describe_error_body,
        transport: Transport | None = None,
        sign: Signer | None = None,
        decode: Decoder | None = None,
    ) -> None:
        self.agency = agency
        self.settings = settings
        self.guard = AgencyGuard(agency, settings.timeout_s, settings.resilience)
        self._describe_error = describe_error
        self._sign = sign
        self._decode = decode if decode is not None else self._decode_json
        self._over_tls = settings.base_url.startswith("https:")
        self.telemetry: ExchangeTelemetry | None = None  # set by Telemetry.instrument
        self.transport: Transport = transport if transport is not None else wire_transport(settings)

    @property
    def open_connections(self) -> int:
        """Connections open to the agency now, as the transport counts them."""
        return self.transport.open_connections

    async def get(self, path: str, params: Params) -> Any:
        return await self.send("GET", path, params=params)

    async def post(
        self,
        path: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        idempotent: bool = False,
    ) -> Any:
        """POST ``body``; retried on failure only if the caller says it is ``idempotent``
        (a lookup sent as POST), never by default."""
        all_headers = {"content-type": "application/json"}
        all_headers.update(headers or {})
        return await self.send(
            "POST", path, content=body, headers=all_headers, idempotent=idempotent
        )

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """One request under the agency's resilience policy. ``idempotent`` defaults to true
        for GET, HEAD and OPTIONS and false for everything else."""

        attempts = 0

        async def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            return await self._exchange(method, path, params, content, headers, attempts)

        if idempotent is None:
            idempotent = method.upper() in SAFE_METHODS
        telemetry = self.telemetry
        if telemetry is None:
            return await self.guard.call(attempt, idempotent=idempotent)
        started, outcome = time.perf_counter(), "ok"
        try:
            return await self.guard.call(attempt, idempotent=idempotent)
        except BaseException as exc:
            outcome = exc.__class__.__name__
            raise
        finally:
            telemetry.ended(self.agency, time.perf_counter() - started, outcome)

    async def _exchange(
        self,
        method: str,
        path: str,
        params: Params | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        attempt: int = 1,
    ) -> Any:
        all_headers = dict(headers or {})
        if self._sign is not None:
            all_headers.update(self._sign(method, path, content or b""))
        telemetry = self.telemetry
        if telemetry is None or not trace.get_current_span().is_recording():
            _PROPAGATOR.inject(all_headers)  # the trace continues at the agency, recorded or not
            return self._decode(*await self._request(method, path, params, content, all_headers))
        attributes: dict[str, str | int] = {
            "jointgate.agency": self.agency,
            "jointgate.attempt": attempt,
            "http.request.method": method,
            "url.path": path,  # never the query string or body: they hold the keys looked up
        }
        with telemetry.tracer.start_as_current_span(
            f"{self.agency} {method}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,  # messages may quote agency answers
            set_status_on_exception=False,
        ) as span:
            _PROPAGATOR.inject(all_headers)
            try:
                status, body = await self._request(method, path, params, content, all_headers)
                span.set_attribute("http.response.status_code", status)
                return self._decode(status, body)
            except BaseException as exc:
                span.set_status(StatusCode.ERROR)
                span.set_attribute("error.type", exc.__class__.__name__)
                raise

    async def _request(
        self,
        method: str,
        path: str,
        params: Params | None,
        content: bytes | None,
        headers: dict[str, str],
    ) -> tuple[int, bytes]:
        with map_transport_errors(self.agency, self._over_tls):
            return await self.transport.request(method, path, params, content, headers)

    def _decode_json(self, status: int, body: bytes) -> Any:
        if status >= 500 or status == 429:
            raise AgencyUnavailable(self.agency, f"HTTP {status}: {self._describe_error(body)}")
        if status >= 400:
            raise AgencyRejected(
                self.agency, f"HTTP {status}: {self._describe_error(body)}", status
            )
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise AgencyProtocolError(self.agency, f"response is not JSON: {exc}") from exc

    async def aclose(self) -> None:
        await self.transport.aclose()


class HTTPConnector(Connector):
    """A connector that reaches its agency over the shared HTTP layer; ``transport`` as for
    :class:`AgencyHTTP` (a test double's, or by default the wire client)."""

    def __init__(
        self,
        settings: TransportSettings,
        sign: Signer | None = None,
        transport: Transport | None = None,
        decode: Decoder | None = None,
    ) -> None:
        self.http = AgencyHTTP(self.agency, settings, transport=transport, sign=sign, decode=decode)

    def status(self) -> dict[str, Any]:
        return {**self.http.guard.status(), "connections": self.http.open_connections}

    async def aclose(self) -> None:
        await self.http.aclose()


def expect(agency: str, payload: Any, key: str) -> list[Any]:
    """``payload[key]`` as a list, or an AgencyProtocolError naming what was missing."""
    value = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(value, list):
        raise AgencyProtocolError(agency, f"response has no list '{key}'")
    return value


__all__ = [
    "AgencyHTTP",
    "ConnectorError",
    "Decoder",
    "ExchangeTelemetry",
    "HTTPConnector",
    "Signer",
    "TransportSettings",
    "describe_error_text",
    "expect",
    "map_transport_errors",
    "wire_transport",
]
