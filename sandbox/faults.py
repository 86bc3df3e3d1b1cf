"""Fault knobs and request statistics, shared by the five sandbox agencies.

Each agency app is wrapped in :class:`FaultMiddleware` and also serves :func:`sandbox_routes`:

- ``GET /_sandbox/faults`` → ``{"latency_ms": 0, "error_rate": 0.0, "down": false}``
- ``PUT /_sandbox/faults`` with any subset of those keys → the new settings
- ``GET /_sandbox/stats`` → ``{"requests": N, "by_path": {...}}``; ``DELETE`` resets them

Only API requests (anything outside ``/_sandbox/``) are delayed, failed and counted. Failures
are rendered in the agency's own error format by the ``render_error`` callable the agency
passes in.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "SANDBOX_PREFIX",
    "ErrorRenderer",
    "FaultMiddleware",
    "Faults",
    "Stats",
    "sandbox_routes",
]

SANDBOX_PREFIX = "/_sandbox/"

ErrorRenderer = Callable[[int, str], Response]
"""Renders an error in an agency's own format: ``(http_status, message) -> response``."""


@dataclass
class Faults:
    """Fault settings of one agency; mutable, changed at run time through ``PUT /_sandbox/faults``.

    ``error_rate`` failures are drawn from the instance's own ``random.Random(seed)``, so a
    given sequence of requests fails the same way on every run.
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    down: bool = False
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.update(self.as_dict())  # validate the constructor's values

    def as_dict(self) -> dict[str, Any]:
        """The settings as ``GET /_sandbox/faults`` returns them."""
        return {"latency_ms": self.latency_ms, "error_rate": self.error_rate, "down": self.down}

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a subset of the settings; raises ``ValueError`` naming the bad key or value."""
        unknown = sorted(set(changes) - {"latency_ms", "error_rate", "down"})
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        latency = changes.get("latency_ms", self.latency_ms)
        rate = changes.get("error_rate", self.error_rate)
        down = changes.get("down", self.down)
        if isinstance(latency, bool) or not isinstance(latency, int) or latency < 0:
            raise ValueError("latency_ms must be a non-negative integer")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ValueError("error_rate must be a number from 0 to 1")
        if not isinstance(down, bool):
            raise ValueError("down must be true or false")
        self.latency_ms, self.error_rate, self.down = latency, float(rate), down

    def should_fail(self) -> bool:
        """Draw whether the next API request fails (with probability ``error_rate``)."""
        return self.error_rate > 0 and self._rng.random() < self.error_rate


@dataclass
class Stats:
    """API request counts by path."""

    by_path: dict[str, int] = field(default_factory=dict)

    def count(self, path: str) -> None:
        self.by_path[path] = self.by_path.get(path, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"requests": sum(self.by_path.values()), "by_path": dict(self.by_path)}

    def reset(self) -> None:
        self.by_path.clear()


class FaultMiddleware:
    """ASGI middleware: counts API requests, then applies ``down``, latency and error rate."""

    def __init__(
        self, app: ASGIApp, faults: Faults, stats: Stats, render_error: ErrorRenderer
    ) -> None:
        self.app = app
        self.faults = faults
        self.stats = stats
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(SANDBOX_PREFIX):
            await self.app(scope, receive, send)
            return
        self.stats.count(path)
        faults = self.faults
        if faults.down:
            response = self.render_error(503, "service unavailable (sandbox fault: down)")
            await response(scope, receive, send)
            return
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.should_fail():
            response = self.render_error(500, "internal error (sandbox fault: error_rate)")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json")


def sandbox_routes(faults: Faults, stats: Stats, render_error: ErrorRenderer) -> list[Route]:
    """The ``/_sandbox/faults`` and ``/_sandbox/stats`` routes for one agency app."""

    async def get_faults(request: Request) -> Response:
        return _json(faults.as_dict())

    async def put_faults(request: Request) -> Response:
        try:
            changes = orjson.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object")
            faults.update(changes)
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            return render_error(400, str(exc))
        return _json(faults.as_dict())

    async def get_stats(request: Request) -> Response:
        return _json(stats.as_dict())

    async def delete_stats(request: Request) -> Response:
        stats.reset()
        return _json(stats.as_dict())

    return [
        Route(f"{SANDBOX_PREFIX}faults", get_faults, methods=["GET"]),
        Route(f"{SANDBOX_PREFIX}faults", put_faults, methods=["PUT"]),
        Route(f"{SANDBOX_PREFIX}stats", get_stats, methods=["GET"]),
        Route(f"{SANDBOX_PREFIX}stats", delete_stats, methods=["DELETE"]),
    ]
