"""One account's transactions in columns, as the banking system exports them
(``/v1/transactions:columns``) and as the signal tests read the world directly: the wire form of
:class:`signals.model.Ledger`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.flows import in_range
from sandbox.tables import World

__all__ = ["ledger_row"]


def ledger_row(
    world: World,
    number: str,
    start: str | None = None,
    end: str | None = None,
    max_rows: int = 200_000,
) -> dict[str, Any]:
    """The columns of ``number``'s transactions from day ``start`` to day ``end`` (ISO dates,
    inclusive, the account's local day; None: open), oldest first, at most ``max_rows`` (the
    newest ones: the flow patterns look back from the newest; ``truncated`` then says so)."""
    history = world.transactions_by_account.get(number, ())  # newest first
    times: list[int] = []
    amounts: list[float] = []
    outs: list[bool] = []
    parties: list[str | None] = []
    banks: list[str | None] = []
    truncated = False
    for tx in in_range(history, start, end):
        if len(times) >= max_rows:
            truncated = True
            break
        other = tx["counterparty_account"]
        times.append(int(dt.datetime.fromisoformat(tx["time"]).timestamp()))
        amounts.append(tx["amount"])
        outs.append(tx["direction"] == "out")
        parties.append(other)
        known = world.accounts.get(other) if other else None
        banks.append(known["bank"] if known else None)
    for column in (times, amounts, outs, parties, banks):
        column.reverse()
    return {
        "account_number": number,
        "time": times,
        "amount": amounts,
        "out": outs,
        "counterparty_account": parties,
        "counterparty_bank": banks,
        "truncated": truncated,
    }
