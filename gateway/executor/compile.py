"""Compile a validated operation against the schema into the plan the compiled executor runs.

The plan is what ``gateway/compiled.py`` runs in place of graphql-core's ``Executor``: a tree of
selections, fragments and inline fragments expanded by graphql-core's own ``collect_fields``,
aliases merged, and per field its response key, GraphQL definition, catalog shape, Python
attribute, argument values when they are literals, and a completion program for its type
(non-null and list wrappers, leaf serializer, sub-selection). A built object whose whole
selection is ``__typename``, leaves that serialize to themselves and embedded lists of such
objects also gets one generated function that completes it (``gateway/pure.py``). The field
kinds, completion programs and leaf checks defined here are what the executor dispatches on.
An operation is compiled once for each set of values of the variables its ``@include`` /
``@skip`` directives read; the executor caches the plans with the operation.

Whatever the compiler does not know (mutations, subscriptions, introspection other than
``__typename``, abstract types, ``is_type_of`` checks, directives other than ``@include`` /
``@skip``, fragment variables, fields without a catalog resource) raises :class:`Fallback`: the
operation falls back to graphql-core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, Protocol

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    is_leaf_type,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values

from gateway.analyze import Operation
from gateway.executor import pure
from schema.base import Shape
from schema.catalog import Catalog

__all__ = ["Fallback"]

STRAWBERRY_FIELD = "strawberry-definition"

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


class _Owner(Protocol):
    """What the compiler reads of the executor that compiles with it (``CompiledExecutor``)."""

    schema: GraphQLSchema
    catalog: Catalog
    basic_reads: bool  # the schema's default resolver is getattr


class _Compiler:
    def __init__(self, owner: _Owner, operation: Operation, variables: VariableValues) -> None:
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
            self.owner.basic_reads
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
