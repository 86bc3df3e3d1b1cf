"""A compiled fast path for the execute stage: graphql-core's answer without its per-field cost.

graphql-core spends about 2-3 µs on every field it executes (resolve info, path, argument
check, awaitable checks, completion dispatch), and our schema objects are built in one pass
(``schema.base.build``), so most of that work decides nothing. Here a validated operation is
compiled once per (operation hash, operation name, values of the variables its ``@include`` /
``@skip`` directives read) into a plan (``gateway/compiler.py``): a tree of selections with, per
field, its response key, Python attribute, literal arguments and a completion program for its
type; :class:`CompiledExecutor` keeps the plans in an LRU cache and runs them.

Running it reads attributes and embedded values straight from the built objects' ``__dict__``
and serializes common leaves without a call; a built object whose whole selection is such
leaves and embedded lists of the same is completed by one generated function
(``gateway/pure.py``), with no response paths unless something is unusual. Only root fields
and links call their resolver
(``gql_field.resolve``: Strawberry's wrapper, already guarded by the plan, see
``schema.unified``) with a real :class:`GraphQLResolveInfo`. Anything unusual on the way (a
missing attribute, which the builder withheld, a value of another type, an error) takes a slow
path that is a line-by-line mirror of graphql-core's ``Executor`` (3.3): the same errors with the
same messages, paths, locations and original errors, null propagation to the nearest nullable
parent, and the same asynchronous shape: sibling fields and list items are awaited with
``gather_with_cancel`` exactly where graphql-core does, so DataLoader batches, the order of
agency calls and the order of errors are the same.

Whatever the compiler does not know (``gateway/compiler.py`` lists it) makes the operation fall
back to graphql-core, decided when compiling and cached with the operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from types import CoroutineType
from typing import Any, Final

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLLeafType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    OperationDefinitionNode,
    located_error,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.pyutils import Path, Undefined, gather_with_cancel, inspect, is_iterable
from graphql.pyutils import is_awaitable as default_is_awaitable

from gateway import pure
from gateway.analyze import Operation
from gateway.compiler import (
    _ATTR,
    _EXACT,
    _FLOAT,
    _INT,
    _LEAF,
    _LIST,
    _MISSING,
    _NON_NULL,
    _PURE_LIST,
    _RESOLVE,
    _SCALAR_TYPES,
    _SLOW,
    _TYPENAME,
    Fallback,
    _Compiler,
    _dict_readable,
    _Field,
    _Object,
    _Plan,
    _prepare,
    _Type,
)
from kernel.lru import LRU
from schema.base import SPECS
from schema.catalog import Catalog

__all__ = ["CompiledExecutor", "Fallback"]

GRAPHQL_MIN_INT: Final = -2_147_483_648
GRAPHQL_MAX_INT: Final = 2_147_483_647
MAX_VARIANTS = 16  # compiled variants of one operation for different @include/@skip values

_PLAIN_TYPES: set[type] = {*_SCALAR_TYPES, list, dict, tuple}


class _Entry:
    """One operation's compile results: why it falls back, or its variants."""

    __slots__ = ("directive_variables", "fallback", "variants")

    def __init__(self, fallback: str | None, directive_variables: tuple[str, ...] = ()) -> None:
        self.fallback = fallback
        self.directive_variables = directive_variables
        self.variants: dict[tuple[Any, ...], _Plan] = {}


class CompiledExecutor:
    """Compiles operations (LRU-cached) and runs them; ``run`` returns None to fall back."""

    def __init__(self, schema: GraphQLSchema, catalog: Catalog, cache_size: int = 1024) -> None:
        self.schema = schema
        self.catalog = catalog
        self.cache_size = cache_size
        self._entries: LRU[str, _Entry] = LRU(cache_size)
        self.runs = 0  # executions on the compiled path
        self.fallbacks = 0  # executions left to graphql-core
        config = getattr(schema, "_strawberry_schema", None)
        default_resolver = getattr(getattr(config, "config", None), "default_resolver", getattr)
        self.basic_reads = default_resolver is getattr  # read by the compiler

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
        plan = self._variant(entry, operation, coerced)
        if plan is None:
            self.fallbacks += 1
            return None
        self.runs += 1
        return _Execution(self.schema, plan, definition, coerced, context).execute()

    # compiling

    def _entry(self, operation: Operation) -> _Entry:
        key = operation.cache_key
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        try:
            entry = _Entry(None, _prepare(self.schema, operation))
        except Fallback as why:
            entry = _Entry(str(why))
        self._entries[key] = entry
        return entry

    def _variant(
        self, entry: _Entry, operation: Operation, variables: VariableValues
    ) -> _Plan | None:
        values = variables.coerced
        key = tuple(values.get(name, _MISSING) for name in entry.directive_variables)
        try:
            plan = entry.variants.get(key)
        except TypeError:  # an unhashable value: compile for this request only
            key, plan = None, None  # type: ignore[assignment]
        if plan is not None:
            return plan
        try:
            plan = _Compiler(self, operation, variables).compile()
        except Exception as why:  # e.g. a directive argument graphql-core rejects at that place
            if not entry.directive_variables:  # then it is the same for every request
                entry.fallback = str(why) if isinstance(why, Fallback) else f"compiling: {why!r}"
            return None
        if key is not None and len(entry.variants) < MAX_VARIANTS:
            entry.variants[key] = plan
        return plan


