"""Every schema field is a policy resource; a field without one fails the build."""

from __future__ import annotations

import re

import pytest
import strawberry

from schema.base import Category, Shape
from schema.catalog import SchemaMappingError, build_catalog
from schema.unified import build_schema

SCHEMA = build_schema()


def test_every_object_field_in_the_schema_has_a_resource() -> None:
    from graphql import GraphQLObjectType

    for name, gql_type in SCHEMA.graphql.type_map.items():
        if isinstance(gql_type, GraphQLObjectType) and not name.startswith("__"):
            for field in gql_type.fields:
                assert (name, field) in SCHEMA.catalog, f"{name}.{field}"


def test_resources_carry_owner_category_and_sensitivity() -> None:
    balance = SCHEMA.catalog[("BankAccount", "balance")]
    assert (balance.agency, balance.category, balance.sensitivity) == (
        "banking",
        Category.FINANCIAL,
        3,
    )
    rep = SCHEMA.catalog[("Enterprise", "legalRepresentative")]
    assert rep.agency == "police" and rep.shape is Shape.LINK and rep.requires == ("legal_rep_id",)
    assert SCHEMA.catalog[("Transaction", "counterpartyName")].source == "counterparty_name"
    counterparty = SCHEMA.catalog[("Transaction", "counterparty")]  # a link to the account
    assert counterparty.shape is Shape.LINK and counterparty.target == "BankAccount"
    assert counterparty.requires == ("counterparty_account",)


def test_a_field_without_a_resource_is_a_build_error() -> None:
    @strawberry.type
    class Query:
        unmapped: str = "x"
        other: int = 1

    with pytest.raises(SchemaMappingError, match=r"Query\.unmapped, Query\.other"):
        build_catalog(strawberry.Schema(query=Query)._schema)


def test_the_sdl_has_the_identifier_scalars_and_the_domain_types() -> None:
    sdl = SCHEMA.sdl()
    for fragment in ("scalar USCC", "scalar ResidentID", "scalar CourtCaseNumber", "type Enterprise",
                     "type Person", "type BankAccount", "type Transaction", "type PoliceCase",
                     "type CourtCase"):  # fmt: skip
        assert fragment in sdl
    # the first argument of enterprises, after its description (every argument has one)
    assert re.search(r'\n  enterprises\(\n    """[^"\n]+"""\n    nameContains: String!\n', sdl)
