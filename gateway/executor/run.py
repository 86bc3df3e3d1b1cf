"""One execution of a compiled operation: :class:`Execution` (see the package docstring).

Root fields and links call their resolver (``gql_field.resolve``: Strawberry's wrapper, already
guarded by the plan, see ``schema.unified``) with a real :class:`GraphQLResolveInfo`; values of
built objects are read straight from their ``__dict__`` (``OP_LEAF``, ``OP_PURE_LIST``) and
common leaves kept without a serializer call (``KEEP_*``). Anything unusual takes the full
path, a line-by-line mirror of graphql-core's ``Executor`` (3.3): its methods carry the names of
graphql-core's (``_execute_fields``, ``_execute_field``, ``_complete_value``,
``_complete_list_value``, ...), with the same errors, messages, paths, locations and original
errors, null propagation to the nearest nullable parent, and the same asynchronous shape:
sibling fields and list items are awaited with ``gather_with_cancel`` exactly where graphql-core
does, so DataLoader batches, the order of agency calls and the order of errors are the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Sequence
from types import CoroutineType
from typing import Any

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
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import Path, Undefined, gather_with_cancel, inspect, is_iterable
from graphql.pyutils import is_awaitable as default_is_awaitable

from gateway.executor.program import (
    FIELD_ATTRIBUTE,
    FIELD_RESOLVER,
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    KEEP_EXACT_TYPE,
    KEEP_FINITE_FLOAT,
    KEEP_INT32,
    KEEP_NEVER,
    MISSING,
    OP_LEAF,
    OP_PURE_LIST,
    OP_TYPENAME,
    SCALAR_TYPES,
    TYPE_LEAF,
    TYPE_LIST,
    TYPE_NON_NULL,
    CompiledField,
    CompiledObject,
    CompiledOperation,
    CompiledType,
    Completer,
    dict_readable,
)
from schema.base import SPECS

__all__ = ["Execution"]

_PLAIN_TYPES: set[type] = {*SCALAR_TYPES, list, dict, tuple}


def _complete_pure_list(complete: Completer, value: Any) -> list[Any] | None:
    """A list of built objects completed by their pure selection's function, or None to take
    the full path (see pure.py)."""
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


def _serializes_to_itself(check: int, exact: Any, value: Any) -> bool:
    """Whether ``value`` serializes to itself (so the serializer need not be called)."""
    if type(value) is not exact:
        return False
    if check == KEEP_EXACT_TYPE:
        return True
    if check == KEEP_INT32:
        return bool(GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT)
    return check == KEEP_FINITE_FLOAT and math.isfinite(value)


def _non_awaitable(value: Any) -> bool:
    tp = type(value)
    if tp in _PLAIN_TYPES or tp in SPECS:
        return True
    return not default_is_awaitable(value)


class Execution:
    """One execution of a compiled operation; the methods mirror graphql-core's ``Executor``."""

    __slots__ = (
        "background",
        "compiled",
        "context",
        "errors",
        "fragments",
        "helpers",
        "operation",
        "positions",
        "schema",
        "variables",
    )

    def __init__(
        self,
        schema: GraphQLSchema,
        compiled: CompiledOperation,
        operation: OperationDefinitionNode,
        variables: VariableValues,
        context: Any,
    ) -> None:
        self.schema = schema
        self.compiled = compiled
        self.operation = operation
        self.variables = variables
        self.context = context
        self.fragments = compiled.fragments
        self.errors: list[GraphQLError] = []
        self.positions: set[Path | None] = set()
        self.background: set[Awaitable[Any]] = set()
        self.helpers = GraphQLResolveInfoHelpers(gather=self._gather_work, track=self._track)

    # execute_operation

    def execute(self) -> ExecutionResult | Awaitable[ExecutionResult]:
        try:
            data = self._execute_fields(self.compiled.root, None, None)
        except GraphQLError as error:
            self._add_error(error, None)
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
            self._add_error(error, None)
            return ExecutionResult(None, self.errors or None)
        finally:
            self._done()
        return ExecutionResult(data, self.errors or None)

    def _done(self) -> None:
        """The helpers hold this execution's bound methods: a cycle through the request's
        context that only the cyclic garbage collector would free; nothing resolves after."""
        del self.helpers

    # errors (CollectedErrors, handle_field_error)

    def _add_error(self, error: GraphQLError, path: Path | None) -> None:
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

    def _handle_field_error(
        self, raw: Exception, non_null: bool, field: CompiledField, path: Path
    ) -> None:
        error = located_error(raw, field.nodes, path.as_list())
        if non_null:
            raise error
        self._add_error(error, path)

    # execute_fields / execute_field

    def _execute_fields(self, obj: CompiledObject, source: Any, path: Path | None) -> Any:
        results: dict[str, Any] = {}
        pending: list[str] | None = None
        values: dict[str, Any] | None = None
        if obj.attribute_names:
            cls = type(source)
            readable = obj.classes.get(cls)
            if readable is None:
                readable = obj.classes[cls] = dict_readable(cls, obj.attribute_names)
            if readable:
                values = getattr(source, "__dict__", None)
        try:
            for code, key, python, exact, check, nullable, field in obj.program:
                if code == OP_TYPENAME:
                    results[key] = obj.name
                    continue
                if code == OP_LEAF and values is not None:  # kept as is, or the full path
                    value: Any = values.get(python, MISSING)
                    if value is None:
                        if nullable:
                            results[key] = None
                            continue
                    elif type(value) is exact and (
                        check == KEEP_EXACT_TYPE
                        or (check == KEEP_INT32 and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT)
                        or (check == KEEP_FINITE_FLOAT and math.isfinite(value))
                    ):
                        results[key] = value
                        continue
                elif code == OP_PURE_LIST and values is not None:  # objects of an embedded list
                    value = values.get(python, MISSING)
                    if value is None:
                        if nullable:
                            results[key] = None
                            continue
                    else:
                        items = _complete_pure_list(exact, value)
                        if items is not None:
                            results[key] = items
                            continue
                result = self._execute_field(field, source, path)
                results[key] = result
                if type(result) is CoroutineType:
                    if pending is None:
                        pending = [key]
                    else:
                        pending.append(key)
        except Exception:
            if pending:
                self._settle_in_background([results[key] for key in pending])
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

    def _execute_field(self, field: CompiledField, source: Any, parent: Path | None) -> Any:
        path = Path(parent, field.key, field.parent_name)
        try:
            if field.kind == FIELD_RESOLVER:
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
                    return self._complete_awaitable_value(field, path, result)
            elif field.kind == FIELD_ATTRIBUTE:
                result = getattr(source, field.python)  # Strawberry's default resolver
            else:  # FIELD_TYPENAME
                result = field.parent_name
            completed = self._complete_value(field.type, field, path, result)
            if type(completed) is CoroutineType:
                return self._await_completed(field, path, completed)
        except Exception as raw:
            self._handle_field_error(raw, field.non_null, field, path)
            return None
        return completed

    def _info(self, field: CompiledField, path: Path) -> GraphQLResolveInfo[Any]:
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

    async def _await_completed(
        self, field: CompiledField, path: Path, completed: Awaitable[Any]
    ) -> Any:
        try:
            return await completed
        except Exception as raw:
            self._handle_field_error(raw, field.non_null, field, path)
            return None

    async def _complete_awaitable_value(
        self, field: CompiledField, path: Path, result: Awaitable[Any]
    ) -> Any:
        try:
            resolved = await result
            completed = self._complete_value(field.type, field, path, resolved)
            if default_is_awaitable(completed):
                completed = await completed
        except Exception as raw:
            self._handle_field_error(raw, field.non_null, field, path)
            completed = None
        return completed

    # complete_value

    def _complete_value(
        self, t: CompiledType, field: CompiledField, path: Path, result: Any
    ) -> Any:
        if isinstance(result, Exception):
            raise result
        kind = t.kind
        if kind == TYPE_NON_NULL:
            completed = self._complete_value(t.of, field, path, result)  # type: ignore[arg-type]
            if completed is None:
                msg = f"Cannot return null for non-nullable field {field.parent_name}.{field.name}."
                raise TypeError(msg)
            return completed
        if result is None or result is Undefined:
            return None
        if kind == TYPE_LEAF:
            # a check applies (KEEP_NEVER is 0) and passes: no serializer call
            if t.check and _serializes_to_itself(t.check, t.exact, result):
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
        if kind == TYPE_LIST:
            return self._complete_list_value(t, field, path, result)
        # TYPE_OBJECT: the sub-selection on the value
        return self._execute_fields(t.obj, result, path)  # type: ignore[arg-type]

    # complete_list_value / complete_iterable_value

    def _complete_list_value(
        self, t: CompiledType, field: CompiledField, path: Path, result: Any
    ) -> Any:
        item_type: CompiledType = t.of  # type: ignore[assignment]
        if type(result) is not list:
            if hasattr(result, "__aiter__"):
                return self._complete_async_iterator_value(
                    item_type, field, path, result.__aiter__()
                )
            if not is_iterable(result):
                msg = (
                    "Expected Iterable, but did not find one for field"
                    f" '{field.parent_name}.{field.name}'."
                )
                raise GraphQLError(msg)
        item_non_null = item_type.kind == TYPE_NON_NULL
        leaf: CompiledType = item_type.of if item_non_null else item_type  # type: ignore[assignment]
        check, exact = (leaf.check, leaf.exact) if leaf.kind == TYPE_LEAF else (KEEP_NEVER, None)
        obj = leaf.obj  # items of an object type: built objects go straight to their fields
        if obj is not None and obj.complete is not None:
            done = _complete_pure_list(obj.complete, result)  # every item as it is: no paths needed
            if done is not None:
                return done
        completed: list[Any] = []
        append = completed.append
        pending: list[int] | None = None
        iterator = iter(result)
        index = 0
        try:
            for item in iterator:
                if check and _serializes_to_itself(check, exact, item):  # a leaf as it is
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
                            value = self._execute_fields(obj, item, item_path)
                        else:
                            value = self._complete_value(item_type, field, item_path, item)
                        if type(value) is CoroutineType:
                            append(self._await_item(value, item_non_null, field, item_path))
                            if pending is None:
                                pending = [index]
                            else:
                                pending.append(index)
                        else:
                            append(value)
                    except Exception as raw:
                        self._handle_field_error(raw, item_non_null, field, item_path)
                        append(None)
                index += 1
        except Exception:
            waiting = [completed[i] for i in pending or ()]
            with contextlib.suppress(Exception):  # as graphql-core: draining is best effort
                waiting.extend(i for i in iterator if not _non_awaitable(i))
            if waiting:
                self._settle_in_background(waiting)
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
        self, completed: Awaitable[Any], non_null: bool, field: CompiledField, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw:
            self._handle_field_error(raw, non_null, field, path)
            return None

    async def _complete_awaitable_item(
        self, item: Awaitable[Any], item_type: CompiledType, field: CompiledField, path: Path
    ) -> Any:
        try:
            resolved = await item
            completed = self._complete_value(item_type, field, path, resolved)
            if default_is_awaitable(completed):
                completed = await completed
        except Exception as raw:
            self._handle_field_error(raw, item_type.kind == TYPE_NON_NULL, field, path)
            return None
        return completed

    async def _complete_async_iterator_value(
        self,
        item_type: CompiledType,
        field: CompiledField,
        path: Path,
        iterator: AsyncIterator[Any],
    ) -> list[Any]:
        """complete_async_iterator_value (no @stream)."""
        item_non_null = item_type.kind == TYPE_NON_NULL
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
                        value = self._complete_value(item_type, field, item_path, item)
                        if type(value) is CoroutineType:
                            completed.append(
                                self._await_item(value, item_non_null, field, item_path)
                            )
                            pending.append(index)
                        else:
                            completed.append(value)
                    except Exception as raw:
                        self._handle_field_error(raw, item_non_null, field, item_path)
                        completed.append(None)
                index += 1
        except Exception:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            if pending:
                self._settle_in_background([completed[i] for i in pending])
            raise
        if not pending:
            return completed
        return await self._gather_list(completed, pending)

    # asynchronous work of resolvers and abandoned siblings

    def _settle_in_background(self, awaitables: list[Any]) -> None:
        """settle_in_background: a bubbling error does not wait for its siblings."""
        future = asyncio.gather(*awaitables, return_exceptions=True)
        self.background.add(future)
        future.add_done_callback(self.background.discard)

    def _gather_work(self, values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return gather_with_cancel(*values)

    def _track(self, values: Sequence[Any]) -> None:
        awaitables = [v for v in values if default_is_awaitable(v)]
        if awaitables:
            self._settle_in_background(awaitables)
