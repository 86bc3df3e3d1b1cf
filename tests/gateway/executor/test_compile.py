"""What the compiler compiles, and what it leaves to graphql-core (gateway/executor/compile.py)."""

from __future__ import annotations

from gateway.executor.program import (
    FIELD_ATTRIBUTE,
    FIELD_RESOLVER,
    FIELD_TYPENAME,
    KEEP_EXACT_TYPE,
    KEEP_FINITE_FLOAT,
    OP_FULL_PATH,
    OP_LEAF,
    OP_PURE_LIST,
    OP_TYPENAME,
    TYPE_LIST,
    TYPE_NON_NULL,
    TYPE_OBJECT,
)
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


async def test_each_field_compiles_to_the_opcode_of_its_path(harness: Harness) -> None:
    text = f"""{{ enterprise(uscc: "{uscc(1)}") {{ __typename uscc name registeredCapital
        shareholders {{ holderName sharePct }} legalRepresentative {{ name }} }} }}"""
    answer = await both(harness, query(harness, text))
    assert "errors" not in answer.body, answer.body
    (compiled,) = [
        v for e in executor_of(harness).fast.entries.values() for v in e.variants.values()
    ]
    (root,) = compiled.root.fields
    assert root.kind == FIELD_RESOLVER and [i[0] for i in compiled.root.program] == [OP_FULL_PATH]
    assert root.type.kind == TYPE_OBJECT and root.type.obj is not None
    enterprise = root.type.obj
    assert [(f.key, f.kind) for f in enterprise.fields] == [
        ("__typename", FIELD_TYPENAME), ("uscc", FIELD_ATTRIBUTE), ("name", FIELD_ATTRIBUTE),
        ("registeredCapital", FIELD_ATTRIBUTE), ("shareholders", FIELD_ATTRIBUTE),
        ("legalRepresentative", FIELD_RESOLVER),
    ]  # fmt: skip
    program = [(op, key, check) for op, key, _, _, check, _, _ in enterprise.program]
    assert [(op, key) for op, key, _ in program] == [
        (OP_TYPENAME, "__typename"), (OP_LEAF, "uscc"), (OP_LEAF, "name"),
        (OP_LEAF, "registeredCapital"), (OP_PURE_LIST, "shareholders"),
        (OP_FULL_PATH, "legalRepresentative"),
    ]  # fmt: skip
    assert [check for _, _, check in program[1:4]] == [
        KEEP_EXACT_TYPE, KEEP_EXACT_TYPE, KEEP_FINITE_FLOAT
    ]  # fmt: skip
    # a link is not pure: the enterprise itself runs its program; its shareholders are pure
    assert enterprise.complete is None
    shareholders = enterprise.fields[4].type  # [Shareholder!]
    assert shareholders.kind == TYPE_LIST and shareholders.of is not None
    assert shareholders.of.kind == TYPE_NON_NULL and shareholders.of.of is not None
    item = shareholders.of.of
    assert item.kind == TYPE_OBJECT and item.obj is not None and item.obj.complete is not None
    assert enterprise.program[4][3] is item.obj.complete  # OP_PURE_LIST carries the items'
