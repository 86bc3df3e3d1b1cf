"""Query limits, counted with fragments expanded, refused before any agency is called."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.limits_settings import QueryLimits
from tests.gateway.conftest import Harness, open_harness, uscc

U = uscc(1)


def assert_refused(harness: Harness, body: dict[str, object], setting: str) -> None:
    (error,) = body["errors"]  # type: ignore[misc]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": setting}, error
    assert f"limits.{setting}" in error["message"]
    assert all(not a.calls for a in harness.agencies.values())


@pytest.mark.parametrize(
    ("query", "setting"),
    [
        (
            "{ " + " ".join(f'e{i}: enterprise(uscc: "{U}") {{ name }}' for i in range(11)) + " }",
            "max_root_fields",
        ),
        (
            '{ enterprise(uscc: "%s") { %s } }' % (U, " ".join(f"n{i}: name" for i in range(31))),
            "max_aliases",
        ),
        (
            '{ enterprise(uscc: "%s") { name @include(if: true) @skip(if: false) @include(if: true) @skip(if: false) } }'
            % U,
            "max_directives_per_field",
        ),
        (
            '{ enterprise(uscc: "%s") { legalRepresentative { enterprises { legalRepresentative { enterprises { legalRepresentative { enterprises { legalRepresentative { enterprises { legalRepresentative { name } } } } } } } } } } }'
            % U,
            "max_depth",
        ),
        ("{ " + "__typename " * 2100 + "}", "max_tokens"),
        (
            '{ enterprises(nameContains: "a", first: 100) { nodes { bankAccounts { transactions(first: 500) { amount memo } } } } }',
            "max_cost",
        ),
    ],
    ids=["root-fields", "aliases", "directives", "depth", "tokens", "cost"],
)
async def test_each_limit_is_enforced_before_any_agency_call(
    harness: Harness, query: str, setting: str
) -> None:
    response = await harness.query(query)
    assert response.status_code == 400
    assert_refused(harness, response.json(), setting)


async def test_aliases_hidden_in_fragment_spreads_are_counted(harness: Harness) -> None:
    """Regression: Strawberry's alias limit once counted a fragment's aliases only once."""
    fragment = "fragment F on Enterprise { " + " ".join(f"n{i}: name" for i in range(10)) + " }"
    query = '{ enterprise(uscc: "%s") { ...F ...F ...F ...F } } %s' % (U, fragment)
    response = await harness.query(query)
    assert_refused(harness, response.json(), "max_aliases")
    inline = '{ enterprise(uscc: "%s") { ... on Enterprise { %s } } }' % (
        U,
        " ".join(f"n{i}: name" for i in range(31)),
    )
    assert_refused(harness, (await harness.query(inline)).json(), "max_aliases")


async def test_a_fragment_bomb_is_refused_quickly(harness: Harness) -> None:
    fragments = ["fragment F0 on Enterprise { name }"] + [
        f"fragment F{i} on Enterprise {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 25)
    ]
    query = '{ enterprise(uscc: "%s") { ...F24 } } %s' % (U, " ".join(fragments))
    response = await harness.query(query)
    assert_refused(harness, response.json(), "max_expanded_fields")


async def test_legitimate_queries_pass(harness: Harness) -> None:
    query = """{ enterprises(nameContains: "财富", first: 20) { nodes { name
        legalRepresentative { name } bankAccounts { number transactions(first: 50) { amount } }
        policeCases { caseNumber } courtCases { caseNumber parties { name } } } } }"""
    body = (await harness.query(query)).json()
    assert "errors" not in body


async def test_limits_come_from_settings(tmp_path: Path) -> None:
    async with open_harness(tmp_path, limits=QueryLimits(max_aliases=2)) as harness:
        body = (
            await harness.query('{ enterprise(uscc: "%s") { a: name b: name c: name } }' % U)
        ).json()
        assert_refused(harness, body, "max_aliases")


async def test_introspection_is_for_configured_roles_and_otherwise_looks_like_a_missing_field(
    harness: Harness,
) -> None:
    introspect = await harness.query(
        "{ __schema { queryType { name } } }",
        user="market.officer",
        purpose="supervision",
        case=None,
    )
    missing = await harness.query(
        "{ __nothing { queryType { name } } }",
        user="market.officer",
        purpose="supervision",
        case=None,
    )
    assert introspect.status_code == missing.status_code == 400
    assert introspect.json()["errors"][0] == {
        "message": "Cannot query field '__schema' on type 'Query'.",
        "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
        "locations": [{"line": 1, "column": 3}],
    }
    assert (
        missing.json()["errors"][0]["message"] == "Cannot query field '__nothing' on type 'Query'."
    )
    admin = await harness.query(
        "{ __schema { queryType { name } } }", user="policy.admin", purpose="supervision", case=None
    )
    assert admin.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    typename = await harness.query(
        "{ __typename }", user="market.officer", purpose="supervision", case=None
    )
    assert typename.json() == {"data": {"__typename": "Query"}}
