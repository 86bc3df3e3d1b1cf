"""Built objects completed in one call (gateway/executor/pure.py), and what takes the full path."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Harness, uscc
from tests.gateway.executor.compare import both, codes, executor_of, query

CASES_QUERY = """{ courtCases(caseNumbers: ["(2025)京01民初1号", "(2025)京01民初2号",
    "(2025)京01民初3号", "(2025)京01民初4号"]) { caseNumber court parties { name role partyId } } }"""


def _root_items(harness: Harness, field: str) -> Any:
    """The compiled selection on the items of the list a root field answers."""
    (compiled,) = [
        variant
        for entry in executor_of(harness).fast.entries.values()
        for variant in entry.variants.values()
        if variant.root.fields[0].name == field
    ]
    t = compiled.root.fields[0].type
    while t.obj is None:
        t = t.of
    return t.obj


async def test_a_pure_selection_completes_built_objects_in_one_call(harness: Harness) -> None:
    answer = await both(harness, query(harness, CASES_QUERY))
    assert "errors" not in answer.body, answer.body
    cases = _root_items(harness, "courtCases")
    assert cases.complete is not None  # the cases and their parties: leaves and embedded lists
    parties = next(f for f in cases.fields if f.name == "parties")
    assert parties.type.of.of.obj.complete is not None
    assert answer.body["data"]["courtCases"][0]["parties"] == [
        {"name": "测试0号", "role": "被告", "partyId": uscc(0)}
    ]


async def test_odd_embedded_items_take_the_full_path(harness: Harness) -> None:
    records = harness.agencies["courts"]._records["court_case"]
    records[0]["parties"] = [
        {"party_id": uscc(0), "name": "甲", "role": "被告"},
        {"name": 7, "role": "原告"},  # an int for a String: serialized, not kept as is
        {"party_id": uscc(1)},  # nothing else there: nulls
        {"name": "乙", "role": ["not", "a", "string"]},  # an error at its own path
    ]
    records[1]["parties"] = []
    records[2]["parties"] = None
    records[3]["court"] = 12.5  # a float for a String, at the top of a pure selection
    for user, purpose, case in (
        ("jit.member", "investigation", "JIT-2026-001"),
        ("court.clerk", "supervision", None),
        ("market.officer", "supervision", None),
    ):
        answer = await both(
            harness, query(harness, CASES_QUERY, user=user, purpose=purpose, case=case)
        )
        data = answer.body["data"]["courtCases"]
        if user == "jit.member":
            assert [p["name"] for p in data[0]["parties"]] == ["甲", "7", None, "乙"]
            assert data[0]["parties"][3]["role"] is None
            assert data[1]["parties"] == [] and data[2]["parties"] is None
            assert data[3]["court"] == "12.5"
            assert [path for path, _ in codes(answer.body)] == [
                ["courtCases", 0, "parties", 3, "role"]
            ]
