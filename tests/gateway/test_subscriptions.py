"""The graphql-transport-ws endpoint over a real WebSocket (uvicorn on loopback): the
connection's life, its authentication and declaration, and the protocol's close codes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from tests.gateway.subscribing import Served, client, served


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Served]:
    async with served(tmp_path, init_timeout_s=0.5, max_per_connection=2) as gateway:
        yield gateway


async def test_the_connection_is_acknowledged_and_answers_pings(live: Served) -> None:
    async with client(live.url) as ws:
        assert ws.ws.subprotocol == "graphql-transport-ws"
        await ws.send({"type": "ping"})  # allowed before connection_init too
        assert await ws.receive() == {"type": "pong"}
        assert await ws.init(live.init()) == {"type": "connection_ack"}
        await ws.send({"type": "ping", "payload": {"at": 1}})
        assert await ws.receive() == {"type": "pong"}
        await ws.send({"type": "pong"})  # unanswered
        assert await ws.quiet(0.2) == []


async def test_no_connection_init_in_time_closes_4408(live: Served) -> None:
    async with client(live.url) as ws:
        started = time.monotonic()
        assert await ws.closed() == (4408, "Connection initialisation timeout")
        assert 0.4 < time.monotonic() - started < 3


async def test_a_second_connection_init_closes_4429(live: Served) -> None:
    async with client(live.url) as ws:
        await ws.init(live.init())
        await ws.send({"type": "connection_init", "payload": live.init()})
        assert await ws.closed() == (4429, "Too many initialisation requests")


async def test_subscribe_before_the_ack_closes_4401(live: Served) -> None:
    async with client(live.url) as ws:
        await ws.subscribe("1", "subscription { majorEvents { eventId } }")
        assert await ws.closed() == (4401, "Unauthorized")


@pytest.mark.parametrize(
    "message",
    ["not json", '["a list"]', '{"type": 1}', '{"type": "next", "id": "1"}', '{"no": "type"}'],
)
async def test_what_is_not_the_protocol_closes_4400(live: Served, message: str) -> None:
    async with client(live.url) as ws:
        await ws.init(live.init())
        await ws.ws.send(message)
        assert await ws.closed() == (4400, "Invalid message")


async def test_binary_frames_close_4400(live: Served) -> None:
    async with client(live.url) as ws:
        await ws.ws.send(b'{"type": "ping"}')
        assert await ws.closed() == (4400, "Invalid message")


async def test_a_subscribe_without_id_closes_4400(live: Served) -> None:
    async with client(live.url) as ws:
        await ws.init(live.init())
        await ws.send({"type": "subscribe", "payload": {"query": "subscription { x }"}})
        assert await ws.closed() == (4400, "Invalid message")


async def test_without_the_subprotocol_closes_4406(live: Served) -> None:
    async with client(live.url, protocol=False) as ws:
        assert await ws.closed() == (4406, "Subprotocol not acceptable")


async def test_an_origin_not_allowed_is_refused_before_the_handshake(live: Served) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with client(live.url, origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403


async def test_an_allowed_origin_connects(tmp_path: Path) -> None:
    from gateway.app import create_app
    from tests.gateway.conftest import open_harness
    from tests.gateway.subscribing import serving

    origin = "https://app.agency.example"
    async with (
        open_harness(tmp_path, cors_allowed_origins=(origin,)) as harness,
        serving(create_app(harness.gateway)) as where,
        client(f"ws://{where}/graphql", origin=origin) as ws,
    ):
        await ws.send({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "Forbidden"),  # no token
        ({"Authorization": "Bearer not.a.token", "X-Purpose": "investigation"}, "Forbidden"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Forbidden"),
    ],
)
async def test_a_bad_or_missing_token_closes_4403_saying_nothing_more(
    live: Served, payload: dict[str, str], reason: str
) -> None:
    async with client(live.url) as ws:
        await ws.send({"type": "connection_init", "payload": payload})
        assert await ws.closed() == (4403, reason)
    refused = live.harness.audit.records[-1]
    assert refused.operation_type == "subscription" and refused.outcome == "refused"
    assert refused.error_codes == ["UNAUTHENTICATED"] and refused.status == 401


async def test_an_expired_token_is_refused(live: Served) -> None:
    async with client(live.url) as ws:
        await ws.send({"type": "connection_init", "payload": live.init(ttl_s=-120)})
        assert await ws.closed() == (4403, "Forbidden")


async def test_a_case_not_assigned_closes_4403(live: Served) -> None:
    async with client(live.url) as ws:
        # a well-formed police case number the registry does not hold
        payload = live.init("court.clerk", case="J1101052026000099")
        await ws.send({"type": "connection_init", "payload": payload})
        assert await ws.closed() == (4403, "Forbidden: CASE_NOT_ASSIGNED")
    refused = live.harness.audit.records[-1]
    assert refused.subject == "court.clerk" and refused.case_id == "J1101052026000099"
    assert refused.error_codes == ["CASE_NOT_ASSIGNED"]


async def test_no_purpose_closes_4403(live: Served) -> None:
    async with client(live.url) as ws:
        payload = live.init()
        del payload["X-Purpose"]
        await ws.send({"type": "connection_init", "payload": payload})
        assert await ws.closed() == (4403, "Forbidden: PURPOSE_REQUIRED")


async def test_the_connection_ends_when_the_token_expires(live: Served) -> None:
    """At the token's exp, by a timer: no event needs to arrive for it."""
    async with client(live.url) as ws:
        assert await ws.init(live.init(ttl_s=2)) == {"type": "connection_ack"}
        started = time.time()
        assert await ws.closed(within=5) == (4401, "Unauthorized: the token expired")
        assert time.time() - started < 3.5


async def test_a_query_over_the_socket_is_refused_with_an_error(live: Served) -> None:
    async with client(live.url) as ws:
        await ws.init(live.init())
        await ws.subscribe("q1", "{ __typename }")
        answer = await ws.receive()
        assert answer["id"] == "q1" and answer["type"] == "error"
        assert answer["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
        await ws.send({"type": "ping"})  # the connection stays open
        assert await ws.receive() == {"type": "pong"}
    record = live.harness.audit.records[-1]
    assert record.operation_type == "query" and record.outcome == "refused"


async def test_an_invalid_document_is_an_error_for_that_id(live: Served) -> None:
    async with client(live.url) as ws:
        await ws.init(live.init())
        await ws.subscribe("bad", "subscription { noSuchField }")
        answer = await ws.receive()
        assert answer["id"] == "bad" and answer["type"] == "error"
        assert answer["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_the_socket_survives_the_client_going_away(live: Served) -> None:
    async with client(live.url) as ws:
        await ws.init(live.init())
    await asyncio.sleep(0.1)
    async with client(live.url) as ws:  # the server is still serving
        assert await ws.init(live.init()) == {"type": "connection_ack"}
