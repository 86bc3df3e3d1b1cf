"""The analyze stage: what an operation touches, through aliases and fragments."""

from __future__ import annotations

import pytest

from gateway.analyze import Analyzer
from gateway.errors import QueryInvalid
from schema.unified import build_schema

SCHEMA = build_schema()


def test_fragments_and_aliases_resolve_to_their_fields() -> None:
    query = """
    query Q {
      a: enterprise(uscc: "91350100M000100Y43") { ...E }
      b: enterprise(uscc: "91350100M000100Y43") { ... on Enterprise { shareholders { holderName } } }
    }
    fragment E on Enterprise { name accounts: bankAccounts { balance } legalRepresentative { ...P } }
    fragment P on Person { name householdAddress }
    """
    op = Analyzer(SCHEMA).analyze(query, None)
    touched = {(t.resource.type_name, t.resource.field_name) for t in op.touched}
    assert touched == {
        ("Query", "enterprise"),
        ("Enterprise", "name"),
        ("Enterprise", "bankAccounts"),
        ("BankAccount", "balance"),
        ("Enterprise", "legalRepresentative"),
        ("Person", "name"),
        ("Person", "householdAddress"),
        ("Enterprise", "shareholders"),
        ("Shareholder", "holderName"),
    }
    assert {t.path for t in op.touched} >= {
        "enterprise.bankAccounts.balance",
        "enterprise.legalRepresentative.householdAddress",
    }
    needs: dict[str, set[str]] = {}
    for t in op.touched:
        if t.entity is not None:
            needs.setdefault(t.entity, set()).update(t.needs)
    assert needs == {
        "Enterprise": {"name", "legal_rep_id", "shareholders.holder_name"},
        "BankAccount": {"balance"},
        "Person": {"name", "household_address"},
    }
    assert op.entities == {"Enterprise", "BankAccount", "Person"}
    assert op.name == "Q" and op.type == "query"


def test_analysis_is_cached_by_query_text() -> None:
    analyzer = Analyzer(SCHEMA)
    query = '{ enterprise(uscc: "91350100M000100Y43") { name } }'
    assert analyzer.analyze(query, None) is analyzer.analyze(query, None)


@pytest.mark.parametrize(
    ("query", "operation", "code"),
    [
        ("{ enterprise(uscc: ", None, "GRAPHQL_PARSE_FAILED"),
        ("{ enterprise { name } }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query A { __typename } query B { __typename }", None, "BAD_REQUEST"),
        ("query A { __typename }", "B", "BAD_REQUEST"),
        ("{ __typename }" + " " * 70_000, None, "BAD_REQUEST"),
    ],
)
def test_invalid_operations_are_refused(query: str, operation: str | None, code: str) -> None:
    with pytest.raises(QueryInvalid) as caught:
        Analyzer(SCHEMA).analyze(query, operation)
    assert caught.value.code == code
