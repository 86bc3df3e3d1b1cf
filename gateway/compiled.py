"""A compiled fast path for the execute stage: graphql-core's answer without its per-field cost.

graphql-core spends about 2-3 µs on every field it executes (resolve info, path, argument
check, awaitable checks, completion dispatch), and our schema objects are built in one pass
(``schema.base.build``), so most of that work decides nothing. Here a validated operation is
compiled once per (operation hash, operation name, values of the variables its ``@include`` /
``@skip`` directives read) into a tree of selections: fragments and inline fragments expanded by
graphql-core's own ``collect_fields``, aliases merged, and per field its response key, GraphQL
definition, catalog shape, Python attribute, argument values when they are literals, and a
completion program for its type (non-null and list wrappers, leaf serializer, sub-selection).

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

Whatever the compiler does not know (mutations, subscriptions, introspection other than
``__typename``, abstract types, ``is_type_of`` checks, directives other than ``@include`` /
``@skip``, fragment variables, fields without a catalog resource) makes the operation fall back
to graphql-core, decided when compiling and cached with the operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from types import CoroutineType
from typing import Any, Final

from graphql import (
    ArgumentNode,
    DirectiveNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    is_leaf_type,
    located_error,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.pyutils import Path, Undefined, gather_with_cancel, inspect, is_iterable
from graphql.pyutils import is_awaitable as default_is_awaitable

from gateway import pure
from gateway.analyze import Operation
from schema.base import SPECS, Shape
from schema.catalog import Catalog

__all__ = ["CompiledExecutor", "Fallback"]

STRAWBERRY_FIELD = "strawberry-definition"
GRAPHQL_MIN_INT: Final = -2_147_483_648
GRAPHQL_MAX_INT: Final = 2_147_483_647
MAX_VARIANTS = 16  # compiled variants of one operation for different @include/@skip values

# field kinds
_TYPENAME: Final = 0
_ATTR: Final = 1  # a value of the built object, read from its __dict__
_RESOLVE: Final = 2  # a root field or link: its resolver is called
# completion programs
_NON_NULL: Final = 0
_LIST: Final = 1
_LEAF: Final = 2
_OBJECT: Final = 3
# a list of built objects whose selection is pure (gateway/pure.py), tried that way first
_PURE_LIST: Final = 3
# leaf checks that make serializing a no-op (the value is returned as is by graphql-core)
_SLOW: Final = 0
_EXACT: Final = pure.EXACT  # String, ID, Boolean, identifier scalars (serialize=str): that type
_INT: Final = pure.INT  # an int in the 32-bit range
_FLOAT: Final = pure.FLOAT  # a finite float

_MISSING: Final[Any] = object()
_SCALAR_TYPES: Final = (str, int, float, bool, type(None))
_PLAIN_TYPES: set[type] = {*_SCALAR_TYPES, list, dict, tuple}


def _plain(value: Any) -> bool:
    """A coerced argument safe to reuse across requests: a scalar, or a list of them (a lookup
    by a list of identifiers), which nothing downstream mutates."""
    if type(value) is list:
        return all(type(v) in _SCALAR_TYPES for v in value)
    return type(value) in _SCALAR_TYPES


class Fallback(Exception):
    """The operation uses something the compiler leaves to graphql-core."""


class _Type:
    """The completion program of one output type at one place of the operation."""

    __slots__ = ("check", "exact", "gql", "kind", "obj", "of")

    def __init__(self, kind: int, gql: GraphQLOutputType) -> None:
        self.kind = kind
        self.gql = gql
        self.of: _Type | None = None  # inner type of non-null and list
        self.obj: _Object | None = None  # sub-selection of an object type
        self.check = _SLOW  # leaves: when serializing is the identity
        self.exact: Any = None


class _Object:
    """An object type with the fields selected on it."""

    __slots__ = ("classes", "complete", "fields", "name", "names", "program", "type")

    def __init__(self, gql: GraphQLObjectType) -> None:
        self.type = gql
        self.name = gql.name
        self.fields: tuple[_Field, ...] = ()
        self.names: tuple[str, ...] = ()  # python names read directly
        # per field: (code, key, python name, exact type, leaf check, nullable, field), where
        # code is _TYPENAME, _ATTR for a leaf read from __dict__, _PURE_LIST for a list of
        # built objects whose selection is pure (the items' completing function in place of
        # the exact type), or _RESOLVE for the slow path
        self.program: tuple[tuple[int, str, str, Any, int, bool, _Field], ...] = ()
        self.classes: dict[type, bool] = {}  # runtime classes whose __dict__ may be read
        # when every field is __typename, a leaf read from __dict__ or a list of built objects
        # with a pure selection: the function completing such an object (gateway/pure.py)
        self.complete: pure.Complete | None = None


class _Field:
    """One response key of a selection set."""

    __slots__ = (
        "args",
        "check",
        "definition",
        "exact",
        "first",
        "has_args",
        "key",
        "kind",
        "leaf",
        "name",
        "nodes",
        "non_null",
        "parent",
        "parent_name",
        "python",
        "resolve",
        "return_type",
        "type",
    )

    def __init__(self, key: str, name: str, kind: int, parent: GraphQLObjectType) -> None:
        self.key = key
        self.name = name
        self.kind = kind
        self.parent = parent
        self.parent_name = parent.name
        self.python = ""
        self.nodes: list[FieldNode] = []
        self.first: FieldNode | None = None
        self.definition: GraphQLField | None = None
        self.return_type: GraphQLOutputType = GraphQLNonNull(GraphQLString)
        self.type: _Type = _Type(_LEAF, GraphQLString)
        self.resolve: Callable[..., Any] | None = None
        self.has_args = False
        self.args: dict[str, Any] | None = None  # coerced once when all literal
        self.non_null = False
        self.leaf = False  # a leaf or non-null leaf: the fast path applies
        self.check = _SLOW
        self.exact: Any = None


class _Plan:
    __slots__ = ("fragments", "root")

    def __init__(self, root: _Object, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.root = root
        self.fragments = fragments


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
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.runs = 0  # executions on the compiled path
        self.fallbacks = 0  # executions left to graphql-core
        config = getattr(schema, "_strawberry_schema", None)
        default_resolver = getattr(getattr(config, "config", None), "default_resolver", getattr)
        self._basic_reads = default_resolver is getattr

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
            self._entries.move_to_end(key)
            return entry
        try:
            entry = _Entry(None, _prepare(self.schema, operation))
        except Fallback as why:
            entry = _Entry(str(why))
        self._entries[key] = entry
        if len(self._entries) > self.cache_size:
            self._entries.popitem(last=False)
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


def _prepare(schema: GraphQLSchema, operation: Operation) -> tuple[str, ...]:
    """Check what needs no variables; return the variables that directives read."""
    definition = operation.definition
    if definition.operation is not OperationType.QUERY:
        raise Fallback(f"{definition.operation.value} operations")
    if definition.directives:
        raise Fallback("directives on the operation")
    if schema.get_directive("defer") or schema.get_directive("stream"):
        raise Fallback("a schema with @defer or @stream")
    names: dict[str, None] = {}
    sets: list[SelectionSetNode] = [definition.selection_set]
    for d in operation.document.definitions:
        if isinstance(d, FragmentDefinitionNode):
            if d.variable_definitions:
                raise Fallback("fragment variables")
            if d.directives:
                raise Fallback("directives on a fragment definition")
            sets.append(d.selection_set)
    while sets:
        for selection in sets.pop().selections:
            for directive in selection.directives or ():
                _directive_variables(directive, names)
            if isinstance(selection, FieldNode):
                if selection.name.value in ("__schema", "__type"):
                    raise Fallback("introspection")
                if selection.selection_set is not None:
                    sets.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                sets.append(selection.selection_set)
    return tuple(names)


def _directive_variables(directive: DirectiveNode, names: dict[str, None]) -> None:
    if directive.name.value not in ("include", "skip"):
        raise Fallback(f"directive @{directive.name.value}")
    for argument in directive.arguments or ():
        for variable in _variables(argument.value):
            names[variable] = None


def _variables(value: ValueNode) -> Iterator[str]:
    if isinstance(value, VariableNode):
        yield value.name.value
    elif isinstance(value, ListValueNode):
        for item in value.values:
            yield from _variables(item)
    elif isinstance(value, ObjectValueNode):
        for field in value.fields:
            yield from _variables(field.value)


def _literal(arguments: Sequence[ArgumentNode]) -> bool:
    return not any(True for a in arguments for _ in _variables(a.value))


class _Compiler:
    def __init__(
        self, owner: CompiledExecutor, operation: Operation, variables: VariableValues
    ) -> None:
        self.owner = owner
        self.schema = owner.schema
        self.catalog = owner.catalog
        self.definition = operation.definition
        self.variables = variables
        self.fragment_definitions = {
            d.name.value: d
            for d in operation.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        self.fragments = {n: FragmentDetails(d, None) for n, d in self.fragment_definitions.items()}

    def compile(self) -> _Plan:
        root = self.schema.query_type
        assert root is not None
        grouped, deferred, _ = collect_fields(
            self.schema, self.fragments, self.variables, root, self.definition, False
        )
        if deferred:
            raise Fallback("@defer")
        return _Plan(self._object(root, grouped), self.fragment_definitions)

    def _object(self, gql: GraphQLObjectType, grouped: dict[str, list[FieldDetails]]) -> _Object:
        if gql.is_type_of is not None:
            raise Fallback(f"is_type_of on {gql.name}")
        obj = _Object(gql)
        fields = [self._field(gql, key, details) for key, details in grouped.items()]
        obj.fields = tuple(fields)
        obj.names = tuple(f.python for f in fields if f.kind == _ATTR)
        steps = [_pure_step(f) for f in fields]
        program = []
        for f, step in zip(fields, steps, strict=True):
            if f.kind == _TYPENAME or f.leaf:
                program.append((f.kind, f.key, f.python, f.exact, f.check, not f.non_null, f))
            elif step is not None:  # a list of objects: their completing function for exact
                program.append((_PURE_LIST, f.key, f.python, step[6], _SLOW, not f.non_null, f))
            else:
                program.append((_RESOLVE, f.key, f.python, f.exact, f.check, not f.non_null, f))
        obj.program = tuple(program)
        pure_steps = [step for step in steps if step is not None]
        if len(pure_steps) == len(steps):
            names = obj.names
            obj.complete = pure.compile_complete(
                obj.name, pure_steps, obj.classes, lambda cls: _dict_readable(cls, names)
            )
        return obj

    def _field(self, parent: GraphQLObjectType, key: str, details: list[FieldDetails]) -> _Field:
        if any(d.fragment_variable_values is not None or d.defer_usage for d in details):
            raise Fallback("fragment variables or @defer")
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            field = _Field(key, name, _TYPENAME, parent)
            field.nodes = [d.node for d in details]
            field.first = node
            field.non_null = True
            return field
        if name.startswith("__"):
            raise Fallback("introspection")
        definition = parent.fields.get(name)
        resource = self.catalog.get((parent.name, name))
        if definition is None or resource is None:
            raise Fallback(f"{parent.name}.{name} is not in the catalog")
        resolve = definition.resolve
        if resolve is None:
            raise Fallback(f"{parent.name}.{name} has no resolver")
        kind = _RESOLVE
        if resource.shape is not Shape.LINK and self._basic(definition, resource.python_name):
            kind = _ATTR
        field = _Field(key, name, kind, parent)
        field.python = resource.python_name
        field.nodes = [d.node for d in details]
        field.first = node
        field.definition = definition
        field.return_type = definition.type
        field.resolve = resolve
        field.has_args = bool(definition.args or node.arguments)
        if kind == _ATTR and field.has_args:
            raise Fallback("arguments on a plain value")
        if field.has_args and _literal(node.arguments or ()):
            try:
                args = get_argument_values(definition, node, self.variables, None, False)
            except Exception:  # raised again, as graphql-core raises it, at each execution
                args = None
            if args is not None and all(_plain(v) for v in args.values()):
                field.args = args
        field.type = self._type(definition.type, details)
        field.non_null = field.type.kind == _NON_NULL
        leaf = field.type.of if field.non_null else field.type
        assert leaf is not None
        if kind == _ATTR and leaf.kind == _LEAF:
            field.leaf = True
            field.check, field.exact = leaf.check, leaf.exact
        return field

    def _basic(self, definition: GraphQLField, python_name: str) -> bool:
        """Whether graphql-core would only read the attribute (Strawberry's basic field)."""
        sfield = (definition.extensions or {}).get(STRAWBERRY_FIELD)
        resolve = definition.resolve
        return (
            self.owner._basic_reads
            and sfield is not None
            and getattr(sfield, "python_name", None) == python_name
            and getattr(resolve, "__name__", "") == "_get_basic_result"
            and getattr(resolve, "_is_default", False) is True
        )

    def _type(self, gql: GraphQLOutputType, details: list[FieldDetails]) -> _Type:
        if isinstance(gql, GraphQLNonNull):
            t = _Type(_NON_NULL, gql)
            t.of = self._type(gql.of_type, details)
            return t
        if isinstance(gql, GraphQLList):
            t = _Type(_LIST, gql)
            t.of = self._type(gql.of_type, details)
            return t
        if is_leaf_type(gql):
            t = _Type(_LEAF, gql)
            t.check, t.exact = _leaf_check(gql)
            return t
        if isinstance(gql, GraphQLObjectType):
            grouped, deferred, _ = collect_subfields(
                self.schema, self.fragments, self.variables, self.definition, gql, details, False
            )
            if deferred:
                raise Fallback("@defer")
            t = _Type(_OBJECT, gql)
            t.obj = self._object(gql, grouped)
            return t
        raise Fallback(f"abstract type {gql}")


def _pure_step(f: _Field) -> pure.Step | None:
    """The field's step in a pure selection (gateway/pure.py), or None if it needs the full
    path: __typename, a leaf read from ``__dict__`` as in the program, or a list of objects
    read from ``__dict__`` (an embedded list) whose items' selection is pure itself."""
    if f.kind == _TYPENAME:
        return (pure.TYPENAME, f.key, "", None, _SLOW, False, None)
    if f.leaf:
        if f.check == _SLOW:
            return None
        return (pure.LEAF, f.key, f.python, f.exact, f.check, not f.non_null, None)
    if f.kind != _ATTR:
        return None
    t = f.type.of if f.non_null else f.type
    if t is None or t.kind != _LIST or t.of is None:
        return None
    item = t.of.of if t.of.kind == _NON_NULL else t.of
    if item is None or item.kind != _OBJECT or item.obj is None or item.obj.complete is None:
        return None
    return (pure.LIST, f.key, f.python, None, _SLOW, not f.non_null, item.obj.complete)


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


def _leaf_check(gql: Any) -> tuple[int, type | None]:
    """When graphql-core's ``coerce_output_value`` returns the value itself."""
    if gql is GraphQLString or gql is GraphQLID:
        return _EXACT, str
    if gql is GraphQLBoolean:
        return _EXACT, bool
    if gql is GraphQLInt:
        return _INT, int
    if gql is GraphQLFloat:
        return _FLOAT, float
    if getattr(gql, "coerce_output_value", None) is str:  # identifier scalars
        return _EXACT, str
    return _SLOW, None


def _identity(check: int, exact: Any, value: Any) -> bool:
    """Whether ``value`` serializes to itself (so the serializer need not be called)."""
    if type(value) is not exact:
        return False
    if check == _EXACT:
        return True
    if check == _INT:
        return bool(GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT)
    return check == _FLOAT and math.isfinite(value)


def _dict_readable(cls: type, names: tuple[str, ...]) -> bool:
    """Whether reading ``names`` from an instance's __dict__ is what getattr would do."""
    if cls.__getattribute__ is not object.__getattribute__:  # type: ignore[comparison-overlap]
        return False
    for name in names:
        for klass in cls.__mro__:
            attr = vars(klass).get(name, _MISSING)
            if attr is not _MISSING:
                kind = type(attr)
                if hasattr(kind, "__set__") or hasattr(kind, "__delete__"):
                    return False  # a data descriptor wins over the instance dict
                break
    return True


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
