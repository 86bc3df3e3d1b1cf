"""The gateway's ASGI application: the pipeline behind ``/graphql`` plus health endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute, request_response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from audit.config import load_config
from audit.log import AuditLog
from audit.trail import AuditTrail
from connectors.base import Connector
from connectors.registry import build_connectors
from gateway.analyze import Analyzer
from gateway.authn import AuthSettings, TokenVerifier
from gateway.authorize import Authorizer, OpenPolicy, StaticPolicies
from gateway.events import EventBus, OverdueSweep, Sweeper
from gateway.execute import Executor
from gateway.governance import OverdueReviews, bootstrap_record
from gateway.graphql_http import HttpLimits, serve
from gateway.http_security import http_middleware
from gateway.jwks import KeySource
from gateway.notify import ChangeNotifier
from gateway.persisted import PersistedOperations
from gateway.pipeline import Pipeline
from gateway.purpose import Purposes
from gateway.ratelimit import Limiter, open_limiter
from gateway.record_cache import RecordCache
from gateway.settings import Settings
from gateway.subscriptions import SubscriptionServer
from gateway.telemetry import PROMETHEUS_CONTENT_TYPE, LiveEvents, Telemetry
from kernel.workflow import Desk, LeadEvent
from office.desk import OfficeDesk
from policies.cases import CaseDirectory, CaseStore
from policies.db import Database
from policies.engine import DEFAULT_DIR as DEFAULT_POLICY_DIR
from policies.reload import PolicyStore, PolicyVersions
from policies.review import ReviewQueue
from policies.teams import TeamDirectory, TeamStore
from schema.audit import READER as AUDIT_READER
from schema.paging import Cursors
from schema.unified import GatewaySchema, build_schema


class EveryMethod:
    """An endpoint that Starlette routes every HTTP method to. A function endpoint gets only the
    methods its route lists and Starlette answers the others itself (a plain-text 405 that no
    audit record sees); an ASGI class gets them all, so ``/graphql`` refuses all but GET and
    POST in the pipeline: a JSON 405 with ``Allow: GET, POST`` and one audit record."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@dataclass
class Gateway:
    """Everything one gateway process holds; built once at start-up."""

    settings: Settings
    schema: GatewaySchema
    keys: KeySource
    connectors: Mapping[str, Connector]
    audit: AuditLog
    pipeline: Pipeline
    policies: PolicyStore | StaticPolicies
    governance: Database
    limiter: Limiter
    telemetry: Telemetry
    notifier: ChangeNotifier | None = None  # change notifications between replicas
    teams: TeamDirectory | None = None
    cases: CaseDirectory | None = None  # the case registry, in memory
    cache: RecordCache | None = None  # registry records in Redis (docs/cache.md)
    overdue: OverdueReviews | None = None  # break-glass reviews past their deadline (metrics)
    # the joint office's system of record (office/): the workflow's queries and mutations
    office: OfficeDesk | None = None
    # where the desk's lead events go once committed: the bus's publish (set below)
    events: Callable[[LeadEvent], None] | None = None
    bus: EventBus | None = None  # lead events, to every replica's subscribers
    subscriptions: SubscriptionServer | None = None  # the WebSocket endpoint
    sweep: OverdueSweep | None = None  # major events past their deadline (needs the desk)

    def publish(self, event: LeadEvent) -> None:
        """The desk's ``publish`` hook: hands ``event`` to :attr:`events`, if any."""
        if self.events is not None:
            self.events(event)


