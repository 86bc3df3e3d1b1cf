"""Builds the executable unified schema and its field catalog from the domain modules."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from graphql import GraphQLSchema
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.banking import BankingQuery
from schema.catalog import Catalog, build_catalog
from schema.court import CourtQuery
from schema.enterprise import EnterpriseQuery
from schema.person import PersonQuery
from schema.police import PoliceQuery
from schema.scalars import SCALARS


@dataclass(frozen=True, slots=True)
class GatewaySchema:
    strawberry: strawberry.Schema
    graphql: GraphQLSchema
    catalog: Catalog

    def sdl(self) -> str:
        return self.strawberry.as_str()


def build_schema() -> GatewaySchema:
    query = merge_types(
        "Query", (EnterpriseQuery, PersonQuery, BankingQuery, PoliceQuery, CourtQuery)
    )
    config = StrawberryConfig(scalar_map=SCALARS, disable_field_suggestions=True)
    built = strawberry.Schema(query=query, config=config)
    gql = built._schema
    return GatewaySchema(built, gql, build_catalog(gql))
