"""The analyze stage: what an operation touches, through aliases and fragments."""

from __future__ import annotations

import re

import pytest

from gateway.analyze import Analyzer
from gateway.respond import MAX_MESSAGE
from kernel.errors import QueryInvalid
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


BIG = "1" * 60_000  # int() refuses more than 4,300 digits (sys.set_int_max_str_digits)
PAGE = '{ enterprises(nameContains: "x", first: %s) { totalCount } }'
HOSTILE = {
    "giant integer literal": PAGE % BIG,
    "giant integer default": 'query($f: Int = %s) { enterprises(nameContains: "x", first: $f) '
    "{ totalCount } }" % BIG,
    "long integer for a string": "{ enterprises(nameContains: %s) { totalCount } }" % ("9" * 5000),
    "long string for an integer": PAGE % ('"' + "z" * 30_000 + '"'),
    "long list for an integer": PAGE % ("[" + ", ".join(["1"] * 900) + "]"),
    "long float": PAGE % ("9" * 30_000 + ".5"),
    "long field name": '{ enterprise(uscc: "91350100M000100Y43") { %s } }' % ("x" * 30_000),
    "long argument name": '{ enterprises(nameContains: "x", %s: 1) { totalCount } }'
    % ("y" * 30_000),
    "long variable name": "query($%s: Int) { __typename }" % ("v" * 30_000),
    "long type name": "query { __typename } fragment F on %s { x }" % ("T" * 30_000),
    "long fragment name": "{ ...%s }" % ("f" * 30_000),
    "long directive name": "{ __typename @%s }" % ("d" * 30_000),
    "long unexpected token": "{ __typename } %s" % ("n" * 30_000),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_messages_carry_no_python_and_no_unbounded_echo(name: str) -> None:
    with pytest.raises(QueryInvalid) as caught:
        Analyzer(SCHEMA).analyze(HOSTILE[name], None)
    for error in caught.value.graphql_errors():
        message = error["message"]
        assert len(message) <= MAX_MESSAGE, message
        assert not re.search(r"(.)\1{80}", message), message  # no long run of the input
        assert not re.search(r"int_max_str_digits|exceeds the limit|sys\.", message, re.I)


def test_a_giant_integer_literal_cannot_represent_an_int() -> None:
    with pytest.raises(QueryInvalid) as caught:
        Analyzer(SCHEMA).analyze(PAGE % BIG, None)
    (error,) = caught.value.graphql_errors()
    assert error["message"] == (
        "Int cannot represent non 32-bit signed integer value: " + "1" * 60 + "…"
    )
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert caught.value.code == "GRAPHQL_VALIDATION_FAILED"


def test_an_unknown_operation_name_is_quoted_back_in_part() -> None:
    with pytest.raises(QueryInvalid) as caught:
        Analyzer(SCHEMA).analyze("query A { __typename }", "z" * 60_000)
    (error,) = caught.value.graphql_errors()
    assert error["message"] == "Unknown operation named '" + "z" * 60 + "…'."


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every parse and validation the analyzer runs, by name (a spy on the analyze module)."""
    import gateway.analyze as analyze

    calls: list[str] = []
    for name in ("parse", "validate"):
        real = getattr(analyze, name)

        def spy(*args: object, _real: object = real, _name: str = name, **kw: object) -> object:
            calls.append(_name)
            return _real(*args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(analyze, name, spy)
    return calls


def test_a_document_analysed_for_one_caller_is_no_cache_hit_for_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15: a cache hit answers faster, so a shared cache told a caller whether a
    colleague had sent a document (and the identifiers written in it)."""
    calls = _count_parses(monkeypatch)
    analyzer = Analyzer(SCHEMA)
    query = '{ enterprise(uscc: "91350100M000100Y43") { name } }'
    first = analyzer.analyze(query, None, subject="jit.member")
    assert calls == ["parse", "validate"]
    assert analyzer.analyze(query, None, subject="jit.member") is first  # the hot path hits
    with pytest.raises(QueryInvalid):  # the probe: the document, and a name it does not have
        analyzer.analyze(query, "zz", subject="duty.officer")
    assert calls == ["parse", "validate"] * 2
    other = analyzer.analyze(query, None, subject="duty.officer")
    assert other is not first and other.cache_key != first.cache_key  # compiled, planned apart
    assert calls == ["parse", "validate"] * 2  # the probe's own analysis is its own to reuse


def test_the_analysis_caches_are_bounded_in_total() -> None:
    analyzer = Analyzer(SCHEMA, cache_size=3)
    for n in range(5):
        analyzer.analyze("{ __typename }", None, subject=f"user{n}")
    assert len(analyzer._documents) == len(analyzer._operations) == 3
