"""Query limits: refuse operations too large or too deep before any agency is called.

Counted with fragments expanded, so a fragment spread many times counts many times (the
alias-limit bypass through fragment spreads that Strawberry once had). Size limits (tokens,
depth, aliases, root fields, directives, expanded size) are checked on the parsed document
*before* validation, whose cost grows quickly with such documents; the estimated cost, which
needs the schema's list types, after it.

Every refusal is ``QUERY_TOO_COMPLEX`` and names the limit and its setting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

from gateway.limits_settings import QueryLimits
from kernel.errors import QueryInvalid
from schema.loaders import MAX_LOOKUP_KEYS

CODE = "QUERY_TOO_COMPLEX"
MAX_PAGE = 500  # the largest first/limit any resolver accepts (transactions)


def too_complex(what: str, found: int, limit: int, setting: str) -> QueryInvalid:
    message = (
        f"The operation exceeds the {what} limit: {found}, at most {limit} "
        f"(setting limits.{setting})."
    )
    error = {"message": message, "extensions": {"code": CODE, "limit": setting}}
    return QueryInvalid([error], CODE)


@dataclass
class _Size:
    depth: int = 0
    aliases: int = 0
    fields: int = 0


def check_size(document: DocumentNode, limits: QueryLimits) -> None:
    """Depth, aliases, root fields, directives and expanded size of every operation."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        roots = sum(1 for _ in _expanded(definition.selection_set, fragments, ()))
        if roots > limits.max_root_fields:
            raise too_complex("root field", roots, limits.max_root_fields, "max_root_fields")
        size = _Size()
        _measure(definition.selection_set, fragments, 1, (), size, limits)


def _measure(
    selections: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    depth: int,
    stack: tuple[str, ...],
    size: _Size,
    limits: QueryLimits,
) -> None:
    if depth > limits.max_depth:
        raise too_complex("depth", depth, limits.max_depth, "max_depth")
    for node, inner_stack in _expanded_with_stack(selections, fragments, stack):
        size.fields += 1
        if size.fields > limits.max_expanded_fields:
            raise too_complex(
                "size (fields after expanding fragments)", size.fields,
                limits.max_expanded_fields, "max_expanded_fields",
            )  # fmt: skip
        if node.alias is not None:
            size.aliases += 1
            if size.aliases > limits.max_aliases:
                raise too_complex("alias", size.aliases, limits.max_aliases, "max_aliases")
        directives = len(node.directives or ())
        if directives > limits.max_directives_per_field:
            raise too_complex(
                "directives-per-field", directives, limits.max_directives_per_field,
                "max_directives_per_field",
            )  # fmt: skip
        if node.selection_set is not None:
            _measure(node.selection_set, fragments, depth + 1, inner_stack, size, limits)


def _expanded(
    selections: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    stack: tuple[str, ...],
) -> Iterator[FieldNode]:
    for node, _ in _expanded_with_stack(selections, fragments, stack):
        yield node


def _expanded_with_stack(
    selections: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    stack: tuple[str, ...],
) -> Iterator[tuple[FieldNode, tuple[str, ...]]]:
    """Fields of a selection set with fragments expanded; cycles are left to validation."""
    for node in selections.selections:
        if isinstance(node, FieldNode):
            yield node, stack
        elif isinstance(node, InlineFragmentNode):
            yield from _expanded_with_stack(node.selection_set, fragments, stack)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in stack:
                yield from _expanded_with_stack(fragment.selection_set, fragments, (*stack, name))


def check_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    limits: QueryLimits,
) -> int:
    """Estimated number of values the operation can return: list sizes times nesting."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = schema.get_root_type(operation.operation)
    assert root is not None
    cost = _cost(operation.selection_set, root, fragments, 1, limits)
    if cost > limits.max_cost:
        raise too_complex("estimated cost", cost, limits.max_cost, "max_cost")
    return cost


def _cost(
    selections: SelectionSetNode,
    parent: GraphQLObjectType,
    fragments: Mapping[str, FragmentDefinitionNode],
    multiplier: int,
    limits: QueryLimits,
    hint: int | None = None,
) -> int:
    """``hint``: a page size given on a connection field, for the list inside it (nodes)."""
    total = 0
    for node in _expanded(selections, fragments, ()):
        total += multiplier
        definition = parent.fields.get(node.name.value)
        if definition is None or node.selection_set is None:
            continue
        kind: Any = definition.type
        if isinstance(kind, GraphQLNonNull):
            kind = kind.of_type
        size, inner_hint = 1, _page_size(node)
        if isinstance(kind, GraphQLList):
            size = inner_hint or hint or _lookup_size(node, definition) or limits.default_list_size
            inner_hint = None
            kind = kind.of_type
            if isinstance(kind, GraphQLNonNull):
                kind = kind.of_type
        if isinstance(kind, GraphQLObjectType):
            total += _cost(
                node.selection_set, kind, fragments, multiplier * size, limits, inner_hint
            )
    return total


def _lookup_size(node: FieldNode, definition: GraphQLField) -> int | None:
    """A lookup by a list of keys returns at most as many records as keys were given."""
    for argument in node.arguments or ():
        declared = definition.args.get(argument.name.value)
        if declared is None:
            continue
        kind: Any = declared.type
        if isinstance(kind, GraphQLNonNull):
            kind = kind.of_type
        if not isinstance(kind, GraphQLList):
            continue
        if isinstance(argument.value, ListValueNode):
            return max(1, len(argument.value.values))
        if isinstance(argument.value, VariableNode):
            return MAX_LOOKUP_KEYS
    return None


def _page_size(node: FieldNode) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value in ("first", "limit"):
            if isinstance(argument.value, IntValueNode):
                return max(1, int(argument.value.value))
            if isinstance(argument.value, VariableNode):
                return MAX_PAGE  # unknown until execution: the largest a resolver allows
    return None
