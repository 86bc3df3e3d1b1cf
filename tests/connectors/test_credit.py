"""The credit connector against the sandbox credit system over real HTTP: the SOAP envelope,
sections asked for only as the fields need, records, and faults mapped to the error tree."""

from __future__ import annotations

import httpx
import pytest

from connectors.base import Connector
from connectors.credit import CreditConnector, sections_for
from connectors.errors import AgencyProtocolError, AgencyRejected, AgencyUnavailable
from connectors.http import TransportSettings
from connectors.resilience import Resilience
from connectors.testing import CannedTransport
from sandbox.credit import DEFAULT_INSTITUTION, DEFAULT_PASSWORD
from sandbox.faults import Faults
from sandbox.world import World


def test_sections_follow_the_fields() -> None:
    assert sections_for(frozenset({"loans.amount", "worst_class"})) == ("Summary", "Loans")
    assert sections_for(frozenset({"queries"})) == ("Queries",)
    assert sections_for(frozenset()) == ()


async def test_reports_by_party(connectors: dict[str, Connector], world: World) -> None:
    s = world.scenario
    without = next(p for p in world.persons if p not in world.credit)
    keys = [s["enterprise_uscc"], s["person_id"], without]
    fields = frozenset({"name", "total_balance", "loans", "guarantees_received.party_id"})
    grouped = await connectors["credit"].fetch_many("credit_report", "party_id", keys, fields)
    assert list(grouped) == keys and grouped[without] == []
    (record,) = grouped[s["enterprise_uscc"]]
    want = world.credit[s["enterprise_uscc"]]
    assert record.kind == "credit_report" and record.key == s["enterprise_uscc"]
    assert set(record.data) == {
        "party_id", "name", "total_balance", "loans", "guarantees_received",
        "handling_code", "sensitivity", "linked_cases",
    }  # fmt: skip
    assert record.data["name"] == want["name"]
    assert record.data["total_balance"] == want["total_balance"]
    assert record.data["loans"] == want["loans"]  # every field, types and nulls as they were
    assert record.data["guarantees_received"] == [
        {"party_id": g["party_id"]} for g in want["guarantees_received"]
    ]
    assert record.labels == ("credit", "H2", 2, tuple(want["linked_cases"]))


async def test_only_the_sections_needed_are_asked_for(world: World) -> None:
    empty = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<cr:GetCreditReportsResponse xmlns:cr="urn:pbccrc:credit-reference:v1"/>'
        b"</soap:Body></soap:Envelope>"
    )
    canned = CannedTransport((200, empty))
    connector = CreditConnector(TransportSettings("http://credit.example"), "B1", b"pw", canned)
    party = world.scenario["person_id"]
    await connector.fetch_many("credit_report", "party_id", [party], frozenset({"queries.reason"}))
    (request,) = canned.exchanges
    body = request.content or b""
    assert b"<cr:Section>Queries</cr:Section>" in body
    assert b"Loans" not in body and b"Summary" not in body
    assert request.headers["content-type"] == "text/xml; charset=utf-8"
    assert "GetCreditReports" in request.headers["soapaction"]
    assert b"<wsse:Username>B1</wsse:Username>" in body
    assert "pw" not in repr(connector)


async def test_a_wrong_password_is_rejected(urls: dict[str, str], world: World) -> None:
    connector = CreditConnector(
        TransportSettings(urls["credit"]), DEFAULT_INSTITUTION, b"not-the-password"
    )
    try:
        with pytest.raises(AgencyRejected) as caught:
            await connector.fetch_many(
                "credit_report", "party_id", [world.scenario["person_id"]], frozenset({"name"})
            )
    finally:
        await connector.aclose()
    assert "ZX0101" in caught.value.detail
    assert caught.value.public_message == "The credit system could not answer this request."


async def test_bad_ids_are_rejected_without_the_id_in_the_detail(
    connectors: dict[str, Connector], world: World
) -> None:
    bad = world.scenario["person_id"][:-1] + "0"
    if bad == world.scenario["person_id"]:
        bad = bad[:-1] + "1"
    with pytest.raises(AgencyRejected) as caught:
        await connectors["credit"].fetch_many("credit_report", "party_id", [bad], frozenset())
    assert "ZX0301" in caught.value.detail and bad not in caught.value.detail


async def test_many_ids_are_split_into_calls_of_100(
    connectors: dict[str, Connector], world: World, urls: dict[str, str]
) -> None:
    async with httpx.AsyncClient() as client:
        await client.delete(f"{urls['credit']}/_sandbox/stats")
        keys = sorted(world.credit)[:230]
        grouped = await connectors["credit"].fetch_many(
            "credit_report", "party_id", keys, frozenset({"worst_class"})
        )
        stats = (await client.get(f"{urls['credit']}/_sandbox/stats")).json()
    assert stats["requests"] == 3
    assert all(len(grouped[k]) == 1 for k in keys)


async def test_down_is_unavailable(
    urls: dict[str, str], clean_faults: dict[str, Faults], world: World
) -> None:
    clean_faults["credit"].update({"down": True})
    connector = CreditConnector(
        TransportSettings(urls["credit"], resilience=Resilience(retries=0)),
        DEFAULT_INSTITUTION,
        DEFAULT_PASSWORD.encode(),
    )
    try:
        with pytest.raises(AgencyUnavailable, match="ZX0901"):
            await connector.fetch_many(
                "credit_report", "party_id", [world.scenario["person_id"]], frozenset({"name"})
            )
    finally:
        await connector.aclose()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, b'{"json": true}', AgencyProtocolError),
        (502, b"bad gateway", AgencyUnavailable),
        (200, b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', AgencyProtocolError),
        (200, b"<x/>", AgencyProtocolError),
        (200, b"<soap:Envelope", AgencyProtocolError),
    ],
)
async def test_answers_that_break_the_contract(status: int, body: bytes, error: type) -> None:
    canned = CannedTransport((status, body))
    connector = CreditConnector(
        TransportSettings("http://credit.example", resilience=Resilience(retries=0)),
        "B1",
        b"pw",
        canned,
    )
    with pytest.raises(error):
        await connector.fetch_many("credit_report", "party_id", ["x"], frozenset({"name"}))