def _complete_list(complete: pure.Complete, value: Any) -> list[Any] | None:
    """A list of built objects completed by their pure selection's function, or None to take
    the full path (see gateway/pure.py)."""
    if type(value) is not list:
        return None
    completed = []
    for item in value:
        if type(item) not in SPECS:
            return None
        result = complete(item)
        if result is None:
            return None
        completed.append(result)
    return completed


def _identity(check: int, exact: Any, value: Any) -> bool:
    """Whether ``value`` serializes to itself (so the serializer need not be called)."""
    if type(value) is not exact:
        return False
    if check == _EXACT:
        return True
    if check == _INT:
        return bool(GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT)
    return check == _FLOAT and math.isfinite(value)


def _non_awaitable(value: Any) -> bool:
    tp = type(value)
    if tp in _PLAIN_TYPES or tp in SPECS:
        return True
    return not default_is_awaitable(value)


class _Execution:
    """One execution of a compiled plan; the methods mirror graphql-core's ``Executor``."""

    __slots__ = (
        "background",
        "context",
        "errors",
        "fragments",
        "helpers",
        "operation",
        "plan",
        "positions",
        "schema",
        "variables",
    )

    def __init__(
        self,
        schema: GraphQLSchema,
        plan: _Plan,
        operation: OperationDefinitionNode,
        variables: VariableValues,
        context: Any,
    ) -> None:
        self.schema = schema
        self.plan = plan
        self.operation = operation
        self.variables = variables
        self.context = context
        self.fragments = plan.fragments
        self.errors: list[GraphQLError] = []
        self.positions: set[Path | None] = set()
        self.background: set[Awaitable[Any]] = set()
        self.helpers = GraphQLResolveInfoHelpers(gather=self._gather_work, track=self._track)

    # execute_operation

    def execute(self) -> ExecutionResult | Awaitable[ExecutionResult]:
        try:
            data = self._fields(self.plan.root, None, None)
        except GraphQLError as error:
            self._add(error, None)
            self._done()
            return ExecutionResult(None, self.errors or None)
        if type(data) is CoroutineType:
            return self._await_root(data)
        self._done()
        return ExecutionResult(data, self.errors or None)

    async def _await_root(self, pending: Awaitable[dict[str, Any]]) -> ExecutionResult:
        try:
            data = await pending
        except GraphQLError as error:
            self._add(error, None)
            return ExecutionResult(None, self.errors or None)
        finally:
            self._done()
        return ExecutionResult(data, self.errors or None)

    def _done(self) -> None:
        """The helpers hold this execution's bound methods: a cycle through the request's
        context that only the cyclic garbage collector would free; nothing resolves after."""
        del self.helpers

    # errors (CollectedErrors, handle_field_error)

    def _add(self, error: GraphQLError, path: Path | None) -> None:
        positions = self.positions
        at = path
        while at is not None:
            if at in positions:
                return
            at = at.prev
        if None in positions:
            return
        positions.add(path)
        self.errors.append(error)

    def _error(self, raw: Exception, non_null: bool, field: _Field, path: Path) -> None:
        error = located_error(raw, field.nodes, path.as_list())
        if non_null:
            raise error
        self._add(error, path)

    # execute_fields / execute_field

    def _fields(self, obj: _Object, source: Any, path: Path | None) -> Any:
        results: dict[str, Any] = {}
        pending: list[str] | None = None
        values: dict[str, Any] | None = None
        if obj.names:
            cls = type(source)
            readable = obj.classes.get(cls)
            if readable is None:
                readable = obj.classes[cls] = _dict_readable(cls, obj.names)
            if readable:
                values = getattr(source, "__dict__", None)
        try:
            for code, key, python, exact, check, nullable, field in obj.program:
                if code == _TYPENAME:
                    results[key] = obj.name
                    continue
                if code == _ATTR and values is not None:  # a leaf: serialized as is, or slow
                    value: Any = values.get(python, _MISSING)
                    if value is None:
                        if nullable:
                            results[key] = None
                            continue
                    elif type(value) is exact and (
                        check == _EXACT
                        or (check == _INT and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT)
                        or (check == _FLOAT and math.isfinite(value))
                    ):
                        results[key] = value
                        continue
                elif code == _PURE_LIST and values is not None:  # objects of an embedded list
                    value = values.get(python, _MISSING)
                    if value is None:
                        if nullable:
                            results[key] = None
                            continue
                    else:
                        items = _complete_list(exact, value)
                        if items is not None:
                            results[key] = items
                            continue
                result = self._field(field, source, path)
                results[key] = result
                if type(result) is CoroutineType:
                    if pending is None:
                        pending = [key]
                    else:
                        pending.append(key)
        except Exception:
            if pending:
                self._settle([results[key] for key in pending])
            raise
        if pending is None:
            return results
        return self._gather_fields(results, pending)

    async def _gather_fields(self, results: dict[str, Any], keys: list[str]) -> dict[str, Any]:
        if len(keys) == 1:
            key = keys[0]
            results[key] = await results[key]
        else:
            awaited = await gather_with_cancel(*(results[key] for key in keys))
            results.update(zip(keys, awaited, strict=True))
        return results

    def _field(self, field: _Field, source: Any, parent: Path | None) -> Any:
        path = Path(parent, field.key, field.parent_name)
        try:
            if field.kind == _RESOLVE:
                info = self._info(field, path)
                args = field.args
                if args is None:
                    args = (
                        get_argument_values(
                            field.definition,  # type: ignore[arg-type]
                            field.first,  # type: ignore[arg-type]
                            self.variables,
                            None,
                            False,
                        )
                        if field.has_args
                        else {}
                    )
                result = field.resolve(source, info, **args)  # type: ignore[misc]
                if default_is_awaitable(result):
                    return self._complete_awaitable(field, path, result)
            elif field.kind == _ATTR:
                result = getattr(source, field.python)  # Strawberry's default resolver
            else:
                result = field.parent_name
            completed = self._complete(field.type, field, path, result)
            if type(completed) is CoroutineType:
                return self._await_completed(field, path, completed)
        except Exception as raw:
            self._error(raw, field.non_null, field, path)
            return None
        return completed

    def _info(self, field: _Field, path: Path) -> GraphQLResolveInfo[Any]:
        return GraphQLResolveInfo(
            field.name,
            field.nodes,
            field.return_type,
            field.parent,
            path,
            self.schema,
            self.fragments,
            None,
            self.operation,
            self.variables,
            self.context,
            default_is_awaitable,
            None,
            self.helpers,
        )

    async def _await_completed(self, field: _Field, path: Path, completed: Awaitable[Any]) -> Any:
        try:
            return await completed
        except Exception as raw:
            self._error(raw, field.non_null, field, path)
            return None

    async def _complete_awaitable(self, field: _Field, path: Path, result: Awaitable[Any]) -> Any:
        try:
            resolved = await result
            completed = self._complete(field.type, field, path, resolved)
            if default_is_awaitable(completed):
                completed = await completed
        except Exception as raw:
            self._error(raw, field.non_null, field, path)
            completed = None
        return completed

    # complete_value

    def _complete(self, t: _Type, field: _Field, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        kind = t.kind
        if kind == _NON_NULL:
            completed = self._complete(t.of, field, path, result)  # type: ignore[arg-type]
            if completed is None:
                msg = f"Cannot return null for non-nullable field {field.parent_name}.{field.name}."
                raise TypeError(msg)
            return completed
        if result is None or result is Undefined:
            return None
        if kind == _LEAF:
            if t.check and _identity(t.check, t.exact, result):
                return result
            gql: GraphQLLeafType = t.gql  # type: ignore[assignment]
            coerced = gql.coerce_output_value(result)
            if coerced is Undefined or coerced is None:
                msg = (
                    f"Expected `{inspect(gql)}.coerce_output_value("
                    f"{inspect(result)})` to return non-nullable value, returned:"
                    f" {inspect(coerced)}"
                )
                raise TypeError(msg)
            return coerced
        if kind == _LIST:
            return self._list(t, field, path, result)
        return self._fields(t.obj, result, path)  # type: ignore[arg-type]

    # complete_list_value / complete_iterable_value

    def _list(self, t: _Type, field: _Field, path: Path, result: Any) -> Any:
        item_type: _Type = t.of  # type: ignore[assignment]
        if type(result) is not list:
            if hasattr(result, "__aiter__"):
                return self._async_list(item_type, field, path, result.__aiter__())
            if not is_iterable(result):
                msg = (
                    "Expected Iterable, but did not find one for field"
                    f" '{field.parent_name}.{field.name}'."
                )
                raise GraphQLError(msg)
        item_non_null = item_type.kind == _NON_NULL
        leaf: _Type = item_type.of if item_non_null else item_type  # type: ignore[assignment]
        check, exact = (leaf.check, leaf.exact) if leaf.kind == _LEAF else (_SLOW, None)
        obj = leaf.obj  # items of an object type: built objects go straight to their fields
        if obj is not None and obj.complete is not None:
            done = _complete_list(obj.complete, result)  # every item as it is: no paths needed
            if done is not None:
                return done
        completed: list[Any] = []
        append = completed.append
        pending: list[int] | None = None
        iterator = iter(result)
        index = 0
        try:
            for item in iterator:
                if check and _identity(check, exact, item):
                    append(item)
                    index += 1
                    continue
                item_path = Path(path, index, None)
                if not _non_awaitable(item):
                    append(self._complete_awaitable_item(item, item_type, field, item_path))
                    if pending is None:
                        pending = [index]
                    else:
                        pending.append(index)
                else:
                    try:
                        if obj is not None and type(item) in SPECS:  # neither None nor an error
                            value = self._fields(obj, item, item_path)
                        else:
                            value = self._complete(item_type, field, item_path, item)
                        if type(value) is CoroutineType:
                            append(self._await_item(value, item_non_null, field, item_path))
                            if pending is None:
                                pending = [index]
                            else:
                                pending.append(index)
                        else:
                            append(value)
                    except Exception as raw:
                        self._error(raw, item_non_null, field, item_path)
                        append(None)
                index += 1
        except Exception:
            waiting = [completed[i] for i in pending or ()]
            with contextlib.suppress(Exception):  # as graphql-core: draining is best effort
                waiting.extend(i for i in iterator if not _non_awaitable(i))
            if waiting:
                self._settle(waiting)
            raise
        if pending is None:
            return completed
        return self._gather_list(completed, pending)

    async def _gather_list(self, completed: list[Any], indices: list[int]) -> list[Any]:
        if len(indices) == 1:
            index = indices[0]
            completed[index] = await completed[index]
        else:
            awaited = await gather_with_cancel(*(completed[i] for i in indices))
            for index, value in zip(indices, awaited, strict=True):
                completed[index] = value
        return completed

    async def _await_item(
        self, completed: Awaitable[Any], non_null: bool, field: _Field, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw:
            self._error(raw, non_null, field, path)
            return None

    async def _complete_awaitable_item(
        self, item: Awaitable[Any], item_type: _Type, field: _Field, path: Path
    ) -> Any:
        try:
            resolved = await item
            completed = self._complete(item_type, field, path, resolved)
            if default_is_awaitable(completed):
                completed = await completed
        except Exception as raw:
            self._error(raw, item_type.kind == _NON_NULL, field, path)
            return None
        return completed

    async def _async_list(
        self, item_type: _Type, field: _Field, path: Path, iterator: AsyncIterator[Any]
    ) -> list[Any]:
        """complete_async_iterator_value (no @stream)."""
        item_non_null = item_type.kind == _NON_NULL
        completed: list[Any] = []
        pending: list[int] = []
        index = 0
        try:
            while True:
                item_path = Path(path, index, None)
                try:
                    item = await anext(iterator)
                except StopAsyncIteration:
                    break
                except Exception as raw:
                    raise located_error(raw, field.nodes, path.as_list()) from raw
                if not _non_awaitable(item):
                    completed.append(
                        self._complete_awaitable_item(item, item_type, field, item_path)
                    )
                    pending.append(index)
                else:
                    try:
                        value = self._complete(item_type, field, item_path, item)
                        if type(value) is CoroutineType:
                            completed.append(
                                self._await_item(value, item_non_null, field, item_path)
                            )
                            pending.append(index)
                        else:
                            completed.append(value)
                    except Exception as raw:
                        self._error(raw, item_non_null, field, item_path)
                        completed.append(None)
                index += 1
        except Exception:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            if pending:
                self._settle([completed[i] for i in pending])
            raise
        if not pending:
            return completed
        return await self._gather_list(completed, pending)

    # asynchronous work of resolvers and abandoned siblings

    def _settle(self, awaitables: list[Any]) -> None:
        """settle_in_background: a bubbling error does not wait for its siblings."""
        future = asyncio.gather(*awaitables, return_exceptions=True)
        self.background.add(future)
        future.add_done_callback(self.background.discard)

    def _gather_work(self, values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return gather_with_cancel(*values)

    def _track(self, values: Sequence[Any]) -> None:
        awaitables = [v for v in values if default_is_awaitable(v)]
        if awaitables:
            self._settle(awaitables)