def build_gateway(
    settings: Settings,
    *,
    connectors: Mapping[str, Connector] | None = None,
    audit: AuditLog | None = None,
) -> Gateway:
    schema = build_schema()
    keys = (
        KeySource(file=settings.jwks_file)
        if settings.jwks_file
        else KeySource(url=settings.jwks_url, min_refetch_s=settings.jwks_min_refetch_s)
    )
    verifier = TokenVerifier(
        AuthSettings(settings.issuer, settings.audience, leeway_s=settings.token_leeway_s),
        keys,
        keys.refetch_for,
    )
    connectors = connectors if connectors is not None else build_connectors(settings.agencies)
    telemetry = Telemetry(settings.telemetry)
    telemetry.instrument(connectors)
    audit = (
        audit if audit is not None else AuditTrail(load_config(settings.audit, settings.data_dir))
    )
    if isinstance(audit, AuditTrail):  # auditLog reads the trail it writes; without one (the
        schema.graphql.extensions[AUDIT_READER] = audit.reader  # tests' memory log): UNAVAILABLE
    governance = Database(settings.governance_url)
    policies: PolicyStore | StaticPolicies = (
        PolicyStore(
            settings.policy_dir or DEFAULT_POLICY_DIR,
            schema.catalog,
            PolicyVersions(governance) if settings.policy_shared else None,
            publisher=settings.audit.log_id or "gateway",
        )
        if settings.enforcement
        else StaticPolicies(OpenPolicy())
    )
    limiter = open_limiter(settings.rate_limits, settings.data_dir, {t for t, _ in schema.catalog})
    cases = CaseDirectory(CaseStore(governance))
    teams = TeamDirectory(TeamStore(governance))
    notifier = _notifier(settings, teams, cases, policies)
    # the replicas' shared key: keyed hashes in Redis (limits, cache), sealed paging cursors
    hash_key = settings.rate_limits.hash_key(settings.data_dir)
    cache_settings = settings.cache.resolved(settings.rate_limits)
    cache = (
        RecordCache.build(cache_settings, hash_key, schema.catalog)
        if cache_settings.enabled
        else None
    )
    if cache is not None:
        connectors = cache.wrap(connectors)
    events = EventBus(
        settings.subscriptions.resolved(settings.rate_limits), origin=settings.audit.log_id
    )
    links = {
        "rate_limits": limiter.redis,
        "events": events.redis,
        "notifications": notifier.redis if notifier is not None else None,
        "cache": cache.link if cache is not None else None,
    }
    telemetry.watch_redis({name: link.health for name, link in links.items() if link is not None})
    if isinstance(audit, AuditTrail) and audit.witness is not None:
        telemetry.watch_witnesses(audit.witness.states)
    reviews = ReviewQueue(governance)
    overdue = OverdueReviews(reviews, settings.review_deadline_h * 3600)
    telemetry.watch_reviews(lambda: overdue.count)
    authorizer = Authorizer(policies, teams, reject=settings.policy_mode == "reject")
    office = _office(settings, governance, cases, teams, policies)
    pipeline = Pipeline(
        verifier,
        Purposes(cases, teams),
        Analyzer(
            schema, settings.limits, persisted=PersistedOperations.from_settings(settings.persisted)
        ),
        authorizer,
        Executor(
            schema, connectors, cursors=Cursors(hash_key), office=office, signals=settings.signals
        ),
        audit,
        reviews,
        limiter,
        request_deadline_s=settings.request_deadline_s,
        request_timeout_s=settings.request_timeout_s,
        http=HttpLimits(
            settings.max_body_bytes,
            settings.max_json_depth,
            settings.batching,
            settings.max_batch_operations,
            settings.trusted_proxies,
        ),
        telemetry=telemetry,
    )
    subscriptions = SubscriptionServer(
        pipeline, events, settings.subscriptions, origins=frozenset(settings.cors_allowed_origins)
    )
    gateway = Gateway(
        settings,
        schema,
        keys,
        connectors,
        audit,
        pipeline,
        policies,
        governance,
        limiter,
        telemetry=telemetry,
        notifier=notifier,
        teams=teams,
        cases=cases,
        cache=cache,
        overdue=overdue,
        office=office,
        events=events.publish,
        bus=events,
        subscriptions=subscriptions,
    )
    if office is not None:
        office.publish = gateway.publish
        attach_desk(gateway, office)
    telemetry.watch_live(
        LiveEvents(
            lead_events=lambda: dict(events.by_kind),
            active=lambda: subscriptions.active,
            deliveries=lambda: dict(subscriptions.events),
            overdue=lambda: gateway.sweep.count if gateway.sweep is not None else None,
        )
    )
    return gateway


def attach_desk(gateway: Gateway, desk: Desk) -> None:
    """The joint office's desk: subscribers' need-to-know is its ``readable``, and its
    overdue major events are swept every ``subscriptions.overdue_sweep_s``."""
    if gateway.subscriptions is not None:
        gateway.subscriptions.desk = desk
    if gateway.bus is not None and isinstance(desk, Sweeper):
        gateway.sweep = OverdueSweep(
            desk, gateway.bus, gateway.settings.subscriptions.overdue_sweep_s
        )


def _office(
    settings: Settings,
    governance: Database,
    cases: CaseDirectory,
    teams: TeamDirectory,
    policies: PolicyStore | StaticPolicies,
) -> OfficeDesk | None:
    """The joint office's desk over the governance database (the case registry's: a case it
    opens is one officials declare), deciding with the policies in force (reloads apply at
    once). None with enforcement off: nothing would decide who may act on a lead."""
    if not isinstance(policies, PolicyStore):
        return None
    return OfficeDesk(
        governance, cases.store, teams.store, lambda: policies.engine, settings.office
    )


def _notifier(
    settings: Settings,
    teams: TeamDirectory,
    cases: CaseDirectory,
    policies: PolicyStore | StaticPolicies,
) -> ChangeNotifier:
    """Re-checks of the shared state, off the event loop: on notification and periodically."""
    notifier = ChangeNotifier(
        settings.notifications.resolved(settings.rate_limits), origin=settings.audit.log_id
    )
    notifier.watch("teams", lambda: asyncio.to_thread(teams.check))
    notifier.watch("cases", lambda: asyncio.to_thread(cases.check))
    if isinstance(policies, PolicyStore) and policies.shared:
        notifier.watch("policy", lambda: asyncio.to_thread(policies.check))
    return notifier


