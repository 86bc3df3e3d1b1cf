"""A gateway served by uvicorn on a free loopback port, and a graphql-transport-ws client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from gateway.app import Gateway, create_app
from gateway.ratelimit_settings import RateLimits
from gateway.subscription_settings import SubscriptionSettings
from office.desk import OfficeDesk
from office.settings import OfficeSettings
from sandbox.issuer import mint_token
from tests.demo_process import free_port
from tests.gateway.conftest import Harness, open_harness

PROTOCOL = Subprotocol("graphql-transport-ws")


@dataclass
class Served:
    harness: Harness
    url: str  # ws://127.0.0.1:PORT/graphql

    def init(
        self,
        user: str = "jit.member",
        purpose: str = "investigation",
        case: str | None = "JIT-2026-001",
        ttl_s: int = 3600,
    ) -> dict[str, str]:
        payload = {
            "Authorization": f"Bearer {mint_token(user, self.harness.data_dir, ttl_s=ttl_s)}",
            "X-Purpose": purpose,
        }
        if case is not None:
            payload["X-Case-Id"] = case
        return payload


@contextlib.asynccontextmanager
async def serving(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """``app`` served by uvicorn (lifespan included) on 127.0.0.1; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        # log_config None: uvicorn leaves the process's logging alone (its own stops
        # uvicorn.error from reaching the root logger, which later tests read)
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def with_desk(gateway: Gateway) -> OfficeDesk:
    """The office's desk as the app wires it: publishing to the bus, seen by subscriptions."""
    office = gateway.office
    assert office is not None and gateway.subscriptions is not None
    assert gateway.subscriptions.desk is office and gateway.sweep is not None
    assert gateway.bus is not None and gateway.events == gateway.bus.publish
    return office


@contextlib.asynccontextmanager
async def served(
    data_dir: Path,
    channel: str | None = None,
    office: OfficeSettings | None = None,
    rate_limits: RateLimits | None = None,
    **subscriptions: Any,
) -> AsyncIterator[Served]:
    """A gateway over the small world (tests/gateway/conftest.py), with the office's desk, on a
    real socket."""
    settings = SubscriptionSettings(
        channel=channel or f"jointgate:test-events:{uuid.uuid4().hex}", **subscriptions
    )
    more: dict[str, Any] = {"office": office} if office is not None else {}
    if rate_limits is not None:
        more["rate_limits"] = rate_limits
    async with open_harness(data_dir, subscriptions=settings, **more) as harness:
        with_desk(harness.gateway)
        async with serving(create_app(harness.gateway)) as where:
            yield Served(harness, f"ws://{where}/graphql")


class Client:
    """One graphql-transport-ws connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, within: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            body: dict[str, Any] = json.loads(await self.ws.recv())
        return body

    async def init(self, payload: dict[str, str]) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(self, id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.send({"id": id, "type": "subscribe", "payload": payload})

    async def closed(self, within: float = 5.0) -> tuple[int | None, str]:
        """Wait for the server to close; its code and reason."""
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(within):
                while True:
                    await self.ws.recv()
        assert self.ws.close_code is not None, "still open"
        return self.ws.close_code, self.ws.close_reason or ""

    async def quiet(self, seconds: float = 0.5) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (nothing, we hope)."""
        got: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    got.append(json.loads(await self.ws.recv()))
        return got


@contextlib.asynccontextmanager
async def client(
    url: str, protocol: bool = True, origin: str | None = None
) -> AsyncIterator[Client]:
    async with connect(
        url,
        subprotocols=[PROTOCOL] if protocol else None,
        origin=origin,  # type: ignore[arg-type]
        open_timeout=5,
    ) as ws:
        yield Client(ws)


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for ``condition()`` (polled), at most ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)
