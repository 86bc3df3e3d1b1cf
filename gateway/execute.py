"""Stage 7, execute: run the validated operation; resolvers reach agencies through loaders.
Then every identity the answer shows in clear is recorded as seen (``gateway/disclosure.py``).

Operations run on the compiled fast path (``gateway/executor/``), which answers exactly as
graphql-core does without its per-field cost; what it does not cover falls back to graphql-core.
``Executor(..., compiled=False)`` (or setting ``executor.compiled``) runs everything on
graphql-core, which the equivalence tests compare against. Mutations (the joint office's
work, schema/office_ops.py) always run on graphql-core, which executes their root fields one
after the other; the desk they call is put on ``RequestContext.office`` here.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from graphql import ExecutionResult, execute

from connectors.base import Connector
from connectors.resilience import request_deadline
from gateway.analyze import Operation
from gateway.disclosure import disclose
from gateway.executor import CompiledExecutor
from kernel.types import RequestContext
from kernel.workflow import Desk
from schema.loaders import Loaders
from schema.paging import Cursors
from schema.unified import GatewaySchema
from signals.settings import SignalSettings


class Executor:
    def __init__(
        self,
        schema: GatewaySchema,
        connectors: Mapping[str, Connector],
        *,
        compiled: bool = True,
        cache_size: int = 1024,
        cursors: Cursors | None = None,
        office: Desk | None = None,
        signals: SignalSettings | None = None,
    ) -> None:
        self.schema = schema
        self.connectors = connectors
        # paging cursors: sealed with the replicas' shared key (gateway/app.py), else this
        # process's own
        self.cursors = cursors or Cursors.ephemeral()
        self.compiled = compiled
        # the joint office's desk (a kernel.workflow.Desk, office.desk.OfficeDesk), handed to
        # the workflow resolvers on RequestContext.office; None: no workflow fields answer
        self.office = office
        # the [signals] table, handed to riskSignals and traceFunds on RequestContext.signals
        self.signals = signals or SignalSettings()
        self.fast = CompiledExecutor(schema.graphql, schema.catalog, cache_size)

    async def run(
        self,
        ctx: RequestContext,
        operation: Operation,
        variables: Mapping[str, Any] | None,
        root_value: Any = None,
    ) -> ExecutionResult:
        """``root_value``: a subscription's event (the Subscription fields' resolvers read it:
        schema/office_ops.py), run on graphql-core; queries have none."""
        ctx.loaders = loaders = Loaders(ctx, self.connectors, self.cursors)
        ctx.office = self.office
        ctx.signals = self.signals
        try:
            # every agency call this execution makes (loader batches included) ends by then
            with request_deadline(ctx.deadline):
                fast = self.compiled and root_value is None
                result = self.fast.run(ctx, operation, variables) if fast else None
                if result is None:
                    result = execute(
                        operation.schema or self.schema.graphql,  # introspection: the visible
                        operation.document,
                        root_value=root_value,
                        context_value=ctx,
                        variable_values=dict(variables) if variables else None,
                        operation_name=operation.name,
                    )
                if inspect.isawaitable(result):
                    result = await result
        finally:
            # the loaders and the context refer to each other: without this the whole answer
            # (every record and object built) would wait for the cyclic garbage collector
            loaders.close()
            ctx.loaders = None
        assert isinstance(result, ExecutionResult)
        plan = ctx.plan
        if plan is not None and plan.disclosures:  # identifiers shown inside records
            disclose(ctx.audit, result.data, plan.disclosures, ctx.stating)
        return result
