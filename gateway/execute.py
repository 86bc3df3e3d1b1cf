"""Stage 4, execute: run the validated operation; resolvers reach agencies through loaders."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from graphql import ExecutionResult, execute

from connectors.base import Connector
from connectors.resilience import request_deadline
from gateway.analyze import Operation
from gateway.types import RequestContext
from schema.loaders import Loaders
from schema.unified import GatewaySchema


class Executor:
    def __init__(self, schema: GatewaySchema, connectors: Mapping[str, Connector]) -> None:
        self.schema = schema
        self.connectors = connectors

    async def run(
        self, ctx: RequestContext, operation: Operation, variables: Mapping[str, Any] | None
    ) -> ExecutionResult:
        ctx.loaders = Loaders(ctx, self.connectors)
        # every agency call this execution makes (DataLoader batches included) ends by then
        with request_deadline(ctx.deadline):
            result = execute(
                self.schema.graphql,
                operation.document,
                context_value=ctx,
                variable_values=dict(variables) if variables else None,
                operation_name=operation.name,
            )
            if inspect.isawaitable(result):
                result = await result
        assert isinstance(result, ExecutionResult)
        return result
