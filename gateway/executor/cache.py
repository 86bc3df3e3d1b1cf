"""The executor's entry point: :class:`CompiledExecutor` compiles, caches and runs operations.

Each operation (by ``Operation.cache_key``: query hash, operation name, caller) gets one
:class:`CacheEntry`, in an LRU cache: why it falls back to graphql-core, decided once, or the
variables its ``@include`` / ``@skip`` read and the operation compiled for each set of their
values (up to ``MAX_VARIANTS``). ``run`` coerces the variables as graphql-core does, finds or
compiles the variant and runs it (``run.py``); it returns None when graphql-core is to run the
operation instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from graphql import ExecutionResult, GraphQLSchema
from graphql.execution.values import VariableValues, get_variable_values

from gateway.analyze import Operation
from gateway.executor.compile import Compiler, Fallback, screen
from gateway.executor.program import MISSING, CompiledOperation
from gateway.executor.run import Execution
from kernel.lru import LRU
from schema.catalog import Catalog

__all__ = ["MAX_VARIANTS", "CacheEntry", "CompiledExecutor"]

MAX_VARIANTS = 16  # compiled variants of one operation for different @include/@skip values


class CacheEntry:
    """One operation's compile results: why it falls back, or its compiled variants."""

    __slots__ = ("directive_variables", "fallback", "variants")

    def __init__(self, fallback: str | None, directive_variables: tuple[str, ...] = ()) -> None:
        self.fallback = fallback
        self.directive_variables = directive_variables
        # by the values of the directive variables, in their order
        self.variants: dict[tuple[Any, ...], CompiledOperation] = {}


class CompiledExecutor:
    """Compiles operations (LRU-cached) and runs them; ``run`` returns None to fall back."""

    def __init__(self, schema: GraphQLSchema, catalog: Catalog, cache_size: int = 1024) -> None:
        self.schema = schema
        self.catalog = catalog
        self.cache_size = cache_size
        # by Operation.cache_key, least recently used first
        self.entries: LRU[str, CacheEntry] = LRU(cache_size)
        self.runs = 0  # executions on the compiled path
        self.fallbacks = 0  # executions left to graphql-core
        config = getattr(schema, "_strawberry_schema", None)
        default_resolver = getattr(getattr(config, "config", None), "default_resolver", getattr)
        self.basic_reads = default_resolver is getattr  # read by the compiler (CompilerInputs)

    def fallback_reason(self, operation: Operation) -> str | None:
        """Why this operation runs on graphql-core (None: it is compiled)."""
        return self._entry(operation).fallback

    def run(
        self, context: Any, operation: Operation, variables: Mapping[str, Any] | None
    ) -> ExecutionResult | Awaitable[ExecutionResult] | None:
        entry = self._entry(operation)
        if entry.fallback is not None:
            self.fallbacks += 1
            return None
        definition = operation.definition
        coerced = get_variable_values(
            self.schema,
            definition.variable_definitions or (),
            dict(variables) if variables else {},
            max_errors=50,
            hide_suggestions=False,
        )
        if isinstance(coerced, list):  # as graphql-core: a request error, no data
            self.runs += 1
            return ExecutionResult(None, coerced)
        compiled = self._variant(entry, operation, coerced)
        if compiled is None:
            self.fallbacks += 1
            return None
        self.runs += 1
        return Execution(self.schema, compiled, definition, coerced, context).execute()

    # compiling

    def _entry(self, operation: Operation) -> CacheEntry:
        key = operation.cache_key
        entry = self.entries.get(key)
        if entry is not None:
            return entry
        try:
            entry = CacheEntry(None, screen(self.schema, operation))
        except Fallback as why:
            entry = CacheEntry(str(why))
        self.entries[key] = entry
        return entry

    def _variant(
        self, entry: CacheEntry, operation: Operation, variables: VariableValues
    ) -> CompiledOperation | None:
        values = variables.coerced
        key = tuple(values.get(name, MISSING) for name in entry.directive_variables)
        try:
            compiled = entry.variants.get(key)
        except TypeError:  # an unhashable value: compile for this request only
            key, compiled = None, None  # type: ignore[assignment]
        if compiled is not None:
            return compiled
        try:
            compiled = Compiler(self, operation, variables).compile()
        except Exception as why:  # e.g. a directive argument graphql-core rejects at that place
            if not entry.directive_variables:  # then it is the same for every request
                entry.fallback = str(why) if isinstance(why, Fallback) else f"compiling: {why!r}"
            return None
        if key is not None and len(entry.variants) < MAX_VARIANTS:
            entry.variants[key] = compiled
        return compiled
