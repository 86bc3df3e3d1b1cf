"""Builds the executable unified schema and its field catalog from the domain modules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

import schema.credit  # noqa: F401 - its types, reached through Enterprise and Person
from schema.audit import AuditQuery
from schema.banking import BankingQuery
from schema.base import FieldForbidden, Shape
from schema.catalog import Catalog, SchemaMappingError, build_catalog
from schema.court import CourtQuery
from schema.enterprise import EnterpriseQuery
from schema.office import OfficeQuery
from schema.office_ops import OfficeMutation, OfficeSubscription
from schema.person import PersonQuery
from schema.police import PoliceQuery
from schema.scalars import SCALARS
from schema.scope import check_declarations, refused
from schema.trace import TraceQuery


@dataclass(frozen=True, slots=True)
class GatewaySchema:
    strawberry: strawberry.Schema
    graphql: GraphQLSchema
    catalog: Catalog

    def sdl(self) -> str:
        return self.strawberry.as_str()


QUERY_DOC = (
    "The unified view over the member agencies' records (market regulator, police, courts,"
    " banks, credit reference system), the joint office's leads and cases, and the audit trail."
    " What you see of it is decided for you: your token, declared purpose (X-Purpose) and case"
    " (X-Case-Id)."
)
MUTATION_DOC = "The joint office's workflow: a lead from submission to a closed case."
SUBSCRIPTION_DOC = (
    "Live events of the joint office's leads, over WebSocket at /graphql (graphql-transport-ws)."
)


def _merged(name: str, types: tuple[type, ...], description: str) -> type:
    """``types`` merged into one root type, with a description."""
    merged = merge_types(name, types)
    merged.__strawberry_definition__.description = description  # type: ignore[attr-defined]
    return merged


def build_schema() -> GatewaySchema:
    query = _merged(
        "Query",
        (
            EnterpriseQuery, PersonQuery, BankingQuery, PoliceQuery, CourtQuery, AuditQuery,
            OfficeQuery, TraceQuery,
        ),
        QUERY_DOC,
    )  # fmt: skip
    # the joint office's work (schema/office_ops.py): the only mutations and subscriptions
    mutation = _merged("Mutation", (OfficeMutation,), MUTATION_DOC)
    subscription = _merged("Subscription", (OfficeSubscription,), SUBSCRIPTION_DOC)
    config = StrawberryConfig(scalar_map=SCALARS, disable_field_suggestions=True)
    built = strawberry.Schema(
        query=query, mutation=mutation, subscription=subscription, config=config
    )
    gql = built._schema
    catalog = build_catalog(gql)
    problems = check_declarations()
    if problems:
        raise SchemaMappingError("entity declarations: " + "; ".join(problems))
    _guard_links(gql, catalog)
    return GatewaySchema(built, gql, catalog)


def _guard_links(gql: GraphQLSchema, catalog: Catalog) -> None:
    """Every link resolver first asks the plan; a denied link answers FORBIDDEN_FIELD, and so
    does a link the team grant allows from a record outside the team's scope (schema/scope.py)
    that is denied without the team.

    Plain values need no guard: the object builder withholds denied ones (schema.base.build).
    """
    for (type_name, field_name), resource in catalog.items():
        if resource.shape is not Shape.LINK:
            continue
        gql_type = gql.type_map[type_name]
        assert isinstance(gql_type, GraphQLObjectType)
        gql_field = gql_type.fields[field_name]
        assert gql_field.resolve is not None
        gql_field.resolve = _guarded(gql_field.resolve, (type_name, field_name))


def _guarded(resolve: Callable[..., Any], key: tuple[str, str]) -> Callable[..., Any]:
    def guarded(source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
        if refused(info.context.plan, key, source):
            raise FieldForbidden()
        return resolve(source, info, **args)

    return guarded
