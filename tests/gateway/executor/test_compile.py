"""What the compiler compiles, and what it leaves to graphql-core (gateway/executor/compile.py)."""

from __future__ import annotations

from tests.gateway.conftest import Harness, uscc
from tests.gateway.executor.compare import both, executor_of, query


async def test_aliases_fragments_directives_and_typename(harness: Harness) -> None:
    text = """query Q($yes: Boolean!, $no: Boolean!) {
      __typename
      one: enterprise(uscc: "%s") { ...E  n2: name @include(if: $no) __typename }
      two: enterprise(uscc: "%s") @skip(if: $yes) { name }
      three: enterprise(uscc: "%s") {
        ... on Enterprise @include(if: $yes) { status }
        ... @skip(if: false) { legalRepresentative { ...P } }
        legalRepresentative { gender }
      }
    }
    fragment E on Enterprise { n: name uscc }
    fragment P on Person { name __typename }""" % (uscc(1), uscc(2), uscc(3))
    for yes in (True, False):
        answer = await both(harness, query(harness, text, {"yes": yes, "no": not yes}))
        data = answer.body["data"]
        assert data["__typename"] == "Query"
        assert data["one"]["n"] == "测试1号财富管理有限公司"
        assert data["one"]["__typename"] == "Enterprise"
        assert ("n2" in data["one"]) is not yes
        assert ("two" in data) is not yes
        assert ("status" in data["three"]) is yes
        assert data["three"]["legalRepresentative"] == {
            "name": "法人3", "__typename": "Person", "gender": "男"
        }  # fmt: skip
    cache = executor_of(harness).fast.entries
    (entry,) = [e for e in cache.values() if e.directive_variables]
    assert sorted(entry.directive_variables) == ["no", "yes"] and len(entry.variants) == 2


async def test_what_the_compiler_leaves_to_graphql_core(harness: Harness) -> None:
    fast = executor_of(harness).fast
    introspection = "{ __schema { queryType { name } } }"
    answer = await both(harness, query(harness, introspection, user="policy.admin"), fallback=True)
    assert answer.body["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    (reason,) = {e.fallback for e in fast.entries.values()}
    assert reason == "introspection"
