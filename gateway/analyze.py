"""Stage 5, analyze: GraphQL text → a validated :class:`Operation` that knows what it touches.

Each operation is validated against the caller's visible schema (gateway/visibility.py): what
its policies could never show it, and introspection unless its role allows it, is not there,
so every message about it reads as for a name that does not exist. The walk over the selected
operation (fragments expanded, aliases resolved to their fields) yields every (type, field) the
operation touches, for the authorize stage, and per entity type the agency-side fields needed,
for the connectors (data minimisation).

Parsing, validation and the walk are cached per caller: by (subject, visible schema, hash of
the query text, operation name). A hit answers faster than a miss, so a cache shared between
callers would tell one of them whether another had sent a document, and documents carry
identifiers (docs/limits.md, "Caches and timing"). The operation carries its caller, and its
``cache_key`` with it, so the plans and compiled programs after this stage are per caller too.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    validate,
)

from gateway.limits import check_cost, check_size, too_complex
from gateway.limits_settings import QueryLimits
from gateway.persisted import PersistedOperations
from gateway.respond import bad_user_input, client_message, clip_message
from gateway.visibility import EVERYTHING, Visibility, VisibleSchemas
from kernel.errors import QueryInvalid
from kernel.lru import LRU
from schema.base import SPECS_BY_NAME, Shape
from schema.catalog import FieldResource
from schema.unified import GatewaySchema

MAX_QUERY_BYTES = 64 * 1024
_DocumentKey = tuple[str, str, bool, str]  # (subject, visibility key, introspection, sha256)


@dataclass(frozen=True, slots=True)
class Touched:
    """One field an operation selects, at one response path."""

    resource: FieldResource
    path: str  # response path with list positions left out, e.g. enterprise.bankAccounts.balance
    entity: str | None  # the entity type whose agency record holds this field's value, if any
    needs: frozenset[str]  # agency-side fields of that record the field needs, if allowed
    # not selected but read by a selected field's resolver (a computed link's evidence, a
    # field a resolver consults): decided and audited, never a reason to reject the operation
    consulted: bool = False


@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier field at one place in the response (``keys``: the response keys down to
    it, aliases as sent), other than an entity's own key: e.g. ``courtCases.parties.partyId``.
    Shown in clear, it discloses the entity it identifies (gateway/disclosure.py)."""

    keys: tuple[str, ...]
    resource: FieldResource


@dataclass(frozen=True, slots=True)
class Operation:
    document: DocumentNode
    definition: OperationDefinitionNode
    name: str | None
    type: str  # query / mutation / subscription
    hash: str  # sha256 of the query text
    touched: tuple[Touched, ...]
    entities: frozenset[str] = frozenset()  # entity types the operation may fetch
    introspection: tuple[tuple[str, int, int], ...] = ()  # (__schema/__type, line, column)
    identifiers: tuple[Identifier, ...] = ()
    schema: GraphQLSchema | None = None  # the caller's visible schema, to run introspection on
    caller: str = ""  # the subject it was analysed for: no cache serves it to anyone else

    @property
    def cache_key(self) -> str:
        """Names the operation in the caches after this stage (plans, compiled programs): one
        entry per caller, like the analysis itself. Unambiguous: a hex hash, a GraphQL name,
        then the caller."""
        return f"{self.hash}:{self.name or ''}:{self.caller}"


