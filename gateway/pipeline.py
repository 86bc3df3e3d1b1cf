"""The request pipeline, in order, in one place.

    HTTP → authn → declare purpose → analyze → authorize → execute → shape → audit-commit → HTTP

Each stage is a module of its own (``gateway/authn.py`` ... ``gateway/audit.py``) and writes what
it learnt into the request's :class:`RequestContext` and its audit record. Whatever happens, the
audit record is committed before the response is returned; if that fails, the client gets 503
and no data.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.analyze import Analyzer
from gateway.audit import AuditLog
from gateway.authn import TokenVerifier
from gateway.authorize import Authorizer
from gateway.errors import AuditUnavailable, GatewayError, MethodNotAllowed
from gateway.execute import Executor
from gateway.graphql_http import GRAPHQL_RESPONSE, read_request, response_media_type
from gateway.purpose import declare
from gateway.shape import error_codes, shape_result
from gateway.types import AuditRecord, RequestContext

log = logging.getLogger("jointgate.pipeline")


class Pipeline:
    def __init__(
        self,
        verifier: TokenVerifier,
        analyzer: Analyzer,
        authorizer: Authorizer,
        executor: Executor,
        audit: AuditLog,
    ) -> None:
        self.verifier = verifier
        self.analyzer = analyzer
        self.authorizer = authorizer
        self.executor = executor
        self.audit = audit

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        record = AuditRecord(
            request_id=uuid.uuid4().hex,
            client=request.client.host if request.client else "",
            trace_id=_trace_id(request.headers.get("traceparent")),
        )
        ctx = RequestContext(request_id=record.request_id, audit=record)
        media_type = response_media_type(request.headers.get("accept"))
        headers: dict[str, str] = {"X-Request-Id": record.request_id}
        try:
            status, body = await self._run(request, ctx)
        except GatewayError as exc:
            status, body = exc.status, {"errors": list(exc.graphql_errors())}
            headers.update(exc.headers)
        if status == 400 and media_type != GRAPHQL_RESPONSE and _is_graphql_error(body):
            status = 200  # legacy application/json clients expect 200 with GraphQL errors
        payload = orjson.dumps(body)
        record.status = status
        record.outcome = _outcome(status, body)
        record.error_codes = error_codes(body.get("errors", ()))
        record.response_size = len(payload)
        record.response_hash = hashlib.sha256(payload).hexdigest()
        record.latency_ms = (time.perf_counter() - started) * 1e3
        try:
            await self.audit.commit(record)
        except Exception:
            log.exception(
                "audit commit failed; refusing to answer", extra={"request_id": record.request_id}
            )
            refused = AuditUnavailable("The audit trail is unavailable; no data can be served.")
            payload = orjson.dumps({"errors": list(refused.graphql_errors())})
            status = refused.status
        return Response(payload, status_code=status, media_type=media_type, headers=headers)

    async def _run(self, request: Request, ctx: RequestContext) -> tuple[int, dict[str, Any]]:
        record = ctx.audit
        gql = await read_request(request)
        principal = ctx.principal = self.verifier.authenticate(request.headers.get("authorization"))
        record.subject, record.agency = principal.subject, principal.agency
        record.roles = tuple(sorted(principal.roles))
        declaration = ctx.declaration = declare(request.headers)
        record.purpose, record.case_id = declaration.purpose.value, declaration.case_id
        record.justification = declaration.justification
        record.break_glass = declaration.break_glass is not None

        operation = self.analyzer.analyze(gql.query, gql.operation_name)
        record.operation_name, record.operation_type = operation.name, operation.type
        record.query_hash, record.query_text = operation.hash, gql.query
        record.variables = dict(gql.variables or {})
        record.fields_requested = sorted({t.path for t in operation.touched})
        if gql.method == "GET" and operation.type != "query":
            raise MethodNotAllowed("Only queries may be sent with GET.")

        ctx.plan = self.authorizer.plan(principal, declaration, operation)
        record.policy_version = ctx.plan.policy_version

        result = await self.executor.run(ctx, operation, gql.variables)
        # data is null only when the request failed before execution (variable coercion)
        return (200 if result.data is not None else 400), shape_result(result, ctx.request_id)


def _is_graphql_error(body: dict[str, Any]) -> bool:
    codes = set(error_codes(body.get("errors", ())))
    return bool(codes) and codes <= {
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
    }


def _outcome(status: int, body: dict[str, Any]) -> str:
    if status >= 400:
        return "refused"
    if body.get("errors"):
        return "partial" if body.get("data") else "failed"
    return "ok"


def _trace_id(traceparent: str | None) -> str:
    """The W3C trace id of the caller's trace, or a new one."""
    if traceparent:
        parts = traceparent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            return parts[1]
    return uuid.uuid4().hex
