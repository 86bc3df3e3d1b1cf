"""The real connectors pointed at the session's sandbox agencies (real HTTP on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from connectors.base import Connector
from connectors.registry import build_connectors
from gateway.settings import AgencySettings
from sandbox.banking import DEFAULT_KEY


@pytest_asyncio.fixture
async def connectors(urls: dict[str, str]) -> AsyncIterator[dict[str, Connector]]:
    built = build_connectors(
        {
            name: AgencySettings(url=url, timeout_s=5.0, key=DEFAULT_KEY)
            for name, url in urls.items()
        }
    )
    yield built
    for connector in built.values():
        await connector.aclose()
