"""Sending a request through both executors of one in-process gateway, and comparing.

Each request is sent twice, once with the compiled executor (``Executor.compiled``) and once
with graphql-core, and the answers must be equal: status, JSON body (data, and errors as an
ordered list: graphql-core's order is deterministic here, so it must be the same) and the agency
calls made, in order (same DataLoader batches).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt

from gateway.execute import Executor
from kernel.types import Principal
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, load_or_create_keys
from tests.gateway.conftest import Harness


@dataclass
class Answer:
    status: int
    body: Any
    calls: dict[str, list[Any]]


def executor_of(harness: Harness) -> Executor:
    return harness.gateway.pipeline.executor


@functools.cache
def token_for(data_dir: Path, p: Principal) -> str:
    keys = load_or_create_keys(data_dir)
    now = int(time.time())
    claims = {"iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": p.subject, "agency": p.agency,
              "roles": sorted(p.roles), "clearance": p.clearance, "iat": now, "exp": now + 600}  # fmt: skip
    return jwt.encode({"alg": "ES256", "kid": keys.keys[0].kid}, claims, keys)


async def _send(harness: Harness, compiled: bool, post: Any, down: tuple[str, ...] = ()) -> Answer:
    executor = executor_of(harness)
    executor.compiled = compiled
    for agency in harness.agencies.values():
        agency.calls.clear()
        agency.down = agency.agency in down
    try:
        response: httpx.Response = await post()
    finally:
        executor.compiled = True
        for agency in harness.agencies.values():
            agency.down = False
    calls = {name: list(a.calls) for name, a in harness.agencies.items()}
    body = response.json()
    for error in body.get("errors", ()):  # internal errors quote their own request's id
        error.get("extensions", {}).pop("requestId", None)
    return Answer(response.status_code, body, calls)


async def both(
    harness: Harness, post: Any, down: tuple[str, ...] = (), *, fallback: bool = False
) -> Answer:
    """Send with each executor; assert the answers are the same; return the compiled one."""
    fast = executor_of(harness).fast
    # a cursor seals the second it expires: the same second for both executors, the same cursor
    executor_of(harness).cursors.clock = lambda: 1_800_000_000.0
    fallbacks = fast.fallbacks
    compiled = await _send(harness, True, post, down)
    assert fast.fallbacks == fallbacks + fallback, "ran on the wrong executor"
    reference = await _send(harness, False, post, down)
    assert compiled.status == reference.status
    assert compiled.body == reference.body
    assert compiled.calls == reference.calls
    return compiled


def query(
    harness: Harness, text: str, variables: dict[str, Any] | None = None, **kwargs: Any
) -> Any:
    return lambda: harness.query(text, variables, **kwargs)


def codes(body: Any) -> list[tuple[Any, str]]:
    return [(e.get("path"), e["extensions"]["code"]) for e in body.get("errors", ())]
