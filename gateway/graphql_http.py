"""Stage 1, read: GraphQL over HTTP. Who is asking from where, the request read and checked,
and the response's media type and status.

Follows the GraphQL-over-HTTP specification (https://graphql.github.io/graphql-over-http/draft/;
conformance in docs/graphql-over-http.md):

- POST with an ``application/json`` body (UTF-8), or GET with ``query``, ``operationName``,
  ``variables`` and ``extensions`` in the query string (``variables`` and ``extensions`` as JSON).
  Form and text bodies are refused (415), which keeps simple cross-site form posts out; a
  mutation sent with GET is refused (405) before anything runs.
- Responses are ``application/graphql-response+json`` unless the client prefers
  ``application/json`` in its ``Accept`` header; an ``Accept`` header allowing neither gets 406.
- Request bodies are bounded in size (413) and JSON nesting (400). A JSON array (a batch) is
  refused unless ``gateway.batching`` is on; then :func:`serve` runs each operation as a request
  of its own through the pipeline (its own audit record) and answers with an array.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from gateway.forwarded import Network, client_of
from kernel.errors import BadRequest, GatewayError, MethodNotAllowed, PayloadTooLarge, QueryInvalid

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 16
GET_PARSE_MAX_TOKENS = 20_000  # past this, the analyzer's token limit refuses the query anyway


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The ``[gateway]`` settings applied while reading a request (docs/configuration.md)."""

    max_body_bytes: int = MAX_BODY_BYTES
    max_json_depth: int = MAX_JSON_DEPTH  # objects and arrays inside each other, the body's own
    batching: bool = False  # accept a JSON array of operations
    max_batch_operations: int = 10
    trusted_proxies: tuple[Network, ...] = ()  # whose X-Forwarded-For names the client


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    query: str | None  # None: only a persisted-operation hash in extensions (gateway/persisted.py)
    variables: Mapping[str, Any] | None
    operation_name: str | None
    method: str
    extensions: Mapping[str, Any] | None = None


class NotAcceptable(BadRequest):
    """406 BAD_REQUEST: the ``Accept`` header allows neither response media type."""

    status = 406


class RequestTimeout(GatewayError):
    """504 REQUEST_TIMEOUT: the request took longer than ``gateway.request_timeout_s``."""

    code = "REQUEST_TIMEOUT"
    status = 504

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"The request took longer than {timeout_s:g} s and was stopped.")


def client_address(request: Request, limits: HttpLimits = HttpLimits()) -> str:
    """Who is asking, from where: the TCP peer, or behind a trusted proxy the address it
    vouches for (gateway/forwarded.py). Read first, so that even a refusal names it."""
    return client_of(request, limits.trusted_proxies)


async def read_request(request: Request, limits: HttpLimits = HttpLimits()) -> GraphQLRequest:
    if request.method not in ("GET", "POST"):  # any method reaches here (gateway/app.py)
        raise _method_not_allowed("Use POST, or GET for queries.")
    if _negotiate(request.headers.get("accept")) is None:
        raise NotAcceptable(
            f"The Accept header allows neither {GRAPHQL_RESPONSE} nor {JSON}, the media types"
            " of GraphQL responses."
        )
    if request.method == "GET":
        return _from_query_string(_query_parameters(request.scope["query_string"]), limits)
    payload = _json(await _body(request, limits.max_body_bytes), limits.max_json_depth)
    if isinstance(payload, list):
        raise _refused_batch(payload, limits)
    if not isinstance(payload, dict):
        raise BadRequest("The request body must be a JSON object with a 'query'.")
    return _request(
        payload.get("query"),
        payload.get("variables"),
        payload.get("operationName"),
        payload.get("extensions"),
        "POST",
    )


GET_PARAMETERS = ("query", "variables", "operationName", "extensions")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # bytes that surrogateescape kept: not UTF-8


def _query_parameters(raw: bytes) -> dict[str, str]:
    """The GraphQL parameters of a query string, percent-decoded as UTF-8, strictly: Starlette's
    ``request.query_params`` would turn ``%FF`` (and raw non-ASCII bytes) into U+FFFD, and
    run a query the client never sent. Refused instead, as a POST body that is not UTF-8 is."""
    pairs = parse_qsl(
        raw.decode("ascii", "surrogateescape"), keep_blank_values=True, errors="surrogateescape"
    )
    params = {name: value for name, value in pairs if name in GET_PARAMETERS}  # the last wins
    for name, value in params.items():
        if not value.isascii() and _SURROGATE.search(value):
            raise BadRequest(
                f"The query string parameter '{name}' is not UTF-8: percent-encode its UTF-8"
                " bytes (涉 is %E6%B6%89)."
            )
    return params


