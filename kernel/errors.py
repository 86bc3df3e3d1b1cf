"""Errors the gateway answers with; each has a documented code (docs/errors.md).

    GatewayError                     the request is refused as a whole
    ├── BadRequest                   400 BAD_REQUEST: not a GraphQL-over-HTTP request
    │   └── PayloadTooLarge          413 BAD_REQUEST
    ├── Unauthenticated              401 UNAUTHENTICATED: missing, invalid or expired token
    ├── PurposeRequired              400 PURPOSE_REQUIRED: no or unknown X-Purpose / X-Case-Id
    ├── CaseNotAssigned              403 CASE_NOT_ASSIGNED: X-Case-Id is no open case of the caller
    ├── QueryInvalid                 400 GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED
    │                                    / BAD_USER_INPUT
    ├── MethodNotAllowed             405 BAD_REQUEST
    ├── TooManyRequests              429 RATE_LIMITED / VOLUME_LIMITED (gateway/ratelimit.py)
    └── AuditUnavailable             503 AUDIT_UNAVAILABLE: the record could not be committed

Field-level errors (AGENCY_UNAVAILABLE, BAD_USER_INPUT in variables ...) travel inside a 200
GraphQL response instead; see gateway/respond.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class GatewayError(Exception):
    code = "INTERNAL_SERVER_ERROR"
    status = 500
    flags: tuple[str, ...] = ()  # for the audit record of the refused request

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers: dict[str, str] = {}

    def graphql_errors(self) -> Sequence[dict[str, Any]]:
        return [{"message": self.message, "extensions": {"code": self.code}}]


class BadRequest(GatewayError):
    code = "BAD_REQUEST"
    status = 400


class PayloadTooLarge(BadRequest):
    status = 413


class MethodNotAllowed(BadRequest):
    status = 405


class Unauthenticated(GatewayError):
    code = "UNAUTHENTICATED"
    status = 401

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {"WWW-Authenticate": 'Bearer realm="jointgate"'}


class PurposeRequired(GatewayError):
    code = "PURPOSE_REQUIRED"
    status = 400


class CaseNotAssigned(GatewayError):
    """``X-Case-Id`` names no open registered case the caller is assigned to (directly or
    through an active joint-team membership). Unknown, closed and not assigned answer alike:
    the answer does not tell which cases exist."""

    code = "CASE_NOT_ASSIGNED"
    status = 403


class QueryInvalid(GatewayError):
    """Parse or validation errors; carries every GraphQL error found, already shaped."""

    code = "GRAPHQL_VALIDATION_FAILED"
    status = 400

    def __init__(self, errors: Sequence[dict[str, Any]], code: str) -> None:
        super().__init__(str(errors[0].get("message", "invalid query")), code=code)
        self.errors = errors

    def graphql_errors(self) -> Sequence[dict[str, Any]]:
        return self.errors


class AuditUnavailable(GatewayError):
    code = "AUDIT_UNAVAILABLE"
    status = 503
