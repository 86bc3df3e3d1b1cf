"""Compile a validated operation into the ``CompiledOperation`` the executor runs (``run.py``).

:func:`screen` checks, once per operation, what needs no variable values, and finds the
variables ``@include`` / ``@skip`` read; :class:`Compiler` then compiles the operation for one
set of their values: selections expanded by graphql-core's own ``collect_fields`` and
``collect_subfields`` (fragments, inline fragments, directives, merged aliases), and per field
its response key, definition, kind (``FIELD_*``), Python attribute, argument values when they
are literals, and a ``CompiledType`` per place of its type (``TYPE_*``, leaf checks
``KEEP_*``); per object type, the program of its fields (``OP_*``) and, when its selection is
pure, the function completing it (``pure.py``). The package docstring tells the whole story.

Whatever the compiler does not know (mutations, subscriptions, introspection other than
``__typename``, abstract types, ``is_type_of`` checks, directives other than ``@include`` /
``@skip``, fragment variables, fields without a catalog resource) raises :class:`Fallback`: the
operation falls back to graphql-core.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

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
from gateway.executor.program import (
    FIELD_ATTRIBUTE,
    FIELD_RESOLVER,
    FIELD_TYPENAME,
    KEEP_EXACT_TYPE,
    KEEP_FINITE_FLOAT,
    KEEP_INT32,
    KEEP_NEVER,
    OP_FULL_PATH,
    OP_LEAF,
    OP_PURE_LIST,
    OP_TYPENAME,
    SCALAR_TYPES,
    STEP_LEAF,
    STEP_OBJECT_LIST,
    STEP_TYPENAME,
    TYPE_LEAF,
    TYPE_LIST,
    TYPE_NON_NULL,
    TYPE_OBJECT,
    CompiledField,
    CompiledObject,
    CompiledOperation,
    CompiledType,
    Instruction,
    Step,
    dict_readable,
)
from gateway.executor.pure import compile_completer
from schema.base import Shape
from schema.catalog import Catalog

__all__ = ["Compiler", "CompilerInputs", "Fallback", "screen"]

STRAWBERRY_FIELD = "strawberry-definition"


def _plain(value: Any) -> bool:
    """A coerced argument safe to reuse across requests: a scalar, or a list of them (a lookup
    by a list of identifiers), which nothing downstream mutates."""
    if type(value) is list:
        return all(type(v) in SCALAR_TYPES for v in value)
    return type(value) in SCALAR_TYPES


class Fallback(Exception):
    """The operation uses something the compiler leaves to graphql-core."""


def screen(schema: GraphQLSchema, operation: Operation) -> tuple[str, ...]:
    """Check what needs no variable values (raising :class:`Fallback`); return the variables
    that ``@include`` / ``@skip`` read, whose values the compiled variants are kept by."""
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


def _all_literal(arguments: Sequence[ArgumentNode]) -> bool:
    return not any(True for a in arguments for _ in _variables(a.value))


class CompilerInputs(Protocol):
    """What the compiler reads of the executor that compiles with it (``CompiledExecutor``)."""

    schema: GraphQLSchema
    catalog: Catalog
    basic_reads: bool  # the schema's default resolver is getattr


class Compiler:
    """Compiles one operation with one request's variables, of which only what ``@include`` /
    ``@skip`` decide is kept (literal arguments are coerced here, the others at each run)."""

    def __init__(
        self, owner: CompilerInputs, operation: Operation, variables: VariableValues
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

    def compile(self) -> CompiledOperation:
        root = self.schema.query_type
        assert root is not None
        grouped, deferred, _ = collect_fields(
            self.schema, self.fragments, self.variables, root, self.definition, False
        )
        if deferred:
            raise Fallback("@defer")
        return CompiledOperation(self._object(root, grouped), self.fragment_definitions)

    def _object(
        self, gql: GraphQLObjectType, grouped: dict[str, list[FieldDetails]]
    ) -> CompiledObject:
        if gql.is_type_of is not None:
            raise Fallback(f"is_type_of on {gql.name}")
        obj = CompiledObject(gql)
        fields = [self._field(gql, key, details) for key, details in grouped.items()]
        obj.fields = tuple(fields)
        obj.attribute_names = tuple(f.python for f in fields if f.kind == FIELD_ATTRIBUTE)
        steps = [_pure_step(f) for f in fields]
        program: list[Instruction] = []
        for f, step in zip(fields, steps, strict=True):
            nullable = not f.non_null
            if f.kind == FIELD_TYPENAME:
                program.append((OP_TYPENAME, f.key, f.python, f.exact, f.check, nullable, f))
            elif f.leaf:
                program.append((OP_LEAF, f.key, f.python, f.exact, f.check, nullable, f))
            elif step is not None:  # a list of objects: their Completer in place of exact
                items = step[6]
                program.append((OP_PURE_LIST, f.key, f.python, items, KEEP_NEVER, nullable, f))
            else:
                program.append((OP_FULL_PATH, f.key, f.python, f.exact, f.check, nullable, f))
        obj.program = tuple(program)
        pure_steps = [step for step in steps if step is not None]
        if len(pure_steps) == len(steps):
            names = obj.attribute_names
            obj.complete = compile_completer(
                obj.name, pure_steps, obj.classes, lambda cls: dict_readable(cls, names)
            )
        return obj

    def _field(
        self, parent: GraphQLObjectType, key: str, details: list[FieldDetails]
    ) -> CompiledField:
        if any(d.fragment_variable_values is not None or d.defer_usage for d in details):
            raise Fallback("fragment variables or @defer")
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            field = CompiledField(key, name, FIELD_TYPENAME, parent)
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
        kind = FIELD_RESOLVER
        if resource.shape is not Shape.LINK and self._basic(definition, resource.python_name):
            kind = FIELD_ATTRIBUTE
        field = CompiledField(key, name, kind, parent)
        field.python = resource.python_name
        field.nodes = [d.node for d in details]
        field.first = node
        field.definition = definition
        field.return_type = definition.type
        field.resolve = resolve
        field.has_args = bool(definition.args or node.arguments)
        if kind == FIELD_ATTRIBUTE and field.has_args:
            raise Fallback("arguments on a plain value")
        if field.has_args and _all_literal(node.arguments or ()):
            try:
                args = get_argument_values(definition, node, self.variables, None, False)
            except Exception:  # raised again, as graphql-core raises it, at each execution
                args = None
            if args is not None and all(_plain(v) for v in args.values()):
                field.args = args
        field.type = self._type(definition.type, details)
        field.non_null = field.type.kind == TYPE_NON_NULL
        leaf = field.type.of if field.non_null else field.type
        assert leaf is not None
        if kind == FIELD_ATTRIBUTE and leaf.kind == TYPE_LEAF:
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

    def _type(self, gql: GraphQLOutputType, details: list[FieldDetails]) -> CompiledType:
        if isinstance(gql, GraphQLNonNull):
            t = CompiledType(TYPE_NON_NULL, gql)
            t.of = self._type(gql.of_type, details)
            return t
        if isinstance(gql, GraphQLList):
            t = CompiledType(TYPE_LIST, gql)
            t.of = self._type(gql.of_type, details)
            return t
        if is_leaf_type(gql):
            t = CompiledType(TYPE_LEAF, gql)
            t.check, t.exact = _leaf_check(gql)
            return t
        if isinstance(gql, GraphQLObjectType):
            grouped, deferred, _ = collect_subfields(
                self.schema, self.fragments, self.variables, self.definition, gql, details, False
            )
            if deferred:
                raise Fallback("@defer")
            t = CompiledType(TYPE_OBJECT, gql)
            t.obj = self._object(gql, grouped)
            return t
        raise Fallback(f"abstract type {gql}")


def _pure_step(f: CompiledField) -> Step | None:
    """The field's step in a pure selection (pure.py), or None if it needs the full path:
    __typename, a leaf read from ``__dict__`` as by OP_LEAF, or a list of objects read from
    ``__dict__`` (an embedded list) whose items' selection is pure itself."""
    if f.kind == FIELD_TYPENAME:
        return (STEP_TYPENAME, f.key, "", None, KEEP_NEVER, False, None)
    if f.leaf:
        if f.check == KEEP_NEVER:
            return None
        return (STEP_LEAF, f.key, f.python, f.exact, f.check, not f.non_null, None)
    if f.kind != FIELD_ATTRIBUTE:
        return None
    t = f.type.of if f.non_null else f.type
    if t is None or t.kind != TYPE_LIST or t.of is None:
        return None
    item = t.of.of if t.of.kind == TYPE_NON_NULL else t.of
    if item is None or item.kind != TYPE_OBJECT or item.obj is None or item.obj.complete is None:
        return None
    complete = item.obj.complete
    return (STEP_OBJECT_LIST, f.key, f.python, None, KEEP_NEVER, not f.non_null, complete)


def _leaf_check(gql: Any) -> tuple[int, type | None]:
    """When graphql-core's ``coerce_output_value`` returns the value itself."""
    if gql is GraphQLString or gql is GraphQLID:
        return KEEP_EXACT_TYPE, str
    if gql is GraphQLBoolean:
        return KEEP_EXACT_TYPE, bool
    if gql is GraphQLInt:
        return KEEP_INT32, int
    if gql is GraphQLFloat:
        return KEEP_FINITE_FLOAT, float
    if getattr(gql, "coerce_output_value", None) is str:  # identifier scalars
        return KEEP_EXACT_TYPE, str
    return KEEP_NEVER, None