#: what serves more than the API beside the gateway: given the gateway, the routes it adds (the
#: console, on a floor above: commands/ passes ``console.app.mount``; docs/architecture.md)
Extension = Callable[[Gateway], BaseRoute]


def create_app(gateway: Gateway, extensions: Sequence[Extension] = ()) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.keys.refresh()
        await gateway.limiter.connect()
        if gateway.bus is not None:
            await gateway.bus.start()
        if gateway.notifier is not None:
            await gateway.notifier.start()
        tasks = []
        if gateway.keys.url is not None:
            tasks.append(
                asyncio.create_task(gateway.keys.refresh_forever(gateway.settings.jwks_refresh_s))
            )
        policies = gateway.policies
        if isinstance(policies, PolicyStore) and policies.bootstrapped is not None:
            # the first replica put its own set in force: in the trail like any policy change
            await gateway.audit.commit(
                bootstrap_record(
                    policies.bootstrapped,
                    policies.directory,
                    gateway.settings.audit.log_id or "gateway",
                )
            )
        if gateway.overdue is not None:
            tasks.append(asyncio.create_task(gateway.overdue.refresh_forever()))
        if gateway.sweep is not None:
            tasks.append(asyncio.create_task(gateway.sweep.run_forever()))
        if isinstance(policies, PolicyStore):
            tasks.append(asyncio.create_task(policies.watch(gateway.settings.policy_reload_s)))
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, policies.reload)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if gateway.notifier is not None:
                await gateway.notifier.aclose()  # before the database its checks read
            if gateway.bus is not None:
                await gateway.bus.aclose()
            gateway.governance.close()
            for connector in gateway.connectors.values():
                await connector.aclose()
            await gateway.limiter.aclose()
            if gateway.cache is not None:
                await gateway.cache.aclose()
            await gateway.audit.aclose()
            await asyncio.to_thread(gateway.telemetry.shutdown)  # flushes the OTLP exports

    async def graphql(request: Request) -> Response:
        pipeline = gateway.pipeline
        return await serve(request, pipeline.handle, pipeline.http, pipeline.request_timeout_s)

    async def subscriptions(websocket: WebSocket) -> None:
        server = gateway.subscriptions
        if server is None:
            await websocket.close()
            return
        await server.serve(websocket)

    async def metrics(request: Request) -> Response:
        if gateway.telemetry.metrics_reader is None:
            return Response("metrics are off ([telemetry] metrics = false)\n", status_code=404)
        return Response(gateway.telemetry.prometheus(), media_type=PROMETHEUS_CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        # the audit trail is ready only on a committed write (a probe's, if none lately):
        # a store that locks and reads but cannot commit takes the replica out of rotation
        audit = await gateway.audit.readiness()
        checks = {
            "signing_keys": gateway.keys.loaded,
            "audit": audit.ready,
            "audit_store": audit.report(),  # since when, why not (redacted), last proven write
            # reported, not required: a witness that is down loses nothing (docs/audit.md)
            "audit_witness": (
                gateway.audit.witness_status()
                if isinstance(gateway.audit, AuditTrail)
                else {"mode": "off"}
            ),
            "policy": gateway.policies.engine.version,
            # reported, not required: one agency's open circuit leaves the others serving
            "agencies": {name: c.status() for name, c in gateway.connectors.items()},
            "rate_limits": gateway.limiter.status(),  # reported: local mode still limits
            # reported: without Redis, changes still arrive by polling, records from the agency
            "notifications": gateway.notifier.status() if gateway.notifier else {"mode": "off"},
            "cache": gateway.cache.stats() if gateway.cache else {"mode": "off"},
            # reported: without Redis, each replica's subscribers get its own events only
            "events": gateway.bus.status() if gateway.bus else {"mode": "off"},
        }
        if isinstance(gateway.policies, PolicyStore):
            checks["policy_store"] = gateway.policies.status()
        ready = bool(checks["signing_keys"] and checks["audit"])
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    routes: list[BaseRoute] = [
        # every method reaches the pipeline, which refuses all but GET and POST (405, audited)
        Route("/graphql", EveryMethod(graphql)),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),  # Prometheus text; keep it to the scrapers' network
    ]
    if gateway.settings.subscriptions.enabled:
        # subscriptions: graphql-transport-ws at the same path (docs/subscriptions.md)
        routes.append(WebSocketRoute("/graphql", subscriptions))
    routes += [extend(gateway) for extend in extensions]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=http_middleware(gateway.settings),
    )
