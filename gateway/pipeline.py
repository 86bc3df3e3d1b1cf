"""The request pipeline, in order, in one place.

    HTTP → 1 read → 2 authn → 3 rate limits → 4 purpose → 5 analyze → 6 authorize → 7 execute
         → (3 rate limits: count the volumes) → 8 respond → audit commit → HTTP

Each stage is one module of ``gateway/``, entered from here in that order: ``graphql_http``,
``authn``, ``ratelimit``, ``purpose``, ``analyze``, ``authorize``, ``execute``, ``respond``;
whatever helps a stage (``forwarded``, ``persisted``, ``visibility``, ``limits``, the
``executor`` package, ``disclosure``) is reached through it. Each writes what it learnt into
the request's :class:`RequestContext` and its audit record. Whatever happens, the audit record
is committed (the contract: ``audit/log.py``) before the response is returned; if that fails,
the client gets 503 and no data.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from audit.log import AuditLog
from gateway.analyze import Analyzer, Operation
from gateway.authn import TokenVerifier
from gateway.authorize import Authorizer
from gateway.execute import Executor
from gateway.graphql_http import (
    GRAPHQL_RESPONSE,
    HttpLimits,
    RequestTimeout,
    client_address,
    read_request,
    response_media_type,
)
from gateway.purpose import Purposes
from gateway.ratelimit import Limiter
from gateway.respond import answer_body, error_codes
from gateway.settings import TelemetrySettings
from gateway.telemetry import RequestTrace, Telemetry
from kernel.errors import (
    AuditUnavailable,
    BadRequest,
    GatewayError,
    MethodNotAllowed,
    QueryInvalid,
)
from kernel.types import AuditRecord, Outcome, Plan, Principal, RequestContext
from policies.review import ReviewQueue

log = logging.getLogger("jointgate.pipeline")
SUBSCRIPTIONS_OVER_WEBSOCKET = (
    "Subscriptions are served over WebSocket: connect to this endpoint (/graphql) with the"
    " graphql-transport-ws subprotocol."
)


class Pipeline:
    def __init__(
        self,
        verifier: TokenVerifier,
        purposes: Purposes,
        analyzer: Analyzer,
        authorizer: Authorizer,
        executor: Executor,
        audit: AuditLog,
        reviews: ReviewQueue | None = None,
        limiter: Limiter | None = None,
        *,
        request_deadline_s: float = 0.0,
        request_timeout_s: float = 0.0,
        http: HttpLimits | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.verifier = verifier
        self.purposes = purposes
        self.analyzer = analyzer
        self.authorizer = authorizer
        self.executor = executor
        self.audit = audit
        self.reviews = reviews
        self.limiter = limiter
        self.request_deadline_s = request_deadline_s
        self.request_timeout_s = request_timeout_s
        self.http = http or HttpLimits()
        self.telemetry = telemetry or Telemetry(TelemetrySettings(metrics=False))

    def _queue_for_review(self, ctx: RequestContext) -> None:
        record, declaration = ctx.audit, ctx.declaration
        assert declaration is not None and record.subject and record.agency
        try:
            self.reviews.record(  # type: ignore[union-attr]
                request_id=record.request_id,
                subject=record.subject,
                agency=record.agency,
                purpose=declaration.purpose.value,
                case_id=declaration.case_id,
                reason=declaration.break_glass or "",
                fields=record.fields_allowed + record.fields_masked,
            )
        except Exception as exc:
            log.exception("break-glass review could not be recorded")
            raise AuditUnavailable(
                "The review queue is unavailable; no data can be served."
            ) from exc

    async def handle(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex
        with self.telemetry.request(request.headers, request_id) as traced:
            return await self._handle(request, request_id, traced)

    async def _handle(self, request: Request, request_id: str, traced: RequestTrace) -> Response:
        started = time.perf_counter()
        record = AuditRecord(
            request_id=request_id,
            client=client_address(request, self.http),  # behind trusted proxies only
            trace_id=traced.trace_id,  # the caller's trace, continued, or a new one
        )
        ctx = RequestContext(request_id=record.request_id, audit=record)
        if self.request_deadline_s:
            ctx.deadline = time.monotonic() + self.request_deadline_s
        media_type = response_media_type(request.headers.get("accept"))
        headers: dict[str, str] = {"X-Request-Id": record.request_id}
        try:
            status, body = await self._run_in_time(request, ctx)
        except GatewayError as exc:
            status, body = exc.status, {"errors": list(exc.graphql_errors())}
            headers.update(exc.headers)
            record.flag(*exc.flags)
            self.telemetry.refused(exc.code)  # RATE_LIMITED, VOLUME_LIMITED among them
        except Exception:  # a bug: still one audit record, and nothing internal in the answer
            log.exception("request failed", extra={"request_id": record.request_id})
            bug = GatewayError("Internal error; quote the X-Request-Id to the operators.")
            status, body = bug.status, {"errors": list(bug.graphql_errors())}
            self.telemetry.refused(bug.code)
        if status == 400 and media_type != GRAPHQL_RESPONSE and _is_graphql_error(body):
            status = 200  # legacy application/json clients expect 200 with GraphQL errors
        payload = orjson.dumps(body)
        record.status = status
        record.outcome = _outcome(status, body)
        record.error_codes = error_codes(body.get("errors", ()))
        record.response_size = len(payload)
        record.response_hash = hashlib.sha256(payload).hexdigest()
        record.latency_ms = (time.perf_counter() - started) * 1e3
        committing, committed = time.perf_counter(), True
        try:
            with self.telemetry.stage("audit.commit"):
                await self.audit.commit(record)
        except Exception:
            committed = False
            log.exception(
                "audit commit failed; refusing to answer", extra={"request_id": record.request_id}
            )
            refused = AuditUnavailable("The audit trail is unavailable; no data can be served.")
            payload = orjson.dumps({"errors": list(refused.graphql_errors())})
            status = refused.status
            self.telemetry.refused(refused.code)
        self.telemetry.committed(time.perf_counter() - committing, committed)
        self.telemetry.answered(traced, record, status, time.perf_counter() - started)
        return Response(payload, status_code=status, media_type=media_type, headers=headers)

    async def _run_in_time(
        self, request: Request, ctx: RequestContext
    ) -> tuple[int, dict[str, Any]]:
        budget = asyncio.timeout(self.request_timeout_s or None)
        try:
            async with budget:
                return await self._run(request, ctx)
        except TimeoutError:
            if not budget.expired():
                raise
            raise RequestTimeout(self.request_timeout_s) from None

    async def _run(self, request: Request, ctx: RequestContext) -> tuple[int, dict[str, Any]]:
        record = ctx.audit
        authorization = request.headers.get("authorization")
        try:
            gql = await read_request(request, self.http)
        except GatewayError:  # refused unread (405, 415 ...): still say who sent it, if known
            with contextlib.suppress(GatewayError):
                _identify(record, await self.verifier.authenticate(authorization))
            raise
        principal = ctx.principal = await self.verifier.authenticate(authorization)
        _identify(record, principal)
        if self.limiter is not None:
            await self.limiter.admit(principal)
        # recorded, then refused unless a declared case is an open one the caller is assigned to
        declaration = self.purposes.declare(request.headers, principal, ctx)
        context = self.authorizer.context(principal, declaration)
        visible = self.authorizer.visibility(principal, context)
        introspects = bool(principal.roles & self.analyzer.limits.introspection_roles)

        with self.telemetry.stage("analyze"):
            query = self.analyzer.document(
                gql.query, gql.extensions, principal.client, principal.subject
            )
            operation = self.analyzer.analyze(
                query, gql.operation_name, visible, introspects, principal.subject
            )
        record_operation(record, operation, query)
        record.variables = dict(gql.variables or {})
        if operation.introspection and not introspects:  # validation has refused it already
            raise _unknown_field(*operation.introspection[0])
        if gql.method == "GET" and operation.type != "query":
            raise MethodNotAllowed("Only queries may be sent with GET.")
        if operation.type == "subscription":  # the WebSocket path (gateway/subscriptions.py)
            raise BadRequest(SUBSCRIPTIONS_OVER_WEBSOCKET)

        record.policy_version = self.authorizer.policies.engine.version
        with self.telemetry.stage("authorize"):
            plan = ctx.plan = self.authorizer.plan(principal, context, operation)
            ctx.records_visible = self.authorizer.record_filter(principal, context)
        record_decisions(record, operation, plan)
        self.telemetry.decided(record)

        with self.telemetry.stage("execute"):
            result = await self.executor.run(ctx, operation, gql.variables)
        if self.limiter is not None:
            record.flag(*await self.limiter.account(principal, record.records_returned))
        if "break-glass" in record.flags and self.reviews is not None:
            self._queue_for_review(ctx)
        # a request error (variable coercion) stops before execution: no data, no error paths
        failed_early = result.data is None and all(e.path is None for e in result.errors or ())
        return (400 if failed_early else 200), answer_body(result, ctx.request_id, gql.variables)


def _identify(record: AuditRecord, principal: Principal) -> None:
    record.subject, record.agency = principal.subject, principal.agency
    record.roles = tuple(sorted(principal.roles))


def _unknown_field(name: str, line: int, column: int) -> QueryInvalid:
    """Refused introspection reads exactly as a query for a field that does not exist."""
    error = {
        "message": f"Cannot query field '{name}' on type 'Query'.",
        "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
        "locations": [{"line": line, "column": column}],
    }
    return QueryInvalid([error], "GRAPHQL_VALIDATION_FAILED")


def record_operation(record: AuditRecord, operation: Operation, text: str) -> None:
    """What was asked: the operation's name and type, its text and hash, the fields touched."""
    record.operation_name, record.operation_type = operation.name, operation.type
    record.query_hash, record.query_text = operation.hash, text
    record.fields_requested = sorted({t.path for t in operation.touched})


def record_decisions(record: AuditRecord, operation: Operation, plan: Plan) -> None:
    """Every field by outcome, and the policies that decided each (docs/policies.md)."""
    by_outcome: dict[Outcome, list[str]] = {o: [] for o in Outcome}
    cited = record.field_policies
    for t in operation.touched:
        decision = plan.decisions[(t.resource.type_name, t.resource.field_name)]
        by_outcome[decision.outcome].append(t.path)
        cited[t.path] = decision.policies
    record.fields_allowed = sorted(by_outcome[Outcome.ALLOW])
    record.fields_masked = sorted(by_outcome[Outcome.MASK])
    record.fields_denied = sorted(by_outcome[Outcome.DENY])
    record.flag(*plan.flags)


def _is_graphql_error(body: dict[str, Any]) -> bool:
    codes = set(error_codes(body.get("errors", ())))
    return bool(codes) and codes <= {
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
        "PERSISTED_QUERY_NOT_FOUND",  # Apollo clients read it from a 200 and resend the text
    }


def _outcome(status: int, body: dict[str, Any]) -> str:
    if status >= 400:
        return "refused"
    if body.get("errors"):
        return "partial" if body.get("data") else "failed"
    return "ok"
