"""Web plumbing shared by the agency apps: errors, JSON responses, request parsing, app assembly.

An endpoint raises :class:`ApiError` for any client or server error; :func:`build_app` turns it,
and Starlette's own 404/405, into the agency's error format through the agency's
``render_error`` (see :mod:`sandbox.faults`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kernel.identifiers import InvalidIdentifier, check_resident_id, check_uscc
from sandbox.faults import ErrorRenderer, FaultMiddleware, Faults, Stats, sandbox_routes

__all__ = [
    "ApiError",
    "build_app",
    "check_keys",
    "check_party_id",
    "json_response",
    "query_int",
    "query_values",
]


class ApiError(Exception):
    """An error to answer with ``status``; rendered in the agency's own error format."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(
    content: Any, status: int = 200, media_type: str = "application/json"
) -> Response:
    """A JSON response serialised with orjson."""
    return Response(orjson.dumps(content), status, media_type=media_type)


def build_app(
    routes: Sequence[BaseRoute],
    render_error: ErrorRenderer,
    faults: Faults | None = None,
    max_body_size: int = 1 << 20,
) -> Starlette:
    """An agency app: its routes, the ``/_sandbox`` routes, fault injection, agency errors.

    The app's ``state`` holds ``faults`` and ``stats``.
    """
    faults = faults if faults is not None else Faults()
    stats = Stats()

    def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return render_error(exc.status, exc.message)

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return render_error(exc.status_code, exc.detail)

    def server_error(request: Request, exc: Exception) -> Response:
        # Starlette still re-raises the exception afterwards, so the server logs it.
        return render_error(500, "internal error")

    app = Starlette(
        routes=[*routes, *sandbox_routes(faults, stats, render_error)],
        middleware=[
            Middleware(FaultMiddleware, faults=faults, stats=stats, render_error=render_error)
        ],
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        max_body_size=max_body_size,
    )
    app.state.faults = faults
    app.state.stats = stats
    return app


# -------------------------------------------------------------------------------- requests


def query_values(request: Request, name: str) -> list[str]:
    """All values of a query parameter, repeated (``a=1&a=2``) or comma-separated (``a=1,2``)."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def query_int(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter within [minimum, maximum]; 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be from {minimum} to {maximum}, got {value}")
    return value


def check_keys(
    values: Iterable[str], check: Callable[[str], str], limit: int | None = None
) -> list[str]:
    """Validate and normalise lookup keys, dropping duplicates; 400 on the first bad one, or
    if more than ``limit`` keys are given."""
    values = list(values)
    if limit is not None and len(values) > limit:
        raise ApiError(400, f"at most {limit} keys per call, got {len(values)}")
    keys: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str):
            raise ApiError(400, f"keys must be strings, got {value!r}")
        try:
            keys[check(value)] = None
        except InvalidIdentifier as exc:
            raise ApiError(400, f"{exc} ({value!r})") from None
    return list(keys)


def check_party_id(value: str) -> str:
    """A party is a person (resident ID) or an enterprise (USCC); either must be valid."""
    try:
        return check_resident_id(value)
    except InvalidIdentifier as as_person:
        try:
            return check_uscc(value)
        except InvalidIdentifier:
            raise InvalidIdentifier(
                "party id",
                f"neither a valid resident ID ({as_person.reason}) nor a valid USCC",
            ) from None
