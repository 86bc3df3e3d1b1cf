"""The banking connector's flows over real HTTP to the sandbox, and the in-process double
answering alike: per-counterparty aggregates (one signed call per 500 accounts), ledgers in
columns, transactions in a date range."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.banking import BankingConnector, FundFlows
from connectors.base import Connector
from connectors.errors import AgencyRejected
from kernel.identifiers import luhn_check_digit
from sandbox.ledgers import ledger_row
from sandbox.memory import MemoryBanking
from sandbox.world import World
from signals.model import Ledger


def _banking(connectors: dict[str, Connector]) -> BankingConnector:
    connector = connectors["banking"]
    assert isinstance(connector, BankingConnector) and isinstance(connector, FundFlows)
    return connector


def _card(n: int) -> str:
    body = f"622202{n:012d}"
    return body + luhn_check_digit(body)


def _flows(world: World) -> list[str]:
    """Accounts with transfers to counterparties, most first."""
    counts = {
        n: sum(1 for tx in h if tx["counterparty_account"])
        for n, h in world.transactions_by_account.items()
    }
    return sorted(counts, key=lambda n: (-counts[n], n))


async def test_aggregate_over_http_equals_the_double(
    connectors: dict[str, Connector], world: World
) -> None:
    banking, double = _banking(connectors), MemoryBanking(world)
    numbers = _flows(world)[:5]
    asked: dict[str, Any] = {
        "bank": None, "start": None, "end": None, "direction": "both",
        "min_amount": 100.0, "limit_per_account": 7,
    }  # fmt: skip
    rows = await banking.aggregate(numbers, **asked)
    assert rows == await double.aggregate(numbers, **asked)
    assert {r["account_number"] for r in rows} == set(numbers)
    assert all(sum(r["account_number"] == n for r in rows) <= 7 for n in numbers)


async def test_aggregate_splits_more_than_500_accounts_into_signed_calls(
    connectors: dict[str, Connector], world: World
) -> None:
    banking = _banking(connectors)
    numbers = [*_flows(world)[:3], *(_card(i) for i in range(600))]
    sent: list[str] = []
    post = banking.http.post

    async def counting(path: str, body: bytes, **kw: Any) -> Any:
        sent.append(path)
        return await post(path, body, **kw)

    banking.http.post = counting  # type: ignore[method-assign]
    rows = await banking.aggregate(
        numbers, bank=None, start=None, end=None, direction="out", min_amount=0.0,
        limit_per_account=3,
    )  # fmt: skip
    assert sent == ["/v1/transactions:aggregate"] * 2
    assert rows and {r["direction"] for r in rows} == {"out"}


async def test_aggregate_routed_to_the_wrong_bank_is_refused(
    connectors: dict[str, Connector], world: World
) -> None:
    banking = _banking(connectors)
    number = world.scenario["account_number"]
    other_bank = next(
        a["bank"] for a in world.accounts.values() if a["bank"] != world.accounts[number]["bank"]
    )
    for connector in (banking, MemoryBanking(world)):
        with pytest.raises(AgencyRejected) as refused:
            await connector.aggregate(
                [number], bank=other_bank, start=None, end=None, direction="out",
                min_amount=0.0, limit_per_account=3,
            )  # fmt: skip
        assert refused.value.status == 400


async def test_ledgers_are_read_into_the_ledger_model(
    connectors: dict[str, Connector], world: World
) -> None:
    banking = _banking(connectors)
    number = world.scenario["account_number"]
    days = sorted({tx["time"][:10] for tx in world.transactions_by_account[number]})
    rows = await banking.ledgers([number, _card(1)], start=days[2], end=days[-3], max_rows=1000)
    assert rows == [ledger_row(world, number, days[2], days[-3], 1000)]
    assert rows == await MemoryBanking(world).ledgers(
        [number, _card(1)], start=days[2], end=days[-3], max_rows=1000
    )
    ledger = Ledger.from_wire(rows[0])
    assert 0 < len(ledger) < len(world.transactions_by_account[number])
    assert not ledger.truncated


async def test_transactions_in_a_date_range(connectors: dict[str, Connector], world: World) -> None:
    banking = _banking(connectors)
    number = world.scenario["account_number"]
    days = sorted({tx["time"][:10] for tx in world.transactions_by_account[number]})
    start, end = days[3], days[-4]
    fields = frozenset({"time", "amount"})
    got = await banking.transactions([number], fields, start=start, end=end, limit_per_account=None)
    expected = {
        tx["id"] for tx in world.transactions_by_account[number] if start <= tx["time"][:10] <= end
    }
    assert {r.key for r in got[number]} == expected
    assert all(start <= r.data["time"][:10] <= end for r in got[number])
    double = await MemoryBanking(world).transactions(
        [number], fields, start=start, end=end, limit_per_account=None
    )
    assert {r.key for r in double[number]} == expected
