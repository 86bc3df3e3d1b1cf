"""Messages a client reads: sentences, the caller's value quoted once as JSON would write it,
clipped between characters, nothing invisible raw (gateway/respond.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from graphql import GraphQLError, build_schema, parse
from graphql.execution.values import get_variable_values

from gateway.respond import MAX_ECHO, MAX_MESSAGE, client_message, clip_message, describe, quote
from tests.gateway.conftest import Harness

SCHEMA = build_schema("""
    enum Color { RED GREEN }
    input Filter { a: Int!, b: [String!] }
    type Query { x(i: Int, s: String, f: Filter, c: Color, l: [Int]): Int }
""")
DEFINITIONS = (
    parse("query($i: Int, $s: String, $f: Filter, $c: Color, $l: [Int]) { x }")
    .definitions[0]
    .variable_definitions
)  # type: ignore[attr-defined]


def _message(variables: dict[str, Any]) -> str:
    errors = get_variable_values(SCHEMA, DEFINITIONS, variables)
    assert isinstance(errors, list) and len(errors) == 1
    return client_message(errors[0], variables)


X = "x" * 100
VARIABLE_MESSAGES: list[tuple[dict[str, Any], str]] = [
    ({"i": "\x00"}, "Variable '$i' has invalid value: Int cannot represent non-integer value:"
                    ' "\\u0000"'),
    ({"i": "it's"}, "Variable '$i' has invalid value: Int cannot represent non-integer value:"
                    ' "it\'s"'),
    ({"i": True}, "Variable '$i' has invalid value: Int cannot represent non-integer value: true"),
    ({"i": 1.5}, "Variable '$i' has invalid value: Int cannot represent non-integer value: 1.5"),
    ({"i": {"k0": "it's"}}, "Variable '$i' has invalid value: Int cannot represent non-integer"
                            " value: an object"),
    ({"s": {"k0": "it's", "k1": X}}, "Variable '$s' has invalid value: String cannot represent a"
                                     " non string value: an object"),
    ({"s": [X, "y"]}, "Variable '$s' has invalid value: String cannot represent a non string"
                      " value: a list"),
    ({"i": X}, "Variable '$i' has invalid value: Int cannot represent non-integer value:"
               f' "{"x" * MAX_ECHO}…"'),
    ({"i": "say \"hi\"\\"}, "Variable '$i' has invalid value: Int cannot represent non-integer"
                            ' value: "say \\"hi\\"\\\\"'),
    ({"i": "a\u202eb"}, "Variable '$i' has invalid value: Int cannot represent non-integer value:"
                        ' "a\\u202eb"'),
    ({"f": {"a": "x"}}, "Variable '$f' has invalid value at .a: Int cannot represent non-integer"
                        ' value: "x"'),
    ({"f": {"a": 1, "b": ["ok", 5]}}, "Variable '$f' has invalid value at .b[1]: String cannot"
                                      " represent a non string value: 5"),
    ({"l": [1, "x", 2]}, "Variable '$l' has invalid value at [1]: Int cannot represent"
                         ' non-integer value: "x"'),
    ({"f": [1]}, "Variable '$f' has invalid value: Expected value of type 'Filter' to be an"
                 " object, found: a list."),
    ({"f": {"b": []}}, "Variable '$f' has invalid value: Expected value of type 'Filter' to"
                       " include required field 'a', found: an object."),
    ({"f": {"a": 1, "z\x00": 2}}, "Variable '$f' has invalid value: Expected value of type"
                                  " 'Filter' not to include unknown field 'z\\u0000', found:"
                                  " an object."),
    ({"c": "PURP\u202eLE"}, "Variable '$c' has invalid value: Value \"PURP\\u202eLE\" does not"
                            " exist in 'Color' enum."),
    ({"c": 5}, "Variable '$c' has invalid value: Enum 'Color' cannot represent non-string"
               " value: 5."),
]  # fmt: skip


@pytest.mark.parametrize(("variables", "expected"), VARIABLE_MESSAGES)
def test_a_variable_error_describes_the_value_as_json(
    variables: dict[str, Any], expected: str
) -> None:
    assert _message(variables) == expected


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ("涉嫌非法集资", '"涉嫌非法集资"'),
        ("a\x00b\nc\x7f\x85", '"a\\u0000b\\u000ac\\u007f\\u0085"'),
        ("tag\U000e0041", '"tag\\u{e0041}"'),
        ("名" * 100, '"' + "名" * MAX_ECHO + '…"'),
        # never a base character without the accents on it
        ("x" * (MAX_ECHO - 1) + "e\u0301\u0302y", '"' + "x" * (MAX_ECHO - 1) + '…"'),
    ],
)
def test_quote(text: str, quoted: str) -> None:
    assert quote(text) == quoted


def test_describe_never_shows_a_python_repr() -> None:
    assert [describe(v) for v in (None, True, False, 3, 2.5, {"a": 1}, [1], 10**100)] == [
        "null", "true", "false", "3", "2.5", "an object", "a list", "a value",
    ]  # fmt: skip


def test_clipping_never_takes_a_sentence_for_a_quoted_name() -> None:
    """Only names (no spaces) are clipped as quoted: the text between the quote closing one name
    and the quote opening another is no name."""
    message = (
        "Variable '$v' has invalid value: String cannot represent a non string value:"
        " {'k0': \"it's\", 'k1': 'xxxx'}"
    )
    clipped = clip_message(message)
    assert "String cannot represent a non string value: " in clipped
    assert "val…" not in clipped


def test_a_long_literal_is_clipped_between_characters_with_its_quote_closed() -> None:
    message = 'Int cannot represent non-integer value: "' + "z" * 200 + '"'
    assert clip_message(message) == (
        'Int cannot represent non-integer value: "' + "z" * (MAX_ECHO - 1) + '…"'
    )
    escaped = 'Int cannot represent non-integer value: "' + "z" * 56 + "\\u00e9" * 10 + '"'
    clipped = clip_message(escaped)
    assert clipped.endswith('"' + "z" * 56 + '…"'), clipped  # not inside \u00e9


def test_no_character_leaves_raw_that_would_not_show_for_what_it_is() -> None:
    message = clip_message("Unknown operation named 'a\x00b\u202ec'.")
    assert message == "Unknown operation named 'a\\u0000b\\u202ec'."
    assert len(clip_message("x " * 1000)) == MAX_MESSAGE


async def test_the_hostile_testers_messages(harness: Harness) -> None:
    page = 'query($v: Int) { enterprises(nameContains: "x", first: $v) { totalCount } }'
    name = "query($v: String!) { enterprises(nameContains: $v, first: 1) { totalCount } }"
    uscc = "query($u: USCC!) { enterprise(uscc: $u) { name } }"
    cases: list[tuple[str, dict[str, Any], str]] = [
        (page, {"v": "\x00"}, 'Int cannot represent non-integer value: "\\u0000"'),
        (name, {"v": {"k0": "it's", "k1": X}}, "non string value: an object"),
        (name, {"v": [X, "y"]}, "non string value: a list"),
        (uscc, {"u": "91110102G3912469\x00A"}, "characters not allowed: U+0000 (no I, O, S"),
    ]
    user = {"user": "market.officer", "purpose": "supervision", "case": None}
    for query, variables, expected in cases:
        response = await harness.query(query, variables, **user)
        [error] = response.json()["errors"]
        message = error["message"]
        assert expected in message, message
        assert len(message) <= MAX_MESSAGE
        assert not re.search(r"\\x[0-9a-f]{2}|[\x00-\x1f]|\{'|True|False|None", message), message
        assert message.count(X[:MAX_ECHO]) <= 1


def test_messages_without_variables_are_unchanged_by_the_variables() -> None:
    error = GraphQLError("Cannot query field 'x' on type 'Query'.")
    assert client_message(error, {"v": "\x00"}) == "Cannot query field 'x' on type 'Query'."
