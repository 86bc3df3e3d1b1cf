"""GraphQL over HTTP: reading a request and choosing the response's media type and status.

POST with ``application/json`` bodies and GET with query parameters (queries only). Form and
text bodies are refused (415), which also keeps simple cross-site form posts out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from gateway.errors import BadRequest, MethodNotAllowed, PayloadTooLarge

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    query: str
    variables: Mapping[str, Any] | None
    operation_name: str | None
    method: str


async def read_request(request: Request, max_body: int = MAX_BODY_BYTES) -> GraphQLRequest:
    if request.method == "GET":
        params = request.query_params
        variables = params.get("variables")
        return _request(
            params.get("query"),
            _json(variables) if variables else None,
            params.get("operationName"),
            "GET",
        )
    if request.method != "POST":
        raise MethodNotAllowed("Use POST, or GET for queries.")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != JSON:
        raise BadRequest("Send the request as application/json.", status=415)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body:
        raise PayloadTooLarge(f"The request body is larger than {max_body} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body:
            raise PayloadTooLarge(f"The request body is larger than {max_body} bytes.")
    payload = _json(bytes(body))
    if not isinstance(payload, dict):
        raise BadRequest("The request body must be a JSON object with a 'query'.")
    return _request(
        payload.get("query"), payload.get("variables"), payload.get("operationName"), "POST"
    )


def _request(query: Any, variables: Any, operation_name: Any, method: str) -> GraphQLRequest:
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("The request has no 'query' string.")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("'variables' must be a JSON object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("'operationName' must be a string.")
    return GraphQLRequest(query, variables, operation_name or None, method)


def _json(raw: str | bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The request is not valid JSON.") from None


def response_media_type(accept: str | None) -> str:
    """graphql-response+json when the client accepts it (or says nothing), else plain JSON."""
    if not accept:
        return GRAPHQL_RESPONSE
    accept = accept.lower()
    if GRAPHQL_RESPONSE in accept or "*/*" in accept:
        return GRAPHQL_RESPONSE
    if JSON in accept or "application/*" in accept:
        return JSON
    return GRAPHQL_RESPONSE
