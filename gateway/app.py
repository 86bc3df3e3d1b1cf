"""The gateway's ASGI application: the pipeline behind ``/graphql`` plus health endpoints."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.base import Connector
from connectors.registry import build_connectors
from gateway.analyze import Analyzer
from gateway.audit import AuditLog, JsonlAuditLog
from gateway.authn import AuthSettings, TokenVerifier
from gateway.authorize import Authorizer, OpenPolicy
from gateway.execute import Executor
from gateway.jwks import KeySource
from gateway.pipeline import Pipeline
from gateway.settings import Settings
from schema.unified import GatewaySchema, build_schema


@dataclass
class Gateway:
    """Everything one gateway process holds; built once at start-up."""

    settings: Settings
    schema: GatewaySchema
    keys: KeySource
    connectors: Mapping[str, Connector]
    audit: AuditLog
    pipeline: Pipeline


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
        else KeySource(url=settings.jwks_url)
    )
    verifier = TokenVerifier(
        AuthSettings(settings.issuer, settings.audience, leeway_s=settings.token_leeway_s), keys
    )
    connectors = connectors if connectors is not None else build_connectors(settings.agencies)
    audit = audit if audit is not None else JsonlAuditLog(settings.audit_file)
    pipeline = Pipeline(
        verifier, Analyzer(schema), Authorizer(OpenPolicy()), Executor(schema, connectors), audit
    )
    return Gateway(settings, schema, keys, connectors, audit, pipeline)


def create_app(gateway: Gateway) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.keys.refresh()
        refresher = None
        if gateway.keys.url is not None:
            refresher = asyncio.create_task(
                gateway.keys.refresh_forever(gateway.settings.jwks_refresh_s)
            )
        try:
            yield
        finally:
            if refresher is not None:
                refresher.cancel()
            for connector in gateway.connectors.values():
                await connector.aclose()
            await gateway.audit.aclose()

    async def graphql(request: Request) -> Response:
        return await gateway.pipeline.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        # more checks (audit store writable, policy loaded, agency circuits) come with issue #6
        checks = {"signing_keys": gateway.keys.loaded, "audit": gateway.audit.healthy}
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
