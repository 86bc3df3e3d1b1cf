"""The compiled executor answers exactly as graphql-core does (gateway/executor/run.py).

Every request goes through both executors (tests/gateway/executor/compare.py): generated ones
(tests/gateway/queries.py) and targeted ones for errors, nulls and agencies that are down.

JOINTGATE_COMPILED_EXAMPLES sets the number of generated requests (default 1,000, about 30 s);
JOINTGATE_COMPILED_BUDGET_S bounds the time they may take (default 50 s, 0 for no bound).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from gateway.execute import Executor
from kernel.types import Principal
from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc
from tests.gateway.executor.compare import both, codes, executor_of, query, token_for
from tests.gateway.queries import Request, requests, vary_labels

EXAMPLES = int(os.environ.get("JOINTGATE_COMPILED_EXAMPLES", "1000"))
# the generated comparison stops comparing rather than run past a minute (0: no bound)
TIME_BUDGET_S = float(os.environ.get("JOINTGATE_COMPILED_BUDGET_S", "50"))


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
        "authorization": f"Bearer {token_for(fixture.data_dir, request.principal)}",
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


async def test_a_denied_non_null_field_nulls_its_parent(harness: Harness) -> None:
    # a police investigator of clearance 1 may look persons up but not see their ID numbers
    _open(harness, "police", "person", 1)
    token = token_for(harness.data_dir, POLICE_CLEARANCE_1)
    headers = {"authorization": f"Bearer {token}", "x-purpose": "investigation",
               "x-case-id": "JIT-2026-001"}  # fmt: skip
    text = f'{{ p: person(idNumber: "{resident_id(1)}") {{ name idNumber gender }} }}'

    def post() -> Any:
        return harness.client.post("/graphql", json={"query": text}, headers=headers)

    answer = await both(harness, post)
    assert answer.body["data"] == {"p": None}
    assert codes(answer.body) == [(["p", "idNumber"], "FORBIDDEN_FIELD")]
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
    assert codes(answer.body) == [(["e", "bankAccounts", 0, "holderName"], "FORBIDDEN_FIELD")]


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
    assert codes(answer.body) == [(["e", "bankAccounts"], "AGENCY_UNAVAILABLE")]
    assert answer.body["errors"][0]["extensions"]["agency"] == "banking"


async def test_a_down_agency_at_the_root(harness: Harness) -> None:
    text = f'{{ a: enterprise(uscc: "{uscc(3)}") {{ name }} b: person(idNumber: "{resident_id(3)}") {{ name }} }}'
    answer = await both(harness, query(harness, text), down=("market",))
    assert answer.body["data"] == {"a": None, "b": {"name": "法人3"}}
    assert codes(answer.body) == [(["a"], "AGENCY_UNAVAILABLE")]


async def test_the_audit_log_without_a_trail(harness: Harness) -> None:
    text = "{ auditLog(first: 2) { nodes { seq subject } pageInfo { hasNextPage } } }"
    answer = await both(harness, query(harness, text, user="auditor", purpose="audit", case=None))
    assert answer.body["data"] == {"auditLog": None}
    assert codes(answer.body) == [(["auditLog"], "AGENCY_UNAVAILABLE")]


async def test_bad_identifiers_answer_bad_user_input(harness: Harness) -> None:
    bad = uscc(1)[:-1] + ("0" if uscc(1)[-1] != "0" else "1")
    variable = "query($u: USCC!) { enterprise(uscc: $u) { name } }"
    answer = await both(harness, query(harness, variable, {"u": bad}))
    assert codes(answer.body) == [(None, "BAD_USER_INPUT")]
    assert "data" not in answer.body or answer.body["data"] is None
    literal = f'{{ enterprise(uscc: "{bad}") {{ name }} }}'
    answer = await both(harness, query(harness, literal))
    assert codes(answer.body) == [(None, "BAD_USER_INPUT")]


async def test_a_list_costs_one_call_per_agency_and_kind(harness: Harness) -> None:
    text = """{ enterprises(nameContains: "财富", first: 10) { totalCount nodes {
        uscc legalRepresentative { name } bankAccounts { number transactions(first: 2) { id } }
        policeCases { caseNumber } courtCases { caseNumber } } } }"""
    answer = await both(harness, query(harness, text))
    assert "errors" not in answer.body, answer.body
    assert len(answer.body["data"]["enterprises"]["nodes"]) == 10
    counts = {name: len(calls) for name, calls in answer.calls.items()}
    # market: the search; police: persons + cases; banking: accounts + transactions
    assert counts == {"market": 1, "police": 2, "banking": 2, "courts": 1, "credit": 0}
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


async def test_both_executors_can_be_chosen(harness: Harness) -> None:
    executor = executor_of(harness)
    assert executor.compiled is True
    plain = Executor(executor.schema, executor.connectors, compiled=False)
    assert plain.compiled is False
