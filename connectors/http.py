"""The shared HTTP layer every agency connector uses.

One pooled keep-alive client per agency (aiohttp transport under httpx: about 3x the default
transport's throughput on this workload, see ARCHITECTURE.md), orjson decoding, and the single
place where transport and HTTP errors become :mod:`connectors.errors` types.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from connectors.base import Connector
from connectors.errors import (
    AgencyProtocolError,
    AgencyRejected,
    AgencyTimeout,
    AgencyUnavailable,
    ConnectorError,
)

Params = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """How to reach one agency system."""

    base_url: str
    timeout_s: float = 5.0
    connect_timeout_s: float = 2.0
    max_connections: int = 64
    fast_transport: bool = True


def _describe_error_body(body: bytes) -> str:
    """Best-effort one-line summary of an agency error body, for operators' logs only."""
    text = body[:300].decode("utf-8", "replace").replace("\n", " ")
    return text or "(empty body)"


@contextlib.contextmanager
def map_transport_errors(agency: str) -> Iterator[None]:
    """Turn every httpx error into the project's own tree, at the boundary."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise AgencyTimeout(agency, f"timed out: {exc.__class__.__name__}") from exc
    except httpx.HTTPError as exc:
        raise AgencyUnavailable(
            agency, f"transport error: {exc.__class__.__name__}: {exc}"
        ) from exc
    except TimeoutError as exc:
        raise AgencyTimeout(agency, "timed out (overall call deadline)") from exc
    except OSError as exc:
        raise AgencyUnavailable(agency, f"network error: {exc}") from exc


class AgencyHTTP:
    """A pooled client for one agency, returning decoded JSON or raising ConnectorError."""

    def __init__(
        self,
        agency: str,
        settings: TransportSettings,
        describe_error: Callable[[bytes], str] = _describe_error_body,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.agency = agency
        self.settings = settings
        self._describe_error = describe_error
        limits = httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
            keepalive_expiry=30.0,
        )
        if transport is None and settings.fast_transport:
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport(limits=limits)
        self._client = httpx.AsyncClient(
            base_url=settings.base_url,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            limits=limits,
            transport=transport,
            trust_env=False,
        )

    async def get(self, path: str, params: Params) -> Any:
        return await self.send("GET", path, params=params)

    async def post(self, path: str, body: bytes, headers: Mapping[str, str] | None = None) -> Any:
        all_headers = {"content-type": "application/json"}
        all_headers.update(headers or {})
        return await self.send("POST", path, content=body, headers=all_headers)

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        with map_transport_errors(self.agency):
            async with asyncio.timeout(self.settings.timeout_s):
                response = await self._client.request(
                    method, path, params=params, content=content, headers=headers
                )
                body = await response.aread()
        if response.status_code >= 500 or response.status_code == 429:
            raise AgencyUnavailable(
                self.agency, f"HTTP {response.status_code}: {self._describe_error(body)}"
            )
        if response.status_code >= 400:
            raise AgencyRejected(
                self.agency,
                f"HTTP {response.status_code}: {self._describe_error(body)}",
                response.status_code,
            )
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise AgencyProtocolError(self.agency, f"response is not JSON: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


class HTTPConnector(Connector):
    """A connector that reaches its agency over the shared HTTP layer."""

    def __init__(self, settings: TransportSettings) -> None:
        self.http = AgencyHTTP(self.agency, settings)

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
    "HTTPConnector",
    "TransportSettings",
    "expect",
    "map_transport_errors",
]
