"""The banking types' flows (schema/banking.py): a transaction's counterparty as an account,
transactions in a date range, per-counterparty aggregates; over the sandbox world in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.memory import memory_connectors
from sandbox.world import World
from tests.gateway.conftest import Harness, open_harness

BANK = {"user": "bank.analyst", "purpose": "supervision", "case": None}


@pytest.fixture
async def harness(tmp_path: Path, world: World) -> AsyncIterator[Harness]:
    connectors: Any = memory_connectors(world)
    async with open_harness(tmp_path, connectors) as opened:
        yield opened


async def _data(harness: Harness, query: str, variables: Any = None) -> Any:
    response = await harness.query(query, variables, **BANK)
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_a_transactions_counterparty_is_its_account(harness: Harness, world: World) -> None:
    root = world.scenario["account_number"]
    query = """query($a: AccountNumber!) { bankAccount(number: $a) { transactions(first: 500) {
      counterpartyName counterpartyAccount counterparty { number holderName } } } }"""
    rows = (await _data(harness, query, {"a": root}))["bankAccount"]["transactions"]
    linked = [r for r in rows if r["counterparty"] is not None]
    assert linked and all(r["counterparty"]["number"] == r["counterpartyAccount"] for r in linked)
    for row in rows:  # null exactly for cash and accounts the banking system does not know
        known = row["counterpartyAccount"] in world.accounts
        assert (row["counterparty"] is not None) == known
    assert all(r["counterpartyName"] for r in rows)
    # one batched lookup for all the counterparties
    lookups = [c for c in harness.agencies["banking"].calls if c[:2] == ("account", "number")]
    assert len(lookups) == 2  # the root, then its counterparties


async def test_transactions_in_a_date_range(harness: Harness, world: World) -> None:
    root = world.scenario["account_number"]
    days = sorted({tx["time"][:10] for tx in world.transactions_by_account[root]})
    query = """query($a: AccountNumber!, $f: Date, $t: Date) { bankAccount(number: $a) {
      transactions(first: 500, from: $f, to: $t) { id time } } }"""
    rows = (await _data(harness, query, {"a": root, "f": days[1], "t": days[-2]}))["bankAccount"]
    got = {r["id"] for r in rows["transactions"]}
    expected = {
        tx["id"] for tx in world.transactions_by_account[root]
        if days[1] <= tx["time"][:10] <= days[-2]
    }  # fmt: skip
    assert got == expected and got
    bad = (await harness.query(query, {"a": root, "f": days[-1], "t": days[0]}, **BANK)).json()
    assert bad["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "from"}


async def test_counterparties_aggregate_per_counterparty(harness: Harness, world: World) -> None:
    root = world.scenario["account_number"]
    query = """query($a: AccountNumber!) { bankAccount(number: $a) {
      counterparties(direction: OUT, first: 10) { counterpartyAccount counterpartyName
        counterpartyBank direction sum count first last counterparty { number } } } }"""
    flows = (await _data(harness, query, {"a": root}))["bankAccount"]["counterparties"]
    assert {f["counterpartyAccount"] for f in flows} == set(
        world.scenario["outflow_account_numbers"]
    )
    for flow in flows:
        assert (
            flow["direction"] == "out"
            and flow["counterparty"]["number"] == (flow["counterpartyAccount"])
        )
        assert flow["counterpartyBank"] == world.accounts[flow["counterpartyAccount"]]["bank"]
    assert harness.audit.records[-1].records_returned["BankAccount"] >= {
        f["counterpartyAccount"] for f in flows
    }
    bad = (
        await harness.query(
            query.replace("first: 10", "first: 10, minAmount: -5"), {"a": root}, **BANK
        )
    ).json()
    assert bad["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "minAmount"}


async def test_counterparties_of_many_accounts_are_one_call(harness: Harness, world: World) -> None:
    holder = world.scenario["enterprise_uscc"]
    query = """query($u: USCC!) { enterprise(uscc: $u) { bankAccounts {
      counterparties(first: 3) { counterpartyAccount sum } } } }"""
    await _data(harness, query, {"u": holder})
    calls = [c for c in harness.agencies["banking"].calls if c[0] == "aggregate"]
    assert len(calls) == 1 and calls[0][2] == len(world.accounts_by_holder[holder])
