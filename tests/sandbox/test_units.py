"""Unit tests of the shared mechanisms: field selection, paging, knobs, nonces."""

from __future__ import annotations

import pytest

from kernel.identifiers import InvalidIdentifier
from sandbox.banking import NonceCache
from sandbox.faults import Faults, Stats
from sandbox.fields import RecordShape
from sandbox.http import ApiError, check_party_id
from sandbox.paging import decode_token, encode_token, keyset_page, page_slice
from sandbox.runner import AGENCIES, parse_fault_knobs, parse_ports

SHAPE = RecordShape(
    "thing", "id", {"name": None, "tags": None, "parts": ("a", "b"), "more": ("x", "y")}
)
RECORD = {
    "id": "1",
    "name": "n",
    "tags": ["t"],
    "parts": [{"a": 1, "b": 2}, {"a": 3, "b": 4}],
    "more": [{"x": 0, "y": 0}],
    "handling_code": "H0",
    "sensitivity": 0,
    "linked_cases": [],
}
LABELS = {"handling_code": "H0", "sensitivity": 0, "linked_cases": []}


def test_no_field_list_selects_everything() -> None:
    assert SHAPE.select(None)(RECORD) is RECORD


def test_key_and_labels_are_always_selected() -> None:
    assert SHAPE.select([])(RECORD) == {"id": "1", **LABELS}
    assert SHAPE.select(["id", "sensitivity", ""])(RECORD) == {"id": "1", **LABELS}


def test_dotted_paths_select_sub_fields() -> None:
    selected = SHAPE.select(["parts.b", "name"])(RECORD)
    assert selected == {"id": "1", "name": "n", "parts": [{"b": 2}, {"b": 4}], **LABELS}
    assert list(selected) == ["id", "name", "parts", *LABELS]  # contract order


def test_naming_the_list_selects_all_its_sub_fields() -> None:
    assert SHAPE.select(["parts", "parts.a"])(RECORD)["parts"] == RECORD["parts"]
    assert SHAPE.select(["parts.a", "parts.b"])(RECORD)["parts"] == RECORD["parts"]


@pytest.mark.parametrize("bad", ["nope", "parts.c", "name.x", "id.x", "parts."])
def test_unknown_fields_are_a_client_error(bad: str) -> None:
    with pytest.raises(ApiError) as caught:
        SHAPE.select(["name", bad])
    assert caught.value.status == 400
    assert bad in caught.value.message


def test_paging_helpers() -> None:
    assert list(page_slice(range(10), 2, 4)) == [4, 5, 6, 7]
    assert list(page_slice(range(10), 4, 4)) == []
    keys = ["a", "b", "c", "d", "e"]
    assert keyset_page(keys, None, 2) == (["a", "b"], "b")
    assert keyset_page(keys, "b", 2) == (["c", "d"], "d")
    assert keyset_page(keys, "d", 2) == (["e"], None)
    assert keyset_page(keys, "bb", 10) == (["c", "d", "e"], None)
    assert decode_token(encode_token({"after": "x"})) == {"after": "x"}
    for bad in ("", "!!!", encode_token({"a": 1})[:-2] + "*", "WzFd"):  # "WzFd" is [1]
        with pytest.raises(ApiError):
            decode_token(bad)


def test_faults_validate_and_draw_deterministically() -> None:
    with pytest.raises(ValueError, match="latency_ms"):
        Faults(latency_ms=-5)
    knobs = Faults(error_rate=0.3, seed=1)
    draws = [knobs.should_fail() for _ in range(100)]
    again = Faults(error_rate=0.3, seed=1)
    assert draws == [again.should_fail() for _ in range(100)]
    assert 15 < sum(draws) < 45
    assert not any(Faults().should_fail() for _ in range(100))
    stats = Stats()
    stats.count("/a")
    stats.count("/a")
    assert stats.as_dict() == {"requests": 2, "by_path": {"/a": 2}}


def test_parse_fault_knobs() -> None:
    knobs = parse_fault_knobs(
        latency_ms=["police=20", "market=5,banking=7"], error_rate=["banking=0.1"], down=["courts"]
    )
    assert set(knobs) == set(AGENCIES)
    assert knobs["police"].as_dict() == {"latency_ms": 20, "error_rate": 0.0, "down": False}
    assert knobs["banking"].as_dict() == {"latency_ms": 7, "error_rate": 0.1, "down": False}
    assert knobs["courts"].down and not knobs["market"].down
    for bad in (
        {"latency_ms": ["tax=1"]},
        {"latency_ms": ["police"]},
        {"latency_ms": ["police=fast"]},
        {"error_rate": ["police=1.5"]},
        {"down": ["nobody"]},
    ):
        with pytest.raises(ValueError):
            parse_fault_knobs(**bad)


def test_parse_ports() -> None:
    assert parse_ports(["police=8401", "courts=0"]) == {"police": 8401, "courts": 0}
    for bad in (["police=x"], ["police=70000"], ["tax=1"]):
        with pytest.raises(ValueError):
            parse_ports(bad)


def test_nonce_cache_is_bounded_in_time_and_size() -> None:
    cache = NonceCache(window_s=300, max_size=3)
    assert cache.add("a", now=0)
    assert not cache.add("a", now=10)
    assert cache.add("a", now=601)  # forgotten once no timestamp could still be fresh
    for nonce in "bcd":
        assert cache.add(nonce, now=602)
    assert len(cache) == 3  # "a" evicted to make room


def test_party_ids() -> None:
    assert check_party_id("11010519491231002x") == "11010519491231002X"
    with pytest.raises(InvalidIdentifier, match="neither"):
        check_party_id("11010519491231002")
