"""Schema objects built from agency data: what ``build`` puts in an object, shaped or not."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kernel import masks
from kernel.types import BuildRules
from schema.base import SPECS, FieldForbidden, build, record_data
from schema.court import CourtCase, Judgment, Party
from schema.unified import build_schema

build_schema()  # fills in the specs of every type

CASE: dict[str, Any] = {
    "case_number": "(2025)京01民初1号",
    "court": "北京市第一中级人民法院",
    "stage": None,
    "parties": [
        {"party_id": "91110105MA0000001X", "name": "甲", "role": "被告"},
        {"name": "乙"},
    ],
    "judgments": None,
    "handling_code": "H0",
}


def _reference(cls: type, data: Any, build_rules: dict[str, BuildRules]) -> dict[str, Any]:
    """What every built object holds: each schema value by its source, shaped, then the data."""
    shape = build_rules.get(cls.__name__, BuildRules())
    values: dict[str, Any] = {}
    for name, source, embedded_cls in SPECS[cls].values:
        if name in shape.denied:
            continue
        value = data.get(source)
        if name in shape.masks:
            value = masks.apply(shape.masks[name], value)
        if embedded_cls is not None and value is not None:
            value = [_reference(embedded_cls, item, build_rules) for item in value]
        values[name] = value
    values["_data"] = data
    return values


def _contents(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_contents(o) for o in obj]
    if type(obj) in SPECS:
        return {k: v if k == "_data" else _contents(v) for k, v in vars(obj).items()}
    return obj


SHAPINGS = {
    "none": {},
    "unrelated": {"Enterprise": BuildRules(frozenset({"name"}))},
    "no effect": {"CourtCase": BuildRules(), "Party": BuildRules()},
    "parent denied": {"CourtCase": BuildRules(frozenset({"court"}))},
    "embedded masked": {"Party": BuildRules(masks={"party_id": "party_id"})},
    "embedded denied": {"Party": BuildRules(frozenset({"role"}))},
}


@pytest.mark.parametrize("case", SHAPINGS)
def test_built_objects_hold_the_shaped_values_in_schema_order(case: str) -> None:
    build_rules = SHAPINGS[case]
    obj = build(CourtCase, CASE, build_rules)
    assert type(obj) is CourtCase and [type(p) for p in obj.parties] == [Party, Party]
    expected = _reference(CourtCase, CASE, build_rules)
    assert _contents(obj) == expected
    assert list(vars(obj)) == list(expected)  # the same order: plain values, embedded, data
    assert record_data(obj) is CASE and record_data(obj.parties[1]) is CASE["parties"][1]


def test_a_withheld_attribute_answers_forbidden() -> None:
    obj = build(CourtCase, CASE, {"Party": BuildRules(frozenset({"role"}))})
    assert obj.parties[0].name == "甲"
    with pytest.raises(FieldForbidden):
        _ = obj.parties[0].role


def test_a_replaced_spec_is_built_by_its_own_values() -> None:
    before = SPECS[Judgment]
    SPECS[Judgment] = dataclasses.replace(
        before,
        values=(("outcome", "result", None),),
        attributes=frozenset({"outcome"}),
        plain=(("outcome", "result"),),
    )
    try:
        assert vars(build(Judgment, {"result": "驳回", "outcome": "x"}, {}))["outcome"] == "驳回"
    finally:
        SPECS[Judgment] = before
    assert vars(build(Judgment, {"outcome": "x"}, {}))["outcome"] == "x"