def _from_query_string(params: Mapping[str, str], limits: HttpLimits) -> GraphQLRequest:
    # JSON inside the query string sits one level below the request itself
    depth = limits.max_json_depth - 1
    variables, extensions = params.get("variables"), params.get("extensions")
    gql = _request(
        params.get("query"),
        _json(variables, depth) if variables else None,
        params.get("operationName"),
        _json(extensions, depth) if extensions else None,
        "GET",
    )
    if gql.query is not None and _operation_type(gql.query, gql.operation_name) not in (
        None,
        OperationType.QUERY,
    ):
        raise _method_not_allowed("Only queries may be sent with GET; send mutations with POST.")
    return gql


def _request(
    query: Any, variables: Any, operation_name: Any, extensions: Any, method: str
) -> GraphQLRequest:
    if query is not None and not isinstance(query, str):
        raise BadRequest("'query' must be a string.")
    if not (query and query.strip()):
        if not (isinstance(extensions, dict) and "persistedQuery" in extensions):
            raise BadRequest("The request has no 'query' string.")
        query = None  # the pipeline looks the document up by its hash
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("'variables' must be a JSON object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("'operationName' must be a string.")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadRequest("'extensions' must be a JSON object.")
    return GraphQLRequest(query, variables, operation_name or None, method, extensions)


async def _body(request: Request, max_body: int) -> bytes:
    media_type, _, parameters = request.headers.get("content-type", "").partition(";")
    if media_type.strip().lower() != JSON:
        raise BadRequest("Send the request as application/json.", status=415)
    charset = _parameter(parameters, "charset")
    if charset not in (None, "utf-8", "utf8"):
        raise BadRequest("Send the request body as UTF-8 (charset=utf-8).", status=415)
    too_large = (
        f"The request body is larger than {max_body} bytes (setting gateway.max_body_bytes)."
    )
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_body:
        raise PayloadTooLarge(too_large)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body:
            raise PayloadTooLarge(too_large)
    if not body.strip():
        raise BadRequest("The request body is empty; send a JSON object with a 'query'.")
    return bytes(body)


def _json(raw: str | bytes, max_depth: int) -> Any:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own limit, 1,024 levels
            raise _too_deep(max_depth) from None
        if _out_of_range(raw):
            raise BadRequest(
                "A number in the request is out of range: larger than a double-precision float"
                " holds (about 1.8e308)."
            ) from None
        raise BadRequest("The request is not valid JSON.") from None
    if _depth_exceeds(value, max_depth):
        raise _too_deep(max_depth)
    return value


def _too_deep(max_depth: int) -> BadRequest:
    return BadRequest(
        f"The request's JSON is nested deeper than {max_depth} levels"
        " (setting gateway.max_json_depth)."
    )


def _out_of_range(raw: str | bytes) -> bool:
    """Whether JSON orjson refused is valid but for a number no double holds (``1e999``, 400
    digits): Python's parser, told to read numbers as text, decides; only for a refused body."""
    huge = False

    def number(text: str) -> None:
        nonlocal huge
        huge = huge or math.isinf(float(text))

    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if not _LONG_NUMBER.search(text):  # the usual broken body is not parsed twice
            return False
        json.loads(text, parse_int=number, parse_float=number, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return False
    return huge


_LONG_NUMBER = re.compile(r"[0-9]{309}|[eE]\+?0*[0-9]{3}")  # what may be past 1.8e308


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest deeper than ``limit``; iterative, so any depth is safe."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _operation_type(query: str, operation_name: str | None) -> OperationType | None:
    """The type of the operation a document would run; None if that is not yet clear (a parse
    error or an ambiguous document, which the analyzer reports)."""
    try:
        document = parse(query, no_location=True, max_tokens=GET_PARSE_MAX_TOKENS)
    except GraphQLError:
        return None
    operations = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name is not None and d.name.value == operation_name))
    ]
    return operations[0].operation if len(operations) == 1 else None


def _method_not_allowed(message: str) -> MethodNotAllowed:
    refused = MethodNotAllowed(message)
    refused.headers["Allow"] = "GET, POST"
    return refused


