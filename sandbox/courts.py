"""The courts (法院) system: a GraphQL Apollo Federation v2 subgraph at ``POST /graphql``.

``_service { sdl }`` returns the SDL with ``@key`` directives; ``_entities(representations:)``
resolves ``CourtCase`` by ``caseNumber`` and ``Litigant`` by ``partyId``; ``courtCases`` looks
cases up by number. Errors are GraphQL errors with ``extensions.code``, also for HTTP-level
failures (bad JSON, unknown path, sandbox faults). See docs/sandbox.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from cross_web import HTTPException as StrawberryHTTPException
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionContext, ExecutionResult, Info

from kernel.identifiers import check_court_case_number
from sandbox.faults import Faults
from sandbox.http import ApiError, build_app, check_keys, check_party_id, json_response
from sandbox.world import Record, World

__all__ = ["CourtsContext", "create_app", "render_error", "schema"]

_STATUS_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    503: "SERVICE_UNAVAILABLE",
}


def _error(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


def render_error(status: int, message: str) -> Response:
    """HTTP-level failures as a GraphQL response with ``errors[].extensions.code``."""
    code = _STATUS_CODES.get(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "BAD_REQUEST")
    return json_response({"data": None, "errors": [_error(message, code)]}, status)


def _checked(value: Any, check: Callable[[str], str]) -> str:
    """A normalised identifier, or a GraphQL error coded ``BAD_USER_INPUT``."""
    try:
        (key,) = check_keys([value], check)
    except ApiError as exc:
        raise GraphQLError(exc.message, extensions={"code": "BAD_USER_INPUT"}) from None
    return key


@dataclass(frozen=True)
class CourtsContext:
    """What resolvers see as ``info.context``."""

    world: World


# -------------------------------------------------------------------------------- types


@strawberry.type
class Party:
    party_id: str
    name: str
    party_type: str
    role: str  # 原告/被告/被执行人/申请执行人


@strawberry.type
class Judgment:
    document_number: str
    decided_on: str
    outcome: str
    amount: float | None
    public: bool


@strawberry.type
class EnforcementRecord:
    case_number: str
    filed_on: str
    amount_owed: float
    amount_paid: float
    status: str
    measures: list[str]


@strawberry.type
class DefaulterEntry:
    listed_on: str
    obligation: str
    performance: str


@strawberry.federation.type(keys=["caseNumber"])
class CourtCase:
    case_number: str
    court: str
    cause_of_action: str
    stage: str
    filed_on: str
    parties: list[Party]
    judgments: list[Judgment]
    enforcement: list[EnforcementRecord]
    handling_code: str
    sensitivity: int
    linked_cases: list[str]

    @classmethod
    def from_record(cls, record: Record) -> CourtCase:
        return cls(
            case_number=record["case_number"],
            court=record["court"],
            cause_of_action=record["cause_of_action"],
            stage=record["stage"],
            filed_on=record["filed_on"],
            parties=[Party(**p) for p in record["parties"]],
            judgments=[Judgment(**j) for j in record["judgments"]],
            enforcement=[EnforcementRecord(**e) for e in record["enforcement"]],
            handling_code=record["handling_code"],
            sensitivity=record["sensitivity"],
            linked_cases=list(record["linked_cases"]),
        )

    @classmethod
    def lookup(cls, world: World, number: str) -> CourtCase | None:
        record = world.court_cases.get(number)
        return cls.from_record(record) if record is not None else None

    @classmethod
    def resolve_reference(
        cls, info: Info[CourtsContext, None], **representation: Any
    ) -> CourtCase | None:
        """``_entities`` for ``{__typename: "CourtCase", caseNumber: ...}``: null if unknown."""
        number = _checked(representation.get("caseNumber"), check_court_case_number)
        return cls.lookup(info.context.world, number)


@strawberry.federation.type(keys=["partyId"])
class Litigant:
    party_id: str  # a USCC or a resident ID

    @strawberry.field
    def cases(self, info: Info[CourtsContext, None]) -> list[CourtCase]:
        world = info.context.world
        return [
            CourtCase.from_record(world.court_cases[n])
            for n in world.court_cases_by_party.get(self.party_id, ())
        ]

    @strawberry.field
    def defaulter(self, info: Info[CourtsContext, None]) -> DefaulterEntry | None:
        """The 失信被执行人 entry, if any."""
        entry = info.context.world.defaulters.get(self.party_id)
        return DefaulterEntry(**entry) if entry is not None else None

    @classmethod
    def resolve_reference(cls, info: Info[CourtsContext, None], **representation: Any) -> Litigant:
        """``_entities`` for ``{__typename: "Litigant", partyId: ...}``; a party with no cases
        resolves to a litigant with an empty ``cases`` list."""
        return cls(party_id=_checked(representation.get("partyId"), check_party_id))


@strawberry.type
class Query:
    @strawberry.field
    def court_cases(
        self, info: Info[CourtsContext, None], case_numbers: list[str]
    ) -> list[CourtCase | None]:
        """Cases by number, in the order asked; null for an unknown number."""
        numbers = [_checked(n, check_court_case_number) for n in case_numbers]
        world = info.context.world
        return [CourtCase.lookup(world, n) for n in numbers]


class _Schema(strawberry.federation.Schema):
    """Logs server-side errors only: a client's bad input is the client's business."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        server_side = [e for e in errors if _error_code(e) == "INTERNAL_SERVER_ERROR"]
        if server_side:
            super().process_errors(server_side, execution_context)


schema = _Schema(query=Query, types=[Litigant])
"""The courts subgraph schema (Apollo Federation 2)."""


# -------------------------------------------------------------------------------- the app


class _CourtsGraphQL(GraphQL[CourtsContext, None]):
    """strawberry's ASGI view with the world as context, orjson, and coded errors throughout."""

    def __init__(self, world: World) -> None:
        super().__init__(schema, graphql_ide=None, allow_queries_via_get=False)
        self.context = CourtsContext(world)

    async def get_context(self, request: Any, response: Any) -> CourtsContext:
        return self.context

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        for error, formatted in zip(
            result.errors or (), response.get("errors") or (), strict=False
        ):
            if isinstance(formatted, dict):
                extensions = formatted.setdefault("extensions", {})
                extensions["code"] = _error_code(error)
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except StrawberryHTTPException as exc:  # bad JSON, wrong method ...: our error format
            response = render_error(exc.status_code, exc.reason)
        await response(scope, receive, send)


def _error_code(error: GraphQLError) -> str:
    """The error's code; Apollo's codes for errors that carry none (parse, validation, bug)."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if error.path is None:
        return "GRAPHQL_VALIDATION_FAILED"
    return "INTERNAL_SERVER_ERROR"


def create_app(world: World, faults: Faults | None = None) -> Starlette:
    """The courts subgraph's ASGI app over ``world``: ``/graphql`` plus the sandbox routes."""
    return build_app([Route("/graphql", _CourtsGraphQL(world))], render_error, faults)