class Analyzer:
    def __init__(
        self,
        schema: GatewaySchema,
        limits: QueryLimits | None = None,
        cache_size: int = 2048,
        persisted: PersistedOperations | None = None,
    ) -> None:
        self.schema = schema
        self.limits = limits or QueryLimits()
        self.persisted = persisted or PersistedOperations()  # gateway/persisted.py
        # least recently used first, each bounded by cache_size in total (all callers)
        self._documents: LRU[_DocumentKey, DocumentNode] = LRU(cache_size)
        self._operations: LRU[tuple[_DocumentKey, str | None], Operation] = LRU(cache_size)
        self._visible = VisibleSchemas(schema.graphql)

    def document(
        self,
        query: str | None,
        extensions: Mapping[str, Any] | None,
        client: str,
        subject: str,
    ) -> str:
        """The operation's text: as sent, or the persisted document its hash names (Automatic
        Persisted Queries; restricted clients held to the trusted list; docs/limits.md)."""
        return self.persisted.resolve(query, extensions, client, subject)

    def analyze(
        self,
        query: str,
        operation_name: str | None,
        visibility: Visibility = EVERYTHING,
        introspection: bool = True,
        subject: str = "",
    ) -> Operation:
        """``visibility``: the fields the caller could ever see (the authorize stage's
        ``visibility``); ``introspection``: whether its role may introspect; ``subject``: who
        asks (the principal's subject; tools analysing for nobody in particular leave it
        empty). Nothing analysed for one subject is a cache hit for another."""
        text = query.encode()
        if len(text) > MAX_QUERY_BYTES:
            raise QueryInvalid(
                [_error(f"The query is larger than {MAX_QUERY_BYTES} bytes.", "BAD_REQUEST")],
                "BAD_REQUEST",
            )
        digest = hashlib.sha256(text).hexdigest()
        seen_as: _DocumentKey = (subject, visibility.key, introspection, digest)
        key = (seen_as, operation_name)
        cached = self._operations.get(key)
        if cached is not None:
            return cached
        schema = self._visible.get(visibility, introspection)
        document = self._document(query, seen_as, schema)
        operation = self._operation(document, digest, operation_name, schema, subject)
        self._operations[key] = operation
        return operation

    def _document(self, query: str, key: _DocumentKey, schema: GraphQLSchema) -> DocumentNode:
        document = self._documents.get(key)
        if document is not None:
            return document
        try:
            document = parse(query, max_tokens=self.limits.max_tokens)
        except GraphQLError as exc:
            if "tokens. Parsing aborted" in exc.message:
                raise too_complex(
                    "token", self.limits.max_tokens + 1, self.limits.max_tokens, "max_tokens"
                ) from None
            raise QueryInvalid(
                [_client_error(exc, "GRAPHQL_PARSE_FAILED")], "GRAPHQL_PARSE_FAILED"
            ) from None
        check_size(document, self.limits)  # before validation, whose cost these bound
        errors = validate(schema, document, max_errors=20, hide_suggestions=True)
        if errors:
            refused = [_client_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errors]
            bad_input = any(e["extensions"]["code"] == "BAD_USER_INPUT" for e in refused)
            raise QueryInvalid(
                refused, "BAD_USER_INPUT" if bad_input else "GRAPHQL_VALIDATION_FAILED"
            )
        self._documents[key] = document
        return document

    def _operation(
        self,
        document: DocumentNode,
        digest: str,
        name: str | None,
        visible: GraphQLSchema,
        caller: str,
    ) -> Operation:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if name is not None:
            operations = [o for o in operations if o.name and o.name.value == name]
            if not operations:
                message = clip_message(f"Unknown operation named '{name}'.")
                raise QueryInvalid([_error(message, "BAD_REQUEST")], "BAD_REQUEST")
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
        check_cost(self.schema.graphql, document, definition, self.limits)
        walker = _Walker(self.schema, fragments)
        walker.walk(definition.selection_set, root, None, "", "", ())
        touched = tuple(walker.touched.values())
        return Operation(
            document=document,
            definition=definition,
            name=definition.name.value if definition.name else None,
            type=definition.operation.value,
            hash=digest,
            touched=touched,
            entities=frozenset(walker.entities),
            introspection=walker.introspection,
            identifiers=tuple(walker.identifiers.values()),
            schema=visible if walker.introspection else None,
            caller=caller,
        )