def _refused_batch(batch: list[Any], limits: HttpLimits) -> GatewayError:
    """Why a JSON array reached the reader: batching is off, or :func:`serve` did not split it."""
    if not limits.batching:
        return BadRequest(
            "Batched requests (a JSON array) are not accepted: send one operation per request"
            " (setting gateway.batching)."
        )
    if len(batch) > limits.max_batch_operations:
        setting = "max_batch_operations"
        error = {
            "message": (
                f"The batch exceeds the operations limit: {len(batch)}, at most"
                f" {limits.max_batch_operations} (setting gateway.{setting})."
            ),
            "extensions": {"code": "QUERY_TOO_COMPLEX", "limit": setting},
        }
        return QueryInvalid([error], "QUERY_TOO_COMPLEX")
    return BadRequest("A batch must be a non-empty JSON array of request objects.")


def _parameter(parameters: str, name: str) -> str | None:
    for part in parameters.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"').lower()
    return None


def response_media_type(accept: str | None) -> str:
    """The response's media type by the client's ``Accept`` header.

    Without an ``Accept`` header, or on a tie, ``application/graphql-response+json``: since the
    spec's 2025 watershed it is the default, and its status codes tell request errors (4xx) from
    field errors (200). If the header allows neither, the 406 refusal is ``application/json``.
    """
    return _negotiate(accept) or JSON


def _negotiate(accept: str | None) -> str | None:
    if not accept or not accept.strip():
        return GRAPHQL_RESPONSE
    best, best_q = None, 0.0
    for candidate in (GRAPHQL_RESPONSE, JSON):
        q = _quality(accept, candidate)
        if q > best_q:
            best, best_q = candidate, q
    return best


def _quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives ``media_type``: the most specific matching range decides."""
    kind = media_type.split("/")[0]
    found: tuple[int, float] | None = None  # (specificity, q)
    for media_range in accept.lower().split(","):
        name, _, parameters = media_range.partition(";")
        name = name.strip()
        specificity = {media_type: 3, f"{kind}/*": 2, "*/*": 1}.get(name)
        if specificity is None or (found is not None and found[0] >= specificity):
            continue
        try:
            q = float(_parameter(parameters, "q") or 1.0)
        except ValueError:
            q = 0.0
        found = (specificity, min(max(q, 0.0), 1.0))
    return found[1] if found else 0.0


Handler = Callable[[Request], Awaitable[Response]]


async def serve(
    request: Request, handle: Handler, limits: HttpLimits, timeout_s: float = 0.0
) -> Response:
    """The ``/graphql`` endpoint: ``handle`` (the pipeline) answers one operation per request.

    With ``gateway.batching`` on, a POSTed JSON array of 1 to ``max_batch_operations`` request
    objects is split here and each object is handed to ``handle`` as a request of its own, with
    the same headers; the answer is the array of their bodies. Anything else, including a batch
    that is too large or malformed, goes to ``handle`` unchanged, which reads it and refuses it
    with an audit record; so does a body still arriving after ``timeout_s`` (504).
    """
    if not limits.batching or request.method != "POST":
        return await handle(request)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s or None):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limits.max_body_bytes:
                    break  # the reader refuses it (413); the rest is never read
    except TimeoutError:
        return await handle(_replay(request, bytes(body), RequestTimeout(timeout_s)))
    batch = _batch(bytes(body), limits)
    if batch is None:
        return await handle(_replay(request, bytes(body)))
    responses = [await handle(_replay(request, orjson.dumps(item))) for item in batch]
    statuses = {r.status_code for r in responses}
    headers = {"X-Request-Id": ",".join(r.headers["x-request-id"] for r in responses)}
    for name in ("www-authenticate", "allow"):
        values = {r.headers[name] for r in responses if name in r.headers}
        if values:
            headers[name] = ", ".join(sorted(values))
    return Response(
        b"[" + b",".join(bytes(r.body) for r in responses) + b"]",
        status_code=statuses.pop() if len(statuses) == 1 else 200,
        media_type=responses[0].media_type,
        headers=headers,
    )


def _batch(body: bytes, limits: HttpLimits) -> list[dict[str, Any]] | None:
    """The batch's request objects if ``body`` is a well-formed batch within the limits."""
    if len(body) > limits.max_body_bytes or not body.lstrip().startswith(b"["):
        return None
    try:
        batch = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if (
        not isinstance(batch, list)
        or not 1 <= len(batch) <= limits.max_batch_operations
        or not all(isinstance(item, dict) for item in batch)
        or _depth_exceeds(batch, limits.max_json_depth)
    ):
        return None
    return batch


def _replay(request: Request, body: bytes, then: GatewayError | None = None) -> Request:
    """A request with ``request``'s scope and ``body`` as its body; reading past it raises
    ``then`` if given (the pipeline answers with it)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            if then is not None:
                raise then
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": then is not None}

    scope = dict(request.scope)
    scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"content-length"]
    return Request(scope, receive)
