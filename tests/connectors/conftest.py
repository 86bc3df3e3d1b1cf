"""The real connectors pointed at the session's sandbox agencies (real HTTP on loopback), and the
same agencies served again over mutual TLS with a CA made for the session."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from connectors.base import Connector
from connectors.registry import AgencySettings, build_connectors
from connectors.tls import AgencyTLS
from sandbox.banking import DEFAULT_KEY
from sandbox.credit import DEFAULT_INSTITUTION, DEFAULT_PASSWORD
from sandbox.runner import serve_sandbox
from sandbox.tls import CertificateFiles, ServerTLS, ensure_certificates
from sandbox.world import World


@pytest_asyncio.fixture
async def connectors(urls: dict[str, str]) -> AsyncIterator[dict[str, Connector]]:
    built = build_connectors(
        {
            name: AgencySettings(
                url=url,
                timeout_s=5.0,
                key=DEFAULT_KEY,
                institution=DEFAULT_INSTITUTION,
                password=DEFAULT_PASSWORD.encode(),
            )
            for name, url in urls.items()
        }
    )
    yield built
    for connector in built.values():
        await connector.aclose()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """The session's sandbox CA, server and gateway client certificates."""
    return ensure_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def gateway_tls(certs: CertificateFiles) -> AgencyTLS:
    """What the gateway needs to reach the TLS agencies: their CA and its client certificate."""
    return AgencyTLS(certs.ca, certs.client_cert, certs.client_key)


@pytest_asyncio.fixture(scope="session")
async def tls_urls(world: World, certs: CertificateFiles) -> AsyncIterator[dict[str, str]]:
    """The five agencies over HTTPS, accepting only clients with a certificate from ``certs``."""
    loop = asyncio.get_running_loop()
    bound: asyncio.Future[dict[str, str]] = loop.create_future()
    server = asyncio.create_task(
        serve_sandbox(world, ready=bound.set_result, tls=ServerTLS(certs, require_client_cert=True))
    )
    waiters: list[asyncio.Future[Any]] = [server, bound]
    await asyncio.wait(waiters, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if server.done():
        server.result()
    assert bound.done(), "the TLS sandbox did not start in time"
    yield bound.result()
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server


@pytest.fixture
def other_ca(tmp_path: Path) -> CertificateFiles:
    """A second, unrelated CA with its own server and client certificates."""
    return ensure_certificates(tmp_path / "other")
