"""Transport and agency failures become the project's own errors at the connector boundary."""

from __future__ import annotations

import socket

import httpx
import pytest

from connectors.base import Connector
from connectors.errors import AgencyRejected, AgencyTimeout, AgencyUnavailable
from connectors.http import AgencyHTTP, TransportSettings
from connectors.police import PoliceConnector
from connectors.transport import HttpxTransport
from sandbox.faults import Faults
from sandbox.world import World


@pytest.mark.parametrize("agency", ["police", "market", "banking", "courts"])
async def test_a_down_agency_is_unavailable(
    agency: str, connectors: dict[str, Connector], clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults[agency].update({"down": True})
    kind, by = next(iter(connectors[agency].lookups.items()))
    with pytest.raises(AgencyUnavailable) as caught:
        await connectors[agency].fetch_many(kind, by[0], ["x"], frozenset())
    assert caught.value.agency == agency
    assert caught.value.code == "AGENCY_UNAVAILABLE"


async def test_a_slow_agency_times_out(
    urls: dict[str, str], clean_faults: dict[str, Faults]
) -> None:
    clean_faults["police"].update({"latency_ms": 500})
    slow = PoliceConnector(TransportSettings(urls["police"], timeout_s=0.1))
    try:
        with pytest.raises(AgencyTimeout):
            await slow.fetch_many("person", "id_number", ["11010519491231002X"], frozenset())
    finally:
        await slow.aclose()


async def test_a_closed_port_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = PoliceConnector(TransportSettings(f"http://127.0.0.1:{port}", timeout_s=1.0))
    try:
        with pytest.raises(AgencyUnavailable):
            await dead.fetch_many("person", "id_number", ["11010519491231002X"], frozenset())
    finally:
        await dead.aclose()


async def test_an_error_body_echoing_identifiers_reaches_no_log_line() -> None:
    """An agency's error text goes to the operators' log: identifiers it echoes are left out."""
    asked = "11010519491231002X"
    body = (
        f'{{"title": "Bad Request", "status": 400, "detail": "no person {asked}; account'
        ' 6222020000000000003, case (2026)京0102执1901号, see J1101052026000123"}'
    )

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=body)

    police = AgencyHTTP(
        "police",
        TransportSettings("http://police.test"),
        transport=HttpxTransport("http://police.test", transport=httpx.MockTransport(reply)),
    )
    try:
        with pytest.raises(AgencyRejected) as caught:
            await police.get("/persons", {"id": asked})
    finally:
        await police.aclose()
    detail = str(caught.value)
    assert "Bad Request" in detail and "400" in detail  # still says what went wrong
    for identifier in (asked, "6222020000000000003", "0102", "1901", "J1101052026000123"):
        assert identifier not in detail
