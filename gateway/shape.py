"""Stage 5, shape: execution results and errors → the JSON a client receives.

Every error leaves with a documented ``extensions.code`` and a message written for the client:
identifier checks say which check failed (never echoing the value), agency failures name the
agency but none of its internals, and anything unexpected is an opaque internal error whose
details go to the log under the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from graphql import ExecutionResult, GraphQLError

from connectors.errors import ConnectorError
from schema.base import NOT_AVAILABLE, FieldForbidden
from schema.identifiers import InvalidIdentifier
from schema.loaders import LookupTooLarge
from schema.paging import InvalidArgument

log = logging.getLogger("jointgate.shape")


def _root_cause(error: BaseException | None) -> BaseException | None:
    seen = 0
    while isinstance(error, GraphQLError) and error.original_error is not None and seen < 10:
        error = error.original_error
        seen += 1
    return error


def bad_user_input(error: GraphQLError) -> dict[str, Any] | None:
    """A BAD_USER_INPUT error if ``error`` comes from an identifier check, else None."""
    cause = _root_cause(error)
    if not isinstance(cause, InvalidIdentifier):
        return None
    where = "a variable" if error.message.startswith("Variable") else "an argument"
    shaped: dict[str, Any] = {
        "message": f"Invalid input in {where}: {cause}.",
        "extensions": {"code": "BAD_USER_INPUT", "identifier": cause.kind, "check": cause.reason},
    }
    if error.locations:
        shaped["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return shaped


def shape_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    cause = _root_cause(error)
    shaped = bad_user_input(error)
    if shaped is not None:
        return shaped
    if isinstance(cause, FieldForbidden):
        shaped = {"message": NOT_AVAILABLE, "extensions": {"code": FieldForbidden.code}}
    elif isinstance(cause, LookupTooLarge):
        shaped = {"message": str(cause), "extensions": {"code": "BAD_USER_INPUT"}}
    elif isinstance(cause, InvalidArgument):
        extensions = {"code": "BAD_USER_INPUT", "argument": cause.argument}
        shaped = {"message": str(cause), "extensions": extensions}
    elif isinstance(cause, ConnectorError):
        log.warning("agency error", extra={"request_id": request_id, "detail": str(cause)})
        shaped = {
            "message": cause.public_message,
            "extensions": {"code": cause.code, "agency": cause.agency},
        }
    elif cause is not None and not isinstance(cause, GraphQLError):
        log.error("resolver failed", exc_info=cause, extra={"request_id": request_id})
        shaped = {
            "message": "Internal error; quote the request id to the operators.",
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
    else:
        code = (
            "BAD_USER_INPUT"
            if error.message.startswith("Variable")
            else "GRAPHQL_VALIDATION_FAILED"
        )
        shaped = {"message": error.message, "extensions": {"code": code}}
    if error.path is not None:
        shaped["path"] = list(error.path)
    if error.locations:
        shaped["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return shaped


def shape_result(result: ExecutionResult, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [shape_error(e, request_id) for e in result.errors]
        for error in result.errors:
            _drop_tracebacks(error)
    body["data"] = result.data
    return body


def _drop_tracebacks(error: BaseException | None) -> None:
    """Once shaped (and an unexpected one logged), an error's traceback is only a reference
    cycle (its frames hold the execution, which holds the error) keeping the request's
    objects for the cyclic garbage collector: let them go now."""
    seen = 0
    while error is not None and seen < 10:
        error.__traceback__ = None
        error = error.original_error if isinstance(error, GraphQLError) else error.__cause__
        seen += 1


def error_codes(errors: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({str(e.get("extensions", {}).get("code", "")) for e in errors})
