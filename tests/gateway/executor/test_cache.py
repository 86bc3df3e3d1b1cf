"""The compile cache of the executor's entry point (gateway/executor/cache.py)."""

from __future__ import annotations

from gateway.analyze import Analyzer
from gateway.executor import CompiledExecutor
from schema.unified import build_schema
from tests.gateway.conftest import uscc


def test_the_compile_cache_is_bounded() -> None:
    schema = build_schema()
    analyzer = Analyzer(schema)
    fast = CompiledExecutor(schema.graphql, schema.catalog, cache_size=3)
    operations = [
        analyzer.analyze(f'{{ enterprise(uscc: "{uscc(i)}") {{ name }} }}', None) for i in range(5)
    ]
    for operation in operations:
        assert fast.fallback_reason(operation) is None
    assert list(fast.entries) == [o.cache_key for o in operations[2:]]
    assert fast.fallback_reason(operations[2]) is None  # a hit moves it to the end
    assert list(fast.entries)[-1] == operations[2].cache_key
