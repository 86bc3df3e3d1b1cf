"""What an operation compiles to: the opcodes, and the compiled objects the executor runs.

``compile.py`` builds these objects, ``pure.py`` turns pure selections into functions and
``run.py`` runs them; the package docstring (``gateway/executor/__init__.py``) tells how they fit.

The opcodes are plain ``int`` constants, not an enum: the executor compares them once per field
in its hottest loops, where a module-level int costs what a literal does and an ``IntEnum``
member about twice as much (three times that when spelt ``Kind.NAME`` at the use site).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeAlias

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
)

__all__ = [
    "FIELD_ATTRIBUTE",
    "FIELD_RESOLVER",
    "FIELD_TYPENAME",
    "GRAPHQL_MAX_INT",
    "GRAPHQL_MIN_INT",
    "KEEP_EXACT_TYPE",
    "KEEP_FINITE_FLOAT",
    "KEEP_INT32",
    "KEEP_NEVER",
    "MISSING",
    "OP_FULL_PATH",
    "OP_LEAF",
    "OP_PURE_LIST",
    "OP_TYPENAME",
    "SCALAR_TYPES",
    "STEP_LEAF",
    "STEP_OBJECT_LIST",
    "STEP_TYPENAME",
    "TYPE_LEAF",
    "TYPE_LIST",
    "TYPE_NON_NULL",
    "TYPE_OBJECT",
    "CompiledField",
    "CompiledObject",
    "CompiledOperation",
    "CompiledType",
    "Completer",
    "Instruction",
    "Step",
    "dict_readable",
]

# --- opcodes -------------------------------------------------------------------------------------

# How a field gets its value (CompiledField.kind), on the full path
FIELD_TYPENAME: Final = 0  # __typename: the parent type's name, nothing is called
FIELD_ATTRIBUTE: Final = 1  # a value of the built object: getattr (Strawberry's basic field)
FIELD_RESOLVER: Final = 2  # a root field or a link: its resolver is called with a resolve info

# What the loop over an object's fields does with one field (Instruction's first item)
OP_TYPENAME: Final = 0  # answer the object type's name
OP_LEAF: Final = 1  # read a leaf from the object's __dict__ and keep it if it passes its check
OP_FULL_PATH: Final = 2  # execute the field as graphql-core does (Execution._field)
OP_PURE_LIST: Final = 3  # read an embedded list from __dict__, its items completed by a Completer

# How a value of an output type is completed (CompiledType.kind): complete_value's dispatch
TYPE_NON_NULL: Final = 0  # complete it as the inner type; null there is an error
TYPE_LIST: Final = 1  # complete each item as the item type, at its index
TYPE_LEAF: Final = 2  # serialize it, or keep it as it is when its leaf check passes
TYPE_OBJECT: Final = 3  # execute the sub-selection (a CompiledObject) on it

# When a leaf value serializes to itself, so it is kept without calling the serializer (the
# ``check`` of CompiledType, CompiledField and Step). KEEP_NEVER is 0: ``if check:`` asks whether
# a check applies at all.
KEEP_NEVER: Final = 0  # no check applies: the serializer is called (enums, other scalars)
KEEP_EXACT_TYPE: Final = 1  # a value of exactly that type: String, ID, Boolean, identifiers
KEEP_INT32: Final = 2  # an int in GraphQL's 32-bit range
KEEP_FINITE_FLOAT: Final = 3  # a finite float

# One step of a pure selection's Completer (Step's first item; pure.py writes code for each)
STEP_TYPENAME: Final = 0  # the type's name
STEP_LEAF: Final = 1  # a leaf from __dict__ that passes its check (else: take the full path)
STEP_OBJECT_LIST: Final = 2  # an embedded list of built objects, each completed by its Completer

# --- values shared by compiling and running ------------------------------------------------------

GRAPHQL_MIN_INT: Final = -2_147_483_648
GRAPHQL_MAX_INT: Final = 2_147_483_647
MISSING: Final[Any] = object()  # the default of a lookup: the attribute or key is absent
SCALAR_TYPES: Final = (str, int, float, bool, type(None))

# A pure selection's function: a built object → its completed dict, or None to take the full path
Completer: TypeAlias = Callable[[Any], "dict[str, Any] | None"]
# (opcode OP_*, response key, python name, exact type of a leaf or the items' Completer of
# OP_PURE_LIST, leaf check KEEP_*, nullable, the field)
Instruction: TypeAlias = tuple[int, str, str, Any, int, bool, "CompiledField"]
# (opcode STEP_*, response key, python name, exact type, leaf check KEEP_*, nullable, the items'
# Completer of STEP_OBJECT_LIST)
Step: TypeAlias = tuple[int, str, str, Any, int, bool, "Completer | None"]


# --- the compiled objects ------------------------------------------------------------------------


class CompiledType:
    """The completion program of one output type at one place of the operation."""

    __slots__ = ("check", "exact", "gql", "kind", "obj", "of")

    def __init__(self, kind: int, gql: GraphQLOutputType) -> None:
        self.kind = kind  # TYPE_*
        self.gql = gql
        self.of: CompiledType | None = None  # inner type of non-null and list
        self.obj: CompiledObject | None = None  # sub-selection of an object type
        self.check = KEEP_NEVER  # leaves: when serializing is the identity
        self.exact: Any = None  # leaves: the type a value must have for the check


class CompiledObject:
    """An object type with the fields selected on it."""

    __slots__ = ("attribute_names", "classes", "complete", "fields", "name", "program", "type")

    def __init__(self, gql: GraphQLObjectType) -> None:
        self.type = gql
        self.name = gql.name
        self.fields: tuple[CompiledField, ...] = ()
        # python names of the fields read as attributes: what dict_readable checks of a class
        self.attribute_names: tuple[str, ...] = ()
        self.program: tuple[Instruction, ...] = ()  # one per field, in order
        self.classes: dict[type, bool] = {}  # runtime classes whose __dict__ may be read
        # when every field is __typename, a leaf read from __dict__ or a list of built objects
        # with a pure selection: the function completing such an object (pure.py)
        self.complete: Completer | None = None


class CompiledField:
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
        self.kind = kind  # FIELD_*
        self.parent = parent
        self.parent_name = parent.name
        self.python = ""
        self.nodes: list[FieldNode] = []
        self.first: FieldNode | None = None
        self.definition: GraphQLField | None = None
        self.return_type: GraphQLOutputType = GraphQLNonNull(GraphQLString)
        self.type = CompiledType(TYPE_LEAF, GraphQLString)
        self.resolve: Callable[..., Any] | None = None
        self.has_args = False
        self.args: dict[str, Any] | None = None  # coerced once when all literal
        self.non_null = False
        self.leaf = False  # a leaf or non-null leaf read as an attribute: OP_LEAF applies
        self.check = KEEP_NEVER
        self.exact: Any = None


class CompiledOperation:
    """An operation compiled for one set of values of its ``@include`` / ``@skip`` variables."""

    __slots__ = ("fragments", "root")

    def __init__(self, root: CompiledObject, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.root = root
        self.fragments = fragments


def dict_readable(cls: type, names: tuple[str, ...]) -> bool:
    """Whether reading ``names`` from an instance's __dict__ is what getattr would do."""
    if cls.__getattribute__ is not object.__getattribute__:  # type: ignore[comparison-overlap]
        return False
    for name in names:
        for klass in cls.__mro__:
            attr = vars(klass).get(name, MISSING)
            if attr is not MISSING:
                kind = type(attr)
                if hasattr(kind, "__set__") or hasattr(kind, "__delete__"):
                    return False  # a data descriptor wins over the instance dict
                break
    return True
