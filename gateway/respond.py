"""Stage 8, respond: execution results and errors → the JSON a client receives.

Every error leaves with a documented ``extensions.code`` and a message written for the client:
identifier checks say which check failed (never echoing the value), agency failures name the
agency but none of its internals, and anything unexpected is an opaque internal error whose
details go to the log under the request id. GraphQL's own messages (:func:`client_message`)
never carry Python's words and quote the caller's names and values back only in part: a
variable's value as JSON would write it (:func:`describe`: ``"it's"``, ``true``, ``an object``),
never as Python's ``repr``; cut between characters, the cut marked ``…``; and no character that
would not show for what it is (a control, a bidi override ...) ever raw (``\\u0000``).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from graphql import ExecutionResult, GraphQLError, IntValueNode
from graphql.pyutils import inspect

from connectors.errors import ConnectorError
from kernel.identifiers import InvalidIdentifier
from kernel.text import invisible
from kernel.workflow import WorkflowError
from schema.base import NOT_AVAILABLE, FieldForbidden
from schema.loaders import LookupTooLarge
from schema.paging import InvalidArgument

log = logging.getLogger("jointgate.respond")

MAX_MESSAGE = 300  # characters: no GraphQL error message a client reads is longer
MAX_ECHO = 60  # characters of a name or value of the caller's quoted back in a message
_NAME = r"[_A-Za-z][_0-9A-Za-z]*"
_QUOTED = re.compile(rf"'([^'\s]{{{MAX_ECHO + 1},}})'")  # a name: no spaces in it
_ECHOED = re.compile(rf"^(.*(?:value|found): )(.{{{MAX_ECHO + 1},}}?)(\.?)$", re.S)
_EXPECTED_INT = re.compile(r"^Expected value of type 'Int!?'")
_VARIABLE = re.compile(
    rf"(Variable '\$({_NAME})' has invalid value(?: at ((?:\.{_NAME}|\[[0-9]+\])+))?: )(.*)", re.S
)
_STEP = re.compile(rf"\.({_NAME})|\[([0-9]+)\]")


def clip_message(message: str) -> str:
    """Long names and values in ``message`` cut short, and the whole at most MAX_MESSAGE;
    characters that would not show for what they are escaped."""
    return _bounded(
        _ECHOED.sub(lambda m: m.group(1) + _clip_literal(m.group(2)) + m.group(3), message)
    )


def _bounded(message: str) -> str:
    message = _visible(_QUOTED.sub(lambda m: f"'{m.group(1)[:MAX_ECHO]}…'", message))
    return message if len(message) <= MAX_MESSAGE else _cut(message, MAX_MESSAGE - 1) + "…"


def client_message(error: GraphQLError, variables: Mapping[str, Any] | None = None) -> str:
    """``error``'s message as a client may read it: without the text of a Python exception
    graphql-core caught on the way (an integer literal too long for ``int()``, ...), a variable's
    value described as JSON (``variables``: the request's, from which graphql-core coerced it),
    clipped."""
    message, cause = error.message, error.original_error
    if cause is not None and not isinstance(cause, GraphQLError):
        node = error.nodes[0] if error.nodes else None
        if isinstance(node, IntValueNode) and _EXPECTED_INT.match(message):
            message = f"Int cannot represent non 32-bit signed integer value: {node.value}"
        else:
            message = message.replace(f", but encountered error '{cause}'; found", ", found")
            if str(cause) and str(cause) in message:
                message = "The value is not valid here."
    described = None if variables is None else _variable_message(message, variables)
    return clip_message(message) if described is None else _bounded(described)


def describe(value: Any) -> str:
    """A JSON value as a message shows it: a string quoted (:func:`quote`), ``true``, ``false``,
    ``null``, a number, or "an object" / "a list" (never their contents)."""
    if isinstance(value, str):
        return quote(value)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if (isinstance(value, int) and abs(value) < 10**MAX_ECHO) or isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else "a value"


def quote(text: str) -> str:
    """``text`` in double quotes: at most MAX_ECHO characters of it, cut between characters and
    the cut marked ``…``; ``"`` and ``\\`` escaped as in JSON, and so is every character that would
    not show for what it is (``\\u0000``, ``\\u202e``)."""
    shown = _cut(text, MAX_ECHO)
    body = "".join(_escape(c) if c in '"\\' or invisible(c) else c for c in shown)
    return f'"{body}…"' if len(shown) < len(text) else f'"{body}"'


def _variable_message(message: str, variables: Mapping[str, Any]) -> str | None:
    """A variable coercion error with the value graphql-core shows as Python (``inspect``:
    ``'\\x00'``, ``{'k': "it's"}``, ``True``) described as JSON instead."""
    m = _VARIABLE.fullmatch(message)
    if m is None or m[2] not in variables:
        return None
    value = variables[m[2]]
    for name, index in _STEP.findall(m[3] or ""):
        try:
            value = value[name] if name else value[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
    head, inner = m[1], m[4]
    shown = inspect(value)
    for end in (shown + ".", shown):
        if inner.endswith(end):
            return head + inner[: -len(end)] + describe(value) + end[len(shown) :]
    if isinstance(value, str) and inner.startswith(f"Value '{value}' "):  # an enum's
        return head + f"Value {quote(value)} " + inner[len(value) + 9 :]
    return None


def _escape(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\u{{{code:x}}}"


def _visible(message: str) -> str:
    if message.isascii() and message.isprintable():
        return message
    return "".join(_escape(c) if invisible(c) else c for c in message)


def _cut(text: str, limit: int) -> str:
    """``text``'s first ``limit`` characters, fewer rather than part a character from the
    combining marks on it."""
    if len(text) <= limit:
        return text
    cut = limit
    while cut > 0 and unicodedata.category(text[cut])[0] == "M":
        cut -= 1
    return text[:cut]


def _clip_literal(literal: str) -> str:
    """A value of the query, as GraphQL prints it, clipped: never inside an escape (``\\u00e9``),
    and a string's quote closed after the ``…``."""
    clipped = _cut(literal, MAX_ECHO)
    escape = clipped.rfind("\\", max(0, len(clipped) - 5))
    if escape != -1 and escape + (6 if literal[escape + 1 : escape + 2] == "u" else 2) > len(
        clipped
    ):
        clipped = clipped[:escape]
    return clipped + ('…"' if literal.startswith('"') else "…")


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
    answer: dict[str, Any] = {
        "message": clip_message(f"Invalid input in {where}: {cause}."),
        "extensions": {"code": "BAD_USER_INPUT", "identifier": cause.kind, "check": cause.reason},
    }
    if error.locations:
        answer["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return answer


def client_error(
    error: GraphQLError, request_id: str, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    cause = _root_cause(error)
    answer = bad_user_input(error)
    if answer is not None:
        return answer
    if isinstance(cause, FieldForbidden):
        answer = {"message": NOT_AVAILABLE, "extensions": {"code": FieldForbidden.code}}
    elif isinstance(cause, LookupTooLarge):
        answer = {"message": str(cause), "extensions": {"code": "BAD_USER_INPUT"}}
    elif isinstance(cause, InvalidArgument):
        extensions = {"code": "BAD_USER_INPUT", "argument": cause.argument}
        answer = {"message": str(cause), "extensions": extensions}
    elif isinstance(cause, WorkflowError):
        answer = workflow_error(cause)
    elif isinstance(cause, ConnectorError):
        log.warning("agency error", extra={"request_id": request_id, "detail": str(cause)})
        answer = {
            "message": cause.public_message,
            "extensions": {"code": cause.code, "agency": cause.agency},
        }
    elif cause is not None and not isinstance(cause, GraphQLError):
        log.error("resolver failed", exc_info=cause, extra={"request_id": request_id})
        answer = {
            "message": "Internal error; quote the request id to the operators.",
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
    else:
        code = (
            "BAD_USER_INPUT"
            if error.message.startswith("Variable")
            else "GRAPHQL_VALIDATION_FAILED"
        )
        answer = {"message": client_message(error, variables), "extensions": {"code": code}}
    if error.path is not None:
        answer["path"] = list(error.path)
    if error.locations:
        answer["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return answer


# what a workflow error may say besides its message: the state and action of an illegal
# transition, the argument (the desk's "field") of bad input
WORKFLOW_DETAILS = {
    "state": "state",
    "action": "action",
    "argument": "argument",
    "field": "argument",
}


def workflow_error(error: WorkflowError) -> dict[str, Any]:
    """A workflow refusal (kernel.workflow.WorkflowError) as the client reads it: its code
    (LEAD_NOT_FOUND, ILLEGAL_TRANSITION ...), its message, and of its details only those that
    name states, actions and arguments (never a value the caller sent or a record's data)."""
    extensions: dict[str, Any] = {"code": error.code}
    for name, shown in WORKFLOW_DETAILS.items():
        value = error.details.get(name)
        if isinstance(value, str) and shown not in extensions:
            extensions[shown] = value
    return {"message": clip_message(error.message), "extensions": extensions}


def answer_body(
    result: ExecutionResult, request_id: str, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The client's JSON; ``variables`` (the request's) let variable errors describe values."""
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [client_error(e, request_id, variables) for e in result.errors]
        for error in result.errors:
            _drop_tracebacks(error)
    body["data"] = result.data
    return body


def _drop_tracebacks(error: BaseException | None) -> None:
    """Once answer (and an unexpected one logged), an error's traceback is only a reference
    cycle (its frames hold the execution, which holds the error) keeping the request's
    objects for the cyclic garbage collector: let them go now."""
    seen = 0
    while error is not None and seen < 10:
        error.__traceback__ = None
        error = error.original_error if isinstance(error, GraphQLError) else error.__cause__
        seen += 1


def error_codes(errors: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({str(e.get("extensions", {}).get("code", "")) for e in errors})
