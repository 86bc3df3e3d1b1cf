"""No cache on the request path answers one caller faster because of what another sent.

A cache hit is faster than a miss, so a cache shared between callers tells each of them what
the others asked for: the hostile tester of issue 15 learnt whether a colleague had looked up
an enterprise (documents carry identifiers as literals) from 3 ms against 7 ms. These tests
count the work done instead of timing it. docs/limits.md ("Caches and timing") lists every cache.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import Harness, uscc

LOOKUP = '{ enterprise(uscc: "%s") { name legalRepresentative { name } } }'


def _spy(monkeypatch: pytest.MonkeyPatch, harness: Harness) -> tuple[list[str], list[Any]]:
    """Parses and validations run, and the visibility each analysis was asked with."""
    import gateway.analyze as analyze

    calls: list[str] = []
    for name in ("parse", "validate"):
        real = getattr(analyze, name)

        def spy(*args: object, _real: Any = real, _name: str = name, **kw: object) -> object:
            calls.append(_name)
            return _real(*args, **kw)

        monkeypatch.setattr(analyze, name, spy)
    seen: list[Any] = []
    analyzer = harness.gateway.pipeline.analyzer
    real_analyze = analyzer.analyze

    def analyzed(query: str, name: str | None, visibility: Any, *args: Any, **kw: Any) -> Any:
        seen.append(visibility.key)
        return real_analyze(query, name, visibility, *args, **kw)

    monkeypatch.setattr(analyzer, "analyze", analyzed)
    return calls, seen


async def test_a_colleagues_document_is_analysed_afresh(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hostile tester's probe: the same text with an operation name it does not have."""
    calls, seen = _spy(monkeypatch, harness)
    query = LOOKUP % uscc(3)
    assert (await harness.query(query, user="jit.member")).status_code == 200
    assert calls == ["parse", "validate"]
    probe = await harness.client.post(
        "/graphql",
        json={"query": query, "operationName": "zz"},
        headers=harness.headers("duty.officer"),
    )
    assert probe.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert seen[0] == seen[1]  # the same visible schema: a shared cache would have answered
    assert calls == ["parse", "validate"] * 2
    assert (await harness.query(query, user="jit.member")).status_code == 200
    assert calls == ["parse", "validate"] * 2  # a caller repeating itself still hits


async def test_operations_are_compiled_and_planned_per_caller(harness: Harness) -> None:
    pipeline = harness.gateway.pipeline
    query = LOOKUP % uscc(4)
    for user in ("jit.member", "duty.officer", "jit.member"):
        assert (await harness.query(query, user=user)).status_code == 200
    compiled = pipeline.executor.fast.entries
    assert len(compiled) == 2  # one per caller; the repeat hit its own
    plans = pipeline.authorizer._plans
    assert len({key[-1] for key in plans}) == 2  # (..., operation.cache_key): one per caller
