"""GraphQL subscriptions over WebSocket: ``/graphql``, subprotocol ``graphql-transport-ws``
(the protocol of enisdenjo/graphql-ws, PROTOCOL.md; docs/subscriptions.md is the guide).

    client                                   gateway
    ── open /graphql (graphql-transport-ws) ─▶ origin checked like CORS
    ── connection_init {Authorization, X-Purpose, X-Case-Id, X-Justification}
                                              ─▶ authn, purpose (CASE_NOT_ASSIGNED) as over HTTP
    ◀─ connection_ack                         (a timer closes 4401 at the token's exp)
    ── subscribe {id, query, variables}       ─▶ rate limits, analyze, authorize (visible schema,
                                                 limits, plan); audited: operation_type
                                                 "subscription"
    ◀─ next {id, payload}  per lead event     ─▶ the desk's readLead for this subscriber (not
                                                 readable: nothing at all is sent), the case
                                                 re-checked, the document executed on the event
                                                 under the plan, the delivery audited (flag
                                                 subscription-event) and committed, then sent
    ── complete {id} / ◀─ complete, error {id, payload: [errors]}
    ── ping ◀─ pong

The HTTP request walk is gateway/pipeline.py's; a WebSocket connection enters the same stage
modules (authn, ratelimit, purpose, analyze, authorize, respond) from here, with the same
objects (:class:`SubscriptionServer` takes them from the :class:`~gateway.pipeline.Pipeline`),
so that a subscription is decided and recorded exactly as the query it resembles.

Close codes: 4400 a message that is not the protocol's; 4401 ``subscribe`` before the
connection is acknowledged, or the token expired; 4403 the ``connection_init`` refused (a bad or
missing token, no purpose, a case not assigned: the reason is the code alone), or a case no
longer assigned; 4406 the subprotocol not offered; 4408 no ``connection_init`` within
``subscriptions.init_timeout_s``; 4409 an id already subscribed; 4429 a second
``connection_init``, or more than ``subscriptions.max_per_connection`` subscriptions; 4500 a bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, cast

import orjson
from graphql import ExecutionResult, FieldNode
from graphql.execution.values import get_argument_values, get_variable_values
from starlette.requests import Request
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway.analyze import Operation
from gateway.events import EventBus
from gateway.forwarded import client_of
from gateway.pipeline import Pipeline, record_decisions, record_operation
from gateway.respond import answer_body, error_codes
from gateway.subscription_settings import SubscriptionSettings
from kernel.errors import AuditUnavailable, GatewayError
from kernel.types import AuditRecord, Declaration, Outcome, Principal, RequestContext
from kernel.workflow import Desk, LeadEvent
from schema.office_ops import wanted

__all__ = ["PROTOCOL", "SubscriptionServer"]

log = logging.getLogger("jointgate.subscriptions")

PROTOCOL = "graphql-transport-ws"
INIT_HEADERS = ("authorization", "x-purpose", "x-case-id", "x-justification", "x-break-glass")
OVERFLOW = "SUBSCRIPTION_OVERFLOW"


VOLUME_ENDED = (
    "This user has received the most distinct records of a kind the volume window allows;"
    " the subscription ends (subscribe again once the window has passed)."
)


class _Closed(Exception):
    """The connection is closed (by us, with a code, or by the client)."""


class SubscriptionServer:
    """The ``/graphql`` WebSocket endpoint of one gateway process."""

    def __init__(
        self,
        pipeline: Pipeline,
        bus: EventBus,
        settings: SubscriptionSettings,
        *,
        desk: Desk | None = None,
        origins: frozenset[str] = frozenset(),
    ) -> None:
        self.pipeline = pipeline
        self.bus = bus
        self.settings = settings
        self.desk = desk  # None: no lead is readable, nothing is delivered (deny by default)
        self.origins = origins  # gateway.cors_allowed_origins
        self.active = 0  # subscriptions open now
        self.events = {"delivered": 0, "withheld": 0}  # deliveries decided, by outcome

    async def serve(self, websocket: WebSocket) -> None:
        """The endpoint (``WebSocketRoute("/graphql", server.serve)``)."""
        origin = websocket.headers.get("origin")
        if origin is not None and origin not in self.origins:
            await websocket.close(4403)  # before the handshake: the browser sees 403
            return
        if PROTOCOL not in websocket.scope.get("subprotocols", ()):
            await websocket.accept()
            await websocket.close(4406, "Subprotocol not acceptable")
            return
        await websocket.accept(PROTOCOL)
        connection = _Connection(self, websocket)
        try:
            await connection.run()
        except _Closed:
            pass
        except Exception:
            log.exception("subscription connection failed")
            with contextlib.suppress(Exception):
                await websocket.close(4500, "Internal server error")
        finally:
            await connection.stop()


class _Subscription:
    def __init__(
        self, id: str, operation: Operation, text: str, variables: dict[str, Any], wants: _Filter
    ) -> None:
        self.id = id
        self.operation = operation
        self.text = text  # the operation's text (sent, or the persisted one its hash names)
        self.variables = variables
        self.wants = wants
        self.queue: asyncio.Queue[LeadEvent | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.stop_listening: Callable[[], None] = lambda: None


_Filter = Callable[[LeadEvent], bool]


class _Connection:
    def __init__(self, server: SubscriptionServer, websocket: WebSocket) -> None:
        self.server = server
        self.ws = websocket
        self.pipeline = server.pipeline
        self.client = client_of(cast(Request, websocket), self.pipeline.http.trusted_proxies)
        self.trace_id = uuid.uuid4().hex  # every record of this connection's, one trace
        self.headers: dict[str, str] = {}
        self.principal: Principal | None = None
        self.declaration: Declaration | None = None
        self.subscriptions: dict[str, _Subscription] = {}
        self.closed = False
        self._send_lock = asyncio.Lock()
        self._expiry: asyncio.Task[None] | None = None
        self.expires = 0.0  # the token's exp: the connection ends then

    # --- the socket -------------------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        try:
            message = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            raise _Closed from None
        if message["type"] == "websocket.disconnect":
            raise _Closed
        text = message.get("text")
        if text is None or len(text) > self.pipeline.http.max_body_bytes:
            await self.close(4400, "Invalid message")
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            await self.close(4400, "Invalid message")
        return cast(dict[str, Any], body)

    async def send(self, message: Mapping[str, Any]) -> None:
        if self.closed:
            raise _Closed
        async with self._send_lock:
            try:
                await self.ws.send_text(orjson.dumps(message).decode())
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.closed = True
                raise _Closed from None

    async def close(self, code: int, reason: str) -> NoReturn:
        """Close with ``code`` (once), then stop whoever called."""
        if not self.closed:
            self.closed = True
            # a close frame's reason is at most 123 bytes (RFC 6455); an id may be in it
            reason = reason.encode()[:123].decode(errors="ignore")
            with contextlib.suppress(Exception):
                await self.ws.close(code, reason)
        raise _Closed

    async def stop(self) -> None:
        self.closed = True
        if self._expiry is not None:
            self._expiry.cancel()
        for subscription in list(self.subscriptions.values()):
            self._end(subscription)

    # --- the protocol -----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            async with asyncio.timeout(self.server.settings.init_timeout_s):
                while self.principal is None:
                    message = await self.receive()
                    kind = message["type"]
                    if kind == "connection_init":
                        await self.init(message.get("payload"))
                    elif kind == "subscribe":
                        await self.close(4401, "Unauthorized")
                    else:
                        await self.common(message)
        except TimeoutError:
            await self.close(4408, "Connection initialisation timeout")
        while True:
            message = await self.receive()
            kind = message["type"]
            if kind == "connection_init":
                await self.close(4429, "Too many initialisation requests")
            elif kind == "subscribe":
                await self.subscribe(message)
            elif kind == "complete":
                found = self.subscriptions.get(str(message.get("id")))
                if found is not None:
                    self._end(found)
            else:
                await self.common(message)

    async def common(self, message: dict[str, Any]) -> None:
        if message["type"] == "ping":
            await self.send({"type": "pong"})
        elif message["type"] != "pong":
            await self.close(4400, "Invalid message")

    async def init(self, payload: Any) -> None:
        """Authenticate and declare as the HTTP headers would; refused: 4403 and the code."""
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            await self.close(4400, "Invalid message")
        headers = {str(k).lower(): v for k, v in payload.items()}
        self.headers = {
            k: v for k, v in headers.items() if k in INIT_HEADERS and isinstance(v, str)
        }
        record = self._record()
        record.operation_type = "subscription"
        ctx = RequestContext(request_id=record.request_id, audit=record)
        try:
            principal, expires = await self.pipeline.verifier.verify(
                self.headers.get("authorization")
            )
            ctx.principal = principal
            _identify(record, principal)
            self.declaration = self.pipeline.purposes.declare(self.headers, principal, ctx)
        except GatewayError as exc:
            record.status, record.outcome, record.error_codes = exc.status, "refused", [exc.code]
            record.flag("subscription-refused", *exc.flags)
            await self._commit(record)
            self.pipeline.telemetry.refused(exc.code)
            reason = "Forbidden" if exc.code == "UNAUTHENTICATED" else f"Forbidden: {exc.code}"
            await self.close(4403, reason)
        self.principal, self.expires = principal, expires
        self._expiry = asyncio.create_task(self._expire_at(expires))
        await self.send({"type": "connection_ack"})

    async def _expire_at(self, expires: float) -> None:
        await asyncio.sleep(max(0.0, expires - time.time()))
        with contextlib.suppress(_Closed):
            await self.close(4401, "Unauthorized: the token expired")

    async def subscribe(self, message: dict[str, Any]) -> None:
        id, payload = message.get("id"), message.get("payload")
        if not isinstance(id, str) or not id or len(id) > 128 or not isinstance(payload, dict):
            await self.close(4400, "Invalid message")
        if id in self.subscriptions:
            await self.close(4409, f"Subscriber for {id} already exists")
        if len(self.subscriptions) >= self.server.settings.max_per_connection:
            await self.close(4429, "Too many subscriptions")
        query, variables = payload.get("query"), payload.get("variables") or {}
        name, extensions = payload.get("operationName"), payload.get("extensions")
        if not isinstance(variables, dict) or not isinstance(extensions, dict | None):
            await self.close(4400, "Invalid message")
        if not isinstance(query, str | None) or not isinstance(name, str | None):
            await self.close(4400, "Invalid message")
        record = self._record()
        record.variables = dict(variables)
        try:
            if self.pipeline.limiter is not None:
                await self.pipeline.limiter.admit(self._principal)
            subscription = self._decide(id, query, name, extensions, variables, record)
        except GatewayError as exc:
            record.status, record.outcome, record.error_codes = exc.status, "refused", [exc.code]
            record.flag(*exc.flags)
            self.pipeline.telemetry.refused(exc.code)
            await self._commit_or_close(record)
            await self.send({"id": id, "type": "error", "payload": list(exc.graphql_errors())})
            return
        record.status, record.outcome = 200, "ok"
        await self._commit_or_close(record)
        self.subscriptions[id] = subscription
        self.server.active += 1
        queue = subscription.queue

        def listener(event: LeadEvent) -> None:
            if subscription.wants(event):
                if queue.qsize() < self.server.settings.queue:
                    queue.put_nowait(event)
                else:  # a subscriber too slow to keep up: it ends rather than misses events
                    subscription.stop_listening()
                    queue.put_nowait(None)

        subscription.stop_listening = self.server.bus.listen(listener)
        subscription.task = asyncio.create_task(self._serve(subscription))

    @property
    def _principal(self) -> Principal:
        assert self.principal is not None
        return self.principal

    def _decide(
        self,
        id: str,
        query: str | None,
        name: str | None,
        extensions: dict[str, Any] | None,
        variables: dict[str, Any],
        record: AuditRecord,
    ) -> _Subscription:
        """The analyze and authorize stages, as gateway/pipeline.py runs them for a query."""
        pipeline, principal, declaration = self.pipeline, self._principal, self.declaration
        assert declaration is not None
        context = pipeline.authorizer.context(principal, declaration)
        visible = pipeline.authorizer.visibility(principal, context)
        introspects = bool(principal.roles & pipeline.analyzer.limits.introspection_roles)
        text = pipeline.analyzer.document(query, extensions, principal.client, principal.subject)
        operation = pipeline.analyzer.analyze(text, name, visible, introspects, principal.subject)
        record_operation(record, operation, text)
        if operation.type != "subscription":
            raise GatewayError(
                "Only subscriptions are served over this WebSocket; send queries and mutations"
                " by HTTP POST to /graphql.",
                code="BAD_REQUEST",
                status=400,
            )
        record.policy_version = pipeline.authorizer.policies.engine.version
        plan = pipeline.authorizer.plan(principal, context, operation)
        record_decisions(record, operation, plan)
        pipeline.telemetry.decided(record)
        root = operation.definition.selection_set.selections[0]
        assert isinstance(root, FieldNode)  # validation: one root field, no fragment spread
        decision = plan.decisions.get(("Subscription", root.name.value))
        if decision is None or decision.outcome == Outcome.DENY:
            raise GatewayError(
                f"The field 'Subscription.{root.name.value}' is not available to you for the"
                " declared purpose.",
                code="FORBIDDEN_FIELD",
                status=403,
            )
        wants = self._filter(operation, root, variables)
        return _Subscription(id, operation, text, variables, wants)

    def _filter(self, operation: Operation, root: FieldNode, variables: dict[str, Any]) -> _Filter:
        """Which events the subscription asks for (schema/office_ops.py ``wanted``:
        ``majorEvents`` the major ones, ``leadEvents(kinds:)`` those kinds), before anyone's
        right to read them is considered."""
        schema = self.pipeline.executor.schema.graphql
        coerced = get_variable_values(
            schema, operation.definition.variable_definitions or (), variables
        )
        if isinstance(coerced, list):
            raise GatewayError(coerced[0].message, code="BAD_USER_INPUT", status=400)
        subscription_type = schema.subscription_type
        assert subscription_type is not None
        field = subscription_type.fields[root.name.value]
        arguments = get_argument_values(field, root, coerced)
        name = root.name.value
        return lambda event: wanted(name, arguments, event)

    def _end(self, subscription: _Subscription) -> None:
        if self.subscriptions.pop(subscription.id, None) is None:
            return
        self.server.active -= 1
        subscription.stop_listening()
        if subscription.task is not None and subscription.task is not asyncio.current_task():
            subscription.task.cancel()

    # --- each event -------------------------------------------------------------------------

    async def _serve(self, subscription: _Subscription) -> None:
        try:
            while True:
                event = await subscription.queue.get()
                if event is None:
                    await self._fail(
                        subscription, OVERFLOW, "Too many events waiting; subscribe again."
                    )
                    return
                if not await self._deliver(subscription, event):
                    return
        except _Closed:
            pass
        except Exception:
            log.exception("subscription failed")
            with contextlib.suppress(_Closed):
                await self.close(4500, "Internal server error")
        finally:
            self._end(subscription)

    async def _fail(self, subscription: _Subscription, code: str, message: str) -> None:
        self._end(subscription)
        payload = [{"message": message, "extensions": {"code": code}}]
        await self.send({"id": subscription.id, "type": "error", "payload": payload})

    async def _deliver(self, subscription: _Subscription, event: LeadEvent) -> bool:
        """One event to one subscriber; False once the subscription has ended."""
        started = time.perf_counter()
        if time.time() >= self.expires:  # the timer is due: nothing more on this token
            await self.close(4401, "Unauthorized: the token expired")
        pipeline, principal, server = self.pipeline, self._principal, self.server
        record = self._record()
        ctx = RequestContext(request_id=record.request_id, audit=record, principal=principal)
        try:  # the case may have closed, the assignment ended, since the connection began
            declaration = pipeline.purposes.declare(self.headers, principal, ctx)
        except GatewayError as exc:
            await self.close(4403, f"Forbidden: {exc.code}")
        desk = server.desk
        readable = await desk.readable(principal, declaration, [event.lead_id]) if desk else ()
        if event.lead_id not in readable:
            server.events["withheld"] += 1  # and nothing about it is sent, or logged
            return True
        operation = subscription.operation
        context = pipeline.authorizer.context(principal, declaration)
        record_operation(record, operation, subscription.text)
        record.variables = dict(subscription.variables)
        record.policy_version = pipeline.authorizer.policies.engine.version
        ctx.plan = plan = pipeline.authorizer.plan(principal, context, operation)
        ctx.records_visible = pipeline.authorizer.record_filter(principal, context)
        ctx.office = desk
        record_decisions(record, operation, plan)
        record.flag("subscription-event")
        record.saw("LeadEvent", event.event_id)
        record.saw("Lead", event.lead_id)
        result = await self._execute(ctx, operation, subscription.variables, event)
        data = result.data
        if not result.errors and data is not None and all(v is None for v in data.values()):
            server.events["withheld"] += 1  # the resolver found it not for this subscriber
            return True
        capped = False  # the records shown count towards the volume caps, as a query's do
        if pipeline.limiter is not None:
            flags = await pipeline.limiter.account(principal, record.records_returned)
            record.flag(*flags)
            capped = bool(flags)
        body = answer_body(result, ctx.request_id, subscription.variables)
        payload = orjson.dumps(body)
        record.status, record.outcome = 200, "partial" if body.get("errors") else "ok"
        record.error_codes = error_codes(body.get("errors", ()))
        record.response_size = len(payload)
        record.response_hash = hashlib.sha256(payload).hexdigest()
        record.latency_ms = (time.perf_counter() - started) * 1e3
        if not await self._commit(record):  # the audit contract: no record, nothing sent
            refused = AuditUnavailable("The audit trail is unavailable; no data can be served.")
            await self._fail(subscription, refused.code, refused.message)
            return False
        server.events["delivered"] += 1
        await self.send({"id": subscription.id, "type": "next", "payload": body})
        if capped:  # as a query past a cap is answered and the next refused: this was the last
            await self._fail(subscription, "VOLUME_LIMITED", VOLUME_ENDED)
            return False
        return True

    async def _execute(
        self, ctx: RequestContext, operation: Operation, variables: dict[str, Any], event: LeadEvent
    ) -> ExecutionResult:
        """The execute stage with the event as the root value (the Subscription fields'
        resolvers read it: schema/office.py)."""
        if self.pipeline.request_deadline_s:
            ctx.deadline = time.monotonic() + self.pipeline.request_deadline_s
        return await self.pipeline.executor.run(ctx, operation, variables or None, root_value=event)

    # --- audit ------------------------------------------------------------------------------

    def _record(self) -> AuditRecord:
        record = AuditRecord(
            request_id=uuid.uuid4().hex, client=self.client, trace_id=self.trace_id
        )
        if self.principal is not None:
            _identify(record, self.principal)
        if self.declaration is not None:
            declaration = self.declaration
            record.purpose, record.case_id = declaration.purpose.value, declaration.case_id
            record.justification = declaration.justification or declaration.break_glass
            record.break_glass = declaration.break_glass is not None
        return record

    async def _commit(self, record: AuditRecord) -> bool:
        committing, committed = time.perf_counter(), True
        try:
            await self.pipeline.audit.commit(record)
        except Exception:
            committed = False
            log.exception("audit commit failed", extra={"request_id": record.request_id})
        self.pipeline.telemetry.committed(time.perf_counter() - committing, committed)
        return committed

    async def _commit_or_close(self, record: AuditRecord) -> None:
        """A subscription starts (or is refused) only once recorded; else the connection ends:
        nothing can be served without the audit trail."""
        if not await self._commit(record):
            await self.close(4500, "The audit trail is unavailable")


def _identify(record: AuditRecord, principal: Principal) -> None:
    record.subject, record.agency = principal.subject, principal.agency
    record.roles = tuple(sorted(principal.roles))
