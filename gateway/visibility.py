"""Schema visibility: each caller's operations are validated against the schema it could see.

A field that no declaration of the caller could get allowed or masked is not in the caller's
schema at all, so every validation message about it (unknown field, sub-selections, arguments,
fragments, variable types, introspection) reads exactly as for a name that does not exist.
A field that some declaration allows stays visible and answers ``FORBIDDEN_FIELD`` when the
current declaration denies it. See docs/policies.md ("Schema visibility").

- :func:`declarable` lists every declaration a caller can make (the purpose stage's rules);
  the authorize stage turns them into decision contexts with the caller's team facts and asks
  the policy engine about every field in all of them in one batch, cached per policy version
  and principal shape (:meth:`gateway.authorize.Authorizer.visibility`).
- :class:`VisibleSchemas` builds the restricted ``GraphQLSchema`` once per visible field set;
  the analyze stage validates against it, the executor keeps the full schema (introspection
  excepted, which answers from the visible schema).

The mutation and subscription roots (the joint office's work, schema/office_ops.py) are
restricted alike: they keep the fields the caller could be allowed, and a caller who could be
allowed none has no mutation (or subscription) type at all ("The mutation operation is not
supported by the schema.", as on a schema without one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLCompositeType,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    get_named_type,
    specified_scalar_types,
)

from kernel.lru import LRU
from kernel.types import Declaration, Purpose

Field = tuple[str, str]  # (type name, field name)
OTHER_CASE = "-"  # stands for every case outside the caller's teams
TEAM_CASE = "+"  # stands for every case of the caller's teams
INTROSPECTION = ("__schema", "__type")


@dataclass(frozen=True, slots=True)
class Visibility:
    """The fields a caller could ever be shown; ``fields`` None: every field."""

    key: str  # names this field set in cache keys: "all", or a digest of the sorted set
    fields: frozenset[Field] | None

    @classmethod
    def of(cls, fields: Collection[Field] | None) -> Visibility:
        if fields is None:
            return EVERYTHING
        listed = "\n".join(sorted(f"{t}.{f}" for t, f in fields))
        return cls(hashlib.blake2b(listed.encode(), digest_size=16).hexdigest(), frozenset(fields))


EVERYTHING = Visibility("all", None)


def declarable(team_case: str | None) -> Iterator[Declaration]:
    """Every declaration the purpose stage accepts, up to what policies can tell apart.

    Policies see whether a case is declared and whether it is one of the caller's team cases
    (never its text: policies.engine refuses policies that read ``context.case_id``), and
    whether a justification or break-glass reason was given (never its text). So one case
    outside every team and one team case (``team_case``, if the caller has a team) stand for
    all cases (neither is a valid X-Case-Id: they stand for cases, they are none).
    """
    cases = [None, OTHER_CASE] + ([team_case] if team_case is not None else [])
    for purpose in Purpose:
        for case in cases:
            if case is None and purpose.needs_case:
                continue  # refused with PURPOSE_REQUIRED
            yield Declaration(purpose, case)
            yield Declaration(purpose, case, justification="-")
            yield Declaration(purpose, case, break_glass="-")  # a reason is a justification


class _Unintrospectable(GraphQLSchema):
    """A schema in which ``__schema`` and ``__type`` do not exist (callers not allowed them)."""

    def get_field(self, parent_type: GraphQLCompositeType, field_name: str) -> GraphQLField | None:
        if field_name in INTROSPECTION:
            return None
        return super().get_field(parent_type, field_name)


def restrict(
    schema: GraphQLSchema, fields: frozenset[Field] | None, introspection: bool
) -> GraphQLSchema:
    """``schema`` with only ``fields``: object types left without a field disappear, and so
    does every field leading to one (repeated until nothing changes).

    The fields keep their resolvers, so introspection (and anything else graphql-core runs)
    executes on the result as on the full schema.
    """
    if fields is None and introspection:
        return schema
    query = schema.query_type
    assert query is not None
    objects = {
        name: gql_type
        for name, gql_type in schema.type_map.items()
        if isinstance(gql_type, GraphQLObjectType) and not name.startswith("__")
    }
    kept = {
        name: [f for f in gql_type.fields if fields is None or (name, f) in fields]
        for name, gql_type in objects.items()
    }
    changed = True
    while changed:
        empty = {name for name, names in kept.items() if not names and name != query.name}
        changed = False
        for name, names in kept.items():
            left = [
                f for f in names if get_named_type(objects[name].fields[f].type).name not in empty
            ]
            changed |= len(left) != len(names)
            kept[name] = left
    built: dict[str, GraphQLObjectType] = {}

    def rebuilt(kind: Any) -> Any:
        if isinstance(kind, GraphQLNonNull):
            return GraphQLNonNull(rebuilt(kind.of_type))
        if isinstance(kind, GraphQLList):
            return GraphQLList(rebuilt(kind.of_type))
        return built.get(kind.name, kind)

    for name, names in kept.items():
        if names or name == query.name:
            built[name] = _object(objects[name], names, rebuilt)
    root = built[query.name]
    mutation, subscription = (
        built.get(r.name) if r is not None else None
        for r in (schema.mutation_type, schema.subscription_type)
    )
    scalars: list[GraphQLNamedType] = [
        t for t in schema.type_map.values() if t.name in specified_scalar_types
    ]
    restricted = (GraphQLSchema if introspection else _Unintrospectable)(
        query=root,
        mutation=mutation,
        subscription=subscription,
        types=scalars,
        directives=schema.directives,
        description=schema.description,
        extensions=schema.extensions,
        assume_valid=True,  # a part of a valid schema (its root may be left empty)
    )
    strawberry = getattr(schema, "_strawberry_schema", None)
    if strawberry is not None:  # strawberry's resolvers find their schema through it
        restricted._strawberry_schema = strawberry  # type: ignore[attr-defined]
    return restricted


def _object(source: GraphQLObjectType, names: list[str], rebuilt: Any) -> GraphQLObjectType:
    def fields() -> dict[str, GraphQLField]:
        return {name: _field(source.fields[name], rebuilt) for name in names}

    return GraphQLObjectType(
        source.name,
        fields,
        description=source.description,
        is_type_of=source.is_type_of,
        extensions=source.extensions,
    )


def _field(source: GraphQLField, rebuilt: Any) -> GraphQLField:
    output: GraphQLOutputType = rebuilt(source.type)
    args: dict[str, GraphQLArgument] = dict(source.args)
    return GraphQLField(
        output,
        args,
        resolve=source.resolve,
        subscribe=source.subscribe,
        description=source.description,
        deprecation_reason=source.deprecation_reason,
        extensions=source.extensions,
    )


class VisibleSchemas:
    """The restricted schema per (visibility, introspection allowed), built once (LRU)."""

    def __init__(self, schema: GraphQLSchema, size: int = 64) -> None:
        self.schema = schema
        self._built: LRU[tuple[str, bool], GraphQLSchema] = LRU(size)

    def get(self, visibility: Visibility, introspection: bool) -> GraphQLSchema:
        key = (visibility.key, introspection)
        found = self._built.get(key)
        if found is None:
            found = self._built[key] = restrict(self.schema, visibility.fields, introspection)
        return found


__all__ = [
    "EVERYTHING",
    "OTHER_CASE",
    "TEAM_CASE",
    "Visibility",
    "VisibleSchemas",
    "declarable",
    "restrict",
]
