"""The synthetic world served in process through the connector test double (no HTTP).

For benchmarks and tests that measure or exercise the gateway alone: the same records the
sandbox services serve, behind ``connectors.memory.MemoryConnector`` with the real connectors'
lookups.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.banking import BankingConnector
from connectors.base import Grouped
from connectors.courts import CourtsConnector
from connectors.credit import CreditConnector
from connectors.errors import AgencyRejected, AgencyUnavailable
from connectors.market import MarketConnector
from connectors.memory import MemoryConnector
from connectors.police import PoliceConnector
from sandbox.flows import RangeError, aggregate, check_range, in_range, not_of_bank
from sandbox.ledgers import ledger_row
from sandbox.world import World


class MemoryBanking(MemoryConnector):
    """The banking double: the record lookups of :class:`MemoryConnector` and what the banking
    system computes (``connectors.banking.FundFlows``), over the same world and by the same
    code as its endpoints (sandbox/flows.py). Each call is recorded in ``calls`` as
    ``(what, bank or "", accounts, fields)``."""

    def __init__(self, world: World) -> None:
        super().__init__(
            "banking", BankingConnector.lookups,
            {"account": list(world.accounts.values()),
             "transaction": list(world.transactions.values()),
             "report": list(world.reports.values())},
        )  # fmt: skip
        self.world = world

    def _called(self, what: str, bank: str | None, numbers: Sequence[str]) -> None:
        self.calls.append((what, bank or "", len(numbers), frozenset()))
        if self.down:
            raise AgencyUnavailable(self.agency, "down (test switch)")

    async def aggregate(
        self,
        numbers: Sequence[str],
        *,
        bank: str | None,
        start: str | None,
        end: str | None,
        direction: str,
        min_amount: float,
        limit_per_account: int,
    ) -> list[dict[str, Any]]:
        self._called("aggregate", bank, numbers)
        _checked(start, end)
        stray = None if bank is None else not_of_bank(self.world, numbers, bank)
        if stray is not None:
            raise AgencyRejected(self.agency, f"account {stray} is not an account of {bank}", 400)
        return aggregate(
            self.world, list(dict.fromkeys(numbers)), start=start, end=end, direction=direction,
            min_amount=min_amount, limit_per_account=limit_per_account,
        )  # fmt: skip

    async def ledgers(
        self, numbers: Sequence[str], *, start: str | None, end: str | None, max_rows: int
    ) -> list[dict[str, Any]]:
        self._called("ledgers", None, numbers)
        _checked(start, end)
        known = [n for n in dict.fromkeys(numbers) if n in self.world.accounts]
        return [ledger_row(self.world, n, start, end, max_rows) for n in known]

    async def transactions(
        self,
        numbers: Sequence[str],
        fields: frozenset[str],
        *,
        start: str | None,
        end: str | None,
        limit_per_account: int | None,
    ) -> Grouped:
        _checked(start, end)
        grouped = await self.fetch_many("transaction", "account_number", numbers, fields)
        history = self.world.transactions_by_account
        out: Grouped = {}
        for number, records in grouped.items():
            days = {tx["id"] for tx in in_range(history.get(number, ()), start, end)}
            kept = [r for r in records if r.key in days]
            out[number] = kept if limit_per_account is None else kept[:limit_per_account]
        return out


def _checked(start: str | None, end: str | None) -> None:
    try:
        check_range(start, end)
    except RangeError as exc:
        raise AgencyRejected("banking", str(exc), 400) from None


def memory_connectors(world: World) -> dict[str, MemoryConnector]:
    court_cases = [
        {**case, "party_ids": [p["party_id"] for p in case.get("parties") or ()]}
        for case in world.court_cases.values()
    ]
    defaulters: list[dict[str, Any]] = [
        {"party_id": party, **entry, "handling_code": "H0", "sensitivity": 0, "linked_cases": []}
        for party, entry in world.defaulters.items()
    ]
    return {
        "police": MemoryConnector(
            "police", PoliceConnector.lookups,
            {"person": list(world.persons.values()), "case": list(world.police_cases.values())},
        ),
        "market": MemoryConnector(
            "market", MarketConnector.lookups, {"enterprise": list(world.enterprises.values())}
        ),
        "banking": MemoryBanking(world),
        "courts": MemoryConnector(
            "courts", CourtsConnector.lookups, {"court_case": court_cases, "defaulter": defaulters}
        ),
        "credit": MemoryConnector(
            "credit", CreditConnector.lookups, {"credit_report": list(world.credit.values())}
        ),
    }  # fmt: skip