class _Walker:
    """Walks one operation's selections; fragments are expanded in place."""

    def __init__(self, schema: GatewaySchema, fragments: dict[str, FragmentDefinitionNode]):
        self.catalog = schema.catalog
        self.graphql = schema.graphql
        self.fragments = fragments
        self.touched: dict[tuple[str, str, str], Touched] = {}
        self.entities: set[str] = set()
        self.introspection: tuple[tuple[str, int, int], ...] = ()
        self.identifiers: dict[tuple[str, ...], Identifier] = {}
        self._evidence = 0  # > 0: walking what a computed link reads (its evidence)

    def walk(
        self,
        selections: SelectionSetNode,
        parent: GraphQLObjectType,
        entity: str | None,
        prefix: str,
        path: str,
        keys: tuple[str, ...],
    ) -> None:
        for node in self._fields(selections, parent):
            name = node.name.value
            if name.startswith("__"):
                # introspection is governed by its own setting (limits.introspection_roles)
                if name in ("__schema", "__type") and node.loc is not None:
                    loc = node.loc.source.get_location(node.loc.start)
                    self.introspection += ((name, loc.line, loc.column),)
                continue
            resource = self.catalog[(parent.name, name)]
            here = f"{path}.{name}" if path else name
            needs: frozenset[str] = frozenset()
            if entity is not None:
                if resource.shape is Shape.LINK:
                    needs = frozenset(resource.requires)
                elif resource.shape is Shape.ATTR or not _has_fields(node):
                    # and what else of the record it needs (a party's type: schema.base.attr)
                    needs = frozenset(
                        prefix + s for s in (resource.source or name, *resource.requires)
                    )
                # an embedded list with sub-fields is requested as exactly those sub-fields
            self.touched.setdefault(
                (parent.name, name, here),
                Touched(resource, here, entity, needs, consulted=self._evidence > 0),
            )
            for type_name, field_name in resource.consults:  # decided for its resolver
                consulted = f"{here}.{field_name}"
                self.touched.setdefault(
                    (type_name, field_name, consulted),
                    Touched(
                        self.catalog[(type_name, field_name)], consulted, None, frozenset(), True
                    ),
                )
            at = (*keys, node.alias.value if node.alias else name)
            if resource.identity and not _own_key(resource, entity) and not self._evidence:
                self.identifiers.setdefault(at, Identifier(at, resource))
            if resource.evidence is not None and entity is not None:
                # a computed link (riskSignals) reads these fields of its parent: they are
                # decided as if selected, under its path, and fetched by the plan's fields;
                # what it shows of them it records itself (schema/signals.py)
                self._evidence += 1
                self.walk(_evidence(resource.evidence), parent, entity, prefix, here, at)
                self._evidence -= 1
            if node.selection_set is None or resource.target is None:
                continue
            target = self.graphql.type_map[resource.target]
            assert isinstance(target, GraphQLObjectType)
            spec = SPECS_BY_NAME.get(resource.target)
            if spec is not None and spec.kind is not None:
                self.entities.add(resource.target)
                self.walk(node.selection_set, target, resource.target, "", here, at)
            elif entity is not None and resource.shape is Shape.EMBEDDED:
                sub_prefix = f"{prefix}{resource.source}."
                self.walk(node.selection_set, target, entity, sub_prefix, here, at)
            else:
                self.walk(node.selection_set, target, None, "", here, at)

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


@functools.cache
def _evidence(selection: str) -> SelectionSetNode:
    """A computed link's evidence (``schema.base.link(evidence=...)``) as a selection set."""
    definition = parse("{" + selection + "}").definitions[0]
    assert isinstance(definition, OperationDefinitionNode)
    return definition.selection_set


def _own_key(resource: FieldResource, entity: str | None) -> bool:
    """An entity's own key (Person.idNumber): its record is recorded as seen by the loaders."""
    spec = SPECS_BY_NAME.get(resource.type_name)
    return (
        resource.type_name == entity
        and spec is not None
        and spec.key == resource.source
        and entity in resource.identity
    )


def _has_fields(node: FieldNode) -> bool:
    """Whether a selection asks for any real field (not only ``__typename``)."""
    selections = node.selection_set.selections if node.selection_set else ()
    return any(not (isinstance(s, FieldNode) and s.name.value == "__typename") for s in selections)


def _error(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


def _client_error(error: GraphQLError, code: str) -> dict[str, Any]:
    refused = bad_user_input(error)
    if refused is not None:
        return refused
    out: dict[str, Any] = {"message": client_message(error), "extensions": {"code": code}}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return out


__all__ = ["Analyzer", "Identifier", "Operation", "OperationType", "Touched"]
