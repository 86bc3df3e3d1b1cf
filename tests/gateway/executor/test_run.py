"""The compiled executor answers exactly as graphql-core does.

Every request is sent twice through the same in-process gateway, once with the compiled fast
path (``Executor.compiled``) and once with graphql-core, and the answers must be equal: status,
JSON body (data, and errors as an ordered list: graphql-core's order is deterministic here, so
it must be the same) and the agency calls made, in order (same DataLoader batches).

JOINTGATE_COMPILED_EXAMPLES sets the number of generated requests (default 1,000, about 30 s);
JOINTGATE_COMPILED_BUDGET_S bounds the time they may take (default 50 s, 0 for no bound).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from joserfc import jwt

from gateway.execute import Executor
from gateway.executor import CompiledExecutor
from gateway.issuer import DEMO_AUDIENCE, DEMO_ISSUER, load_or_create_keys
from gateway.types import Principal
from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc
from tests.gateway.queries import Request, requests, vary_labels

EXAMPLES = int(os.environ.get("JOINTGATE_COMPILED_EXAMPLES", "1000"))
# the generated comparison stops comparing rather than run past a minute (0: no bound)
TIME_BUDGET_S = float(os.environ.get("JOINTGATE_COMPILED_BUDGET_S", "50"))


@dataclass
class Answer:
    status: int
    body: Any
    calls: dict[str, list[Any]]


def _executor(harness: Harness) -> Executor:
    return harness.gateway.pipeline.executor


@functools.cache
def _token(data_dir: Path, p: Principal) -> str:
    keys = load_or_create_keys(data_dir)
    now = int(time.time())
    claims = {"iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": p.subject, "agency": p.agency,
              "roles": sorted(p.roles), "clearance": p.clearance, "iat": now, "exp": now + 600}  # fmt: skip
    return jwt.encode({"alg": "ES256", "kid": keys.keys[0].kid}, claims, keys)


async def _send(harness: Harness, compiled: bool, post: Any, down: tuple[str, ...] = ()) -> Answer:
    executor = _executor(harness)
    executor.compiled = compiled
    for agency in harness.agencies.values():
        agency.calls.clear()
        agency.down = agency.agency in down
    try:
        response: httpx.Response = await post()
    finally:
        executor.compiled = True
        for agency in harness.agencies.values():
            agency.down = False
    calls = {name: list(a.calls) for name, a in harness.agencies.items()}
    body = response.json()
    for error in body.get("errors", ()):  # internal errors quote their own request's id
        error.get("extensions", {}).pop("requestId", None)
    return Answer(response.status_code, body, calls)


async def both(
    harness: Harness, post: Any, down: tuple[str, ...] = (), *, fallback: bool = False
) -> Answer:
    """Send with each executor; assert the answers are the same; return the compiled one."""
    fast = _executor(harness).fast
    # a cursor seals the second it expires: the same second for both executors, the same cursor
    _executor(harness).cursors.clock = lambda: 1_800_000_000.0
    fallbacks = fast.fallbacks
    compiled = await _send(harness, True, post, down)
    assert fast.fallbacks == fallbacks + fallback, "ran on the wrong executor"
    reference = await _send(harness, False, post, down)
    assert compiled.status == reference.status
    assert compiled.body == reference.body
    assert compiled.calls == reference.calls
    return compiled


def query(
    harness: Harness, text: str, variables: dict[str, Any] | None = None, **kwargs: Any
) -> Any:
    return lambda: harness.query(text, variables, **kwargs)


# --- generated requests --------------------------------------------------------------------------


class Fixture:
    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._cm = open_harness(tmp)
        self.harness: Harness = self.loop.run_until_complete(self._cm.__aenter__())
        self.data_dir = tmp
        vary_labels(self.harness)  # records of every handling code: some are hidden
        self.started: float | None = None
        self.examples = 0

    def close(self) -> None:
        self.loop.run_until_complete(self._cm.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    made = Fixture(tmp_path_factory.mktemp("compiled"))
    yield made
    made.close()


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(request=requests())
def test_generated_requests_answer_as_graphql_core(fixture: Fixture, request: Request) -> None:
    if fixture.started is None:
        fixture.started = time.monotonic()
    if TIME_BUDGET_S and time.monotonic() - fixture.started > TIME_BUDGET_S:
        return  # bounded: the examples run so far have been compared
    fixture.examples += 1
    harness = fixture.harness
    headers = {
        "authorization": f"Bearer {_token(fixture.data_dir, request.principal)}",
        "x-purpose": request.purpose,
    }
    if request.case_id:
        headers["x-case-id"] = request.case_id
    body: dict[str, Any] = {"query": request.query}
    if request.variables is not None:
        body["variables"] = request.variables

    def post() -> Any:
        return harness.client.post("/graphql", json=body, headers=headers)

    answer = fixture.loop.run_until_complete(both(harness, post, request.down))
    assert answer.status in (200, 400), answer.body


# --- targeted ------------------------------------------------------------------------------------

POLICE_CLEARANCE_1 = Principal("u-alpha", "police", frozenset({"investigator"}), 1)


def _open(harness: Harness, agency: str, kind: str, index: int) -> dict[str, Any]:
    """Make one record visible to everybody (handling H0, sensitivity 0)."""
    row: dict[str, Any] = harness.agencies[agency]._records[kind][index]
    row.update(handling_code="H0", sensitivity=0)
    return row


def _codes(body: Any) -> list[tuple[Any, str]]:
    return [(e.get("path"), e["extensions"]["code"]) for e in body.get("errors", ())]


async def test_a_denied_non_null_field_nulls_its_parent(harness: Harness) -> None:
    # a police investigator of clearance 1 may look persons up but not see their ID numbers
    _open(harness, "police", "person", 1)
    token = _token(harness.data_dir, POLICE_CLEARANCE_1)
    headers = {"authorization": f"Bearer {token}", "x-purpose": "investigation",
               "x-case-id": "JIT-2026-001"}  # fmt: skip
    text = f'{{ p: person(idNumber: "{resident_id(1)}") {{ name idNumber gender }} }}'

    def post() -> Any:
        return harness.client.post("/graphql", json={"query": text}, headers=headers)

    answer = await both(harness, post)
    assert answer.body["data"] == {"p": None}
    assert _codes(answer.body) == [(["p", "idNumber"], "FORBIDDEN_FIELD")]
    assert answer.body["errors"][0]["locations"] == [{"line": 1, "column": 52}]


async def test_a_null_non_null_list_item_nulls_the_list(harness: Harness) -> None:
    harness.agencies["banking"]._records["transaction"][4].pop("id")  # account 1's second
    text = f'{{ b: bankAccount(number: "{card(1)}") {{ bank transactions(first: 3) {{ id amount }} }} }}'
    answer = await both(harness, query(harness, text))
    assert answer.body["data"] == {"b": {"bank": "中国工商银行", "transactions": None}}
    (error,) = answer.body["errors"]
    assert error["path"] == ["b", "transactions", 1, "id"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


async def test_a_withheld_attribute_answers_forbidden_at_its_path(harness: Harness) -> None:
    # a market officer sees holders' names (masked) for monitoring, not while investigating
    text = f'{{ e: enterprise(uscc: "{uscc(1)}") {{ name bankAccounts {{ number holderName }} }} }}'
    answer = await both(harness, query(harness, text, user="market.officer"))
    assert answer.body["data"] == {
        "e": {
            "name": "测试1号财富管理有限公司",
            "bankAccounts": [{"number": "**** 0018", "holderName": None}],
        }
    }
    assert _codes(answer.body) == [(["e", "bankAccounts", 0, "holderName"], "FORBIDDEN_FIELD")]


async def test_a_down_agency_fails_only_its_link(harness: Harness) -> None:
    text = (
        f'{{ e: enterprise(uscc: "{uscc(2)}") {{ name status bankAccounts {{ number }} '
        "legalRepresentative { name } } }"
    )
    answer = await both(harness, query(harness, text), down=("banking",))
    assert answer.body["data"] == {
        "e": {"name": "测试2号财富管理有限公司", "status": "存续", "bankAccounts": None,
              "legalRepresentative": {"name": "法人2"}},
    }  # fmt: skip
    assert _codes(answer.body) == [(["e", "bankAccounts"], "AGENCY_UNAVAILABLE")]
    assert answer.body["errors"][0]["extensions"]["agency"] == "banking"


async def test_a_down_agency_at_the_root(harness: Harness) -> None:
    text = f'{{ a: enterprise(uscc: "{uscc(3)}") {{ name }} b: person(idNumber: "{resident_id(3)}") {{ name }} }}'
    answer = await both(harness, query(harness, text), down=("market",))
    assert answer.body["data"] == {"a": None, "b": {"name": "法人3"}}
    assert _codes(answer.body) == [(["a"], "AGENCY_UNAVAILABLE")]


async def test_the_audit_log_without_a_trail(harness: Harness) -> None:
    text = "{ auditLog(first: 2) { nodes { seq subject } pageInfo { hasNextPage } } }"
    answer = await both(harness, query(harness, text, user="auditor", purpose="audit", case=None))
    assert answer.body["data"] == {"auditLog": None}
    assert _codes(answer.body) == [(["auditLog"], "AGENCY_UNAVAILABLE")]


async def test_bad_identifiers_answer_bad_user_input(harness: Harness) -> None:
    bad = uscc(1)[:-1] + ("0" if uscc(1)[-1] != "0" else "1")
    variable = "query($u: USCC!) { enterprise(uscc: $u) { name } }"
    answer = await both(harness, query(harness, variable, {"u": bad}))
    assert _codes(answer.body) == [(None, "BAD_USER_INPUT")]
    assert "data" not in answer.body or answer.body["data"] is None
    literal = f'{{ enterprise(uscc: "{bad}") {{ name }} }}'
    answer = await both(harness, query(harness, literal))
    assert _codes(answer.body) == [(None, "BAD_USER_INPUT")]


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
    cache = _executor(harness).fast.entries
    (entry,) = [e for e in cache.values() if e.directive_variables]
    assert sorted(entry.directive_variables) == ["no", "yes"] and len(entry.variants) == 2


async def test_a_list_costs_one_call_per_agency_and_kind(harness: Harness) -> None:
    text = """{ enterprises(nameContains: "财富", first: 10) { totalCount nodes {
        uscc legalRepresentative { name } bankAccounts { number transactions(first: 2) { id } }
        policeCases { caseNumber } courtCases { caseNumber } } } }"""
    answer = await both(harness, query(harness, text))
    assert "errors" not in answer.body, answer.body
    assert len(answer.body["data"]["enterprises"]["nodes"]) == 10
    counts = {name: len(calls) for name, calls in answer.calls.items()}
    # market: the search; police: persons + cases; banking: accounts + transactions
    assert counts == {"market": 1, "police": 2, "banking": 2, "courts": 1}
    assert [c[:3] for c in answer.calls["police"]] == [
        ("person", "id_number", 10),
        ("case", "enterprise_ids", 10),
    ]


async def test_odd_agency_values_serialize_as_graphql_core_does(harness: Harness) -> None:
    case = harness.agencies["police"]._records["case"][1]
    case.update(victims=2**40, amount_involved=12, summary=3.5, status=True, charge=None)
    account = harness.agencies["banking"]._records["account"][1]
    account.update(balance="12.5", bank=["not", "a", "string"])
    harness.agencies["banking"]._records["transaction"][3].pop("id")  # account 1's first
    text = """{ c: policeCase(caseNumber: "J1101052026000001") {
        caseNumber victims amountInvolved summary status charge }
      b: bankAccount(number: "%s") { balance bank transactions(first: 3) { id amount } } }""" % card(
        1
    )
    answer = await both(harness, query(harness, text))
    assert answer.body["data"]["c"]["victims"] is None
    assert answer.body["data"]["c"]["amountInvolved"] == 12.0
    assert answer.body["data"]["c"]["status"] == "true"
    assert answer.body["data"]["b"]["balance"] == 12.5
    assert answer.body["data"]["b"]["transactions"] is None  # a non-null id is missing
    messages = [e["message"] for e in answer.body["errors"]]
    assert any("non 32-bit signed integer" in m for m in messages), messages


async def test_what_the_compiler_leaves_to_graphql_core(harness: Harness) -> None:
    fast = _executor(harness).fast
    introspection = "{ __schema { queryType { name } } }"
    answer = await both(harness, query(harness, introspection, user="policy.admin"), fallback=True)
    assert answer.body["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    (reason,) = {e.fallback for e in fast.entries.values()}
    assert reason == "introspection"


def test_the_compile_cache_is_bounded() -> None:
    from gateway.analyze import Analyzer
    from schema.unified import build_schema

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


async def test_both_executors_can_be_chosen(harness: Harness) -> None:
    executor = _executor(harness)
    assert executor.compiled is True
    plain = Executor(executor.schema, executor.connectors, compiled=False)
    assert plain.compiled is False


# --- built objects completed in one call (gateway/pure.py) ---------------------------------------

CASES_QUERY = """{ courtCases(caseNumbers: ["(2025)京01民初1号", "(2025)京01民初2号",
    "(2025)京01民初3号", "(2025)京01民初4号"]) { caseNumber court parties { name role partyId } } }"""


def _root_items(harness: Harness, field: str) -> Any:
    """The compiled selection on the items of the list a root field answers."""
    (plan,) = [
        plan
        for entry in _executor(harness).fast.entries.values()
        for plan in entry.variants.values()
        if plan.root.fields[0].name == field
    ]
    t = plan.root.fields[0].type
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
            assert [path for path, _ in _codes(answer.body)] == [
                ["courtCases", 0, "parties", 3, "role"]
            ]
