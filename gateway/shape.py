"""Stage 5, shape: execution results and errors → the JSON a client receives.

Every error leaves with a documented ``extensions.code`` and a message written for the client:
identifier checks say which check failed (never echoing the value), agency failures name the
agency but none of its internals, and anything unexpected is an opaque internal error whose
details go to the log under the request id. GraphQL's own messages (:func:`client_message`)
never carry Python's words and quote the caller's names and values back only in part.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from graphql import ExecutionResult, GraphQLError, IntValueNode

from connectors.errors import ConnectorError
from schema.base import NOT_AVAILABLE, FieldForbidden
from schema.identifiers import InvalidIdentifier
from schema.loaders import LookupTooLarge
from schema.paging import InvalidArgument

log = logging.getLogger("jointgate.shape")

MAX_MESSAGE = 300  # characters: no GraphQL error message a client reads is longer
MAX_ECHO = 60  # characters of a name or value of the caller's quoted back in a message
_QUOTED = re.compile(rf"'([^'\n]{{{MAX_ECHO + 1},}})'")
_ECHOED = re.compile(rf"^(.*(?:value|found): )(.{{{MAX_ECHO + 1},}})$", re.S)
_EXPECTED_INT = re.compile(r"^Expected value of type 'Int!?'")


def clip_message(message: str) -> str:
    """Long names and values in ``message`` cut short, and the whole at most MAX_MESSAGE."""
    message = _QUOTED.sub(lambda m: f"'{m.group(1)[:MAX_ECHO]}…'", message)
    message = _ECHOED.sub(lambda m: m.group(1) + m.group(2)[:MAX_ECHO] + "…", message)
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


def client_message(error: GraphQLError) -> str:
    """``error``'s message as a client may read it: without the text of a Python exception
    graphql-core caught on the way (an integer literal too long for ``int()``, ...), clipped."""
    message, cause = error.message, error.original_error
    if cause is not None and not isinstance(cause, GraphQLError):
        node = error.nodes[0] if error.nodes else None
        if isinstance(node, IntValueNode) and _EXPECTED_INT.match(message):
            message = f"Int cannot represent non 32-bit signed integer value: {node.value}"
        else:
            message = message.replace(f", but encountered error '{cause}'; found", ", found")
            if str(cause) and str(cause) in message:
                message = "The value is not valid here."
    return clip_message(message)


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
        "message": clip_message(f"Invalid input in {where}: {cause}."),
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
        shaped = {"message": client_message(error), "extensions": {"code": code}}
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
