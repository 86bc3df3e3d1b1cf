"""Stage 2, analyze: GraphQL text → a validated :class:`Operation` that knows what it touches.

Parsing and validation are cached by the hash of the query text. The walk over the selected
operation (fragments expanded, aliases resolved to their fields) yields every (type, field) the
operation touches, for the authorize stage, and per entity type the agency-side fields needed,
for the connectors (data minimisation).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    validate,
)

from gateway.errors import QueryInvalid
from gateway.shape import bad_user_input
from schema.base import SPECS_BY_NAME, Shape
from schema.catalog import FieldResource
from schema.unified import GatewaySchema

MAX_QUERY_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Touched:
    resource: FieldResource
    path: str  # response path with list positions left out, e.g. enterprise.bankAccounts.balance


@dataclass(frozen=True, slots=True)
class Operation:
    document: DocumentNode
    definition: OperationDefinitionNode
    name: str | None
    type: str  # query / mutation / subscription
    hash: str  # sha256 of the query text
    touched: tuple[Touched, ...]
    # entity type -> agency fields needed if every touched field is allowed
    fields: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def cache_key(self) -> str:
        return f"{self.hash}:{self.name or ''}"


class Analyzer:
    def __init__(self, schema: GatewaySchema, cache_size: int = 2048) -> None:
        self.schema = schema
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._operations: OrderedDict[str, Operation] = OrderedDict()
        self._cache_size = cache_size

    def analyze(self, query: str, operation_name: str | None) -> Operation:
        if len(query.encode()) > MAX_QUERY_BYTES:
            raise QueryInvalid(
                [_error(f"The query is larger than {MAX_QUERY_BYTES} bytes.", "BAD_REQUEST")],
                "BAD_REQUEST",
            )
        digest = hashlib.sha256(query.encode()).hexdigest()
        key = f"{digest}:{operation_name or ''}"
        cached = self._operations.get(key)
        if cached is not None:
            self._operations.move_to_end(key)
            return cached
        document = self._document(query, digest)
        operation = self._operation(document, digest, operation_name)
        self._operations[key] = operation
        if len(self._operations) > self._cache_size:
            self._operations.popitem(last=False)
        return operation

    def _document(self, query: str, digest: str) -> DocumentNode:
        document = self._documents.get(digest)
        if document is not None:
            return document
        try:
            document = parse(query)
        except GraphQLError as exc:
            raise QueryInvalid(
                [_shape_error(exc, "GRAPHQL_PARSE_FAILED")], "GRAPHQL_PARSE_FAILED"
            ) from None
        errors = validate(self.schema.graphql, document, max_errors=20, hide_suggestions=True)
        if errors:
            shaped = [_shape_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errors]
            bad_input = any(e["extensions"]["code"] == "BAD_USER_INPUT" for e in shaped)
            raise QueryInvalid(
                shaped, "BAD_USER_INPUT" if bad_input else "GRAPHQL_VALIDATION_FAILED"
            )
        self._documents[digest] = document
        if len(self._documents) > self._cache_size:
            self._documents.popitem(last=False)
        return document

    def _operation(self, document: DocumentNode, digest: str, name: str | None) -> Operation:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if name is not None:
            operations = [o for o in operations if o.name and o.name.value == name]
            if not operations:
                raise QueryInvalid(
                    [_error(f"Unknown operation named '{name}'.", "BAD_REQUEST")], "BAD_REQUEST"
                )
        elif len(operations) > 1:
            raise QueryInvalid(
                [_error("Several operations given: name one with operationName.", "BAD_REQUEST")],
                "BAD_REQUEST",
            )
        definition = operations[0]
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        root = self.schema.graphql.get_root_type(definition.operation)
        assert root is not None  # validation has checked the operation type exists
        walker = _Walker(self.schema, fragments)
        walker.walk(definition.selection_set, root, None, "", "")
        touched = tuple(walker.touched.values())
        return Operation(
            document=document,
            definition=definition,
            name=definition.name.value if definition.name else None,
            type=definition.operation.value,
            hash=digest,
            touched=touched,
            fields={t: frozenset(f) for t, f in walker.fields.items()},
        )


class _Walker:
    """Walks one operation's selections; fragments are expanded in place."""

    def __init__(self, schema: GatewaySchema, fragments: dict[str, FragmentDefinitionNode]):
        self.catalog = schema.catalog
        self.graphql = schema.graphql
        self.fragments = fragments
        self.touched: dict[tuple[str, str, str], Touched] = {}
        self.fields: dict[str, set[str]] = {}

    def walk(
        self,
        selections: SelectionSetNode,
        parent: GraphQLObjectType,
        entity: str | None,
        prefix: str,
        path: str,
    ) -> None:
        for node in self._fields(selections, parent):
            name = node.name.value
            if name.startswith("__"):
                continue  # introspection: governed by its own setting, not by field policies
            resource = self.catalog[(parent.name, name)]
            here = f"{path}.{name}" if path else name
            self.touched.setdefault((parent.name, name, here), Touched(resource, here))
            if entity is not None:
                needed = self.fields.setdefault(entity, set())
                if resource.shape is Shape.LINK:
                    needed.update(resource.requires)
                elif resource.shape is Shape.ATTR or not _has_fields(node):
                    needed.add(prefix + (resource.source or name))
                # an embedded list with sub-fields is requested as exactly those sub-fields
            if node.selection_set is None or resource.target is None:
                continue
            target = self.graphql.type_map[resource.target]
            assert isinstance(target, GraphQLObjectType)
            spec = SPECS_BY_NAME.get(resource.target)
            if spec is not None and spec.kind is not None:
                self.fields.setdefault(resource.target, set())
                self.walk(node.selection_set, target, resource.target, "", here)
            elif entity is not None and resource.shape is Shape.EMBEDDED:
                sub_prefix = f"{prefix}{resource.source}."
                self.walk(node.selection_set, target, entity, sub_prefix, here)
            else:
                self.walk(node.selection_set, target, None, "", here)

    def _fields(
        self, selections: SelectionSetNode, parent: GraphQLObjectType
    ) -> Iterator[FieldNode]:
        for node in selections.selections:
            if isinstance(node, FieldNode):
                yield node
            elif isinstance(node, InlineFragmentNode):
                yield from self._fields(node.selection_set, parent)
            elif isinstance(node, FragmentSpreadNode):
                yield from self._fields(self.fragments[node.name.value].selection_set, parent)


def _has_fields(node: FieldNode) -> bool:
    """Whether a selection asks for any real field (not only ``__typename``)."""
    selections = node.selection_set.selections if node.selection_set else ()
    return any(not (isinstance(s, FieldNode) and s.name.value == "__typename") for s in selections)


def _error(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


def _shape_error(error: GraphQLError, code: str) -> dict[str, Any]:
    shaped = bad_user_input(error)
    if shaped is not None:
        return shaped
    out: dict[str, Any] = {"message": error.message, "extensions": {"code": code}}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return out


__all__ = ["Analyzer", "Operation", "OperationType", "Touched"]
