"""What the banking system computes over its transactions, for its endpoints and for the
in-process double alike (sandbox/banking.py, sandbox/memory.py): the date range of a request
checked, a history cut to a range, and the per-counterparty aggregates of
``/v1/transactions:aggregate`` (docs/sandbox.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sandbox.tables import World

__all__ = ["DIRECTIONS", "RangeError", "aggregate", "check_range", "in_range", "not_of_bank"]

DIRECTIONS = ("in", "out", "both")


class RangeError(ValueError):
    """A bad date or range; the message says which (400 at the endpoints)."""


def check_day(value: Any, name: str) -> str | None:
    """An ISO date (``2026-05-01``) or None; anything else is refused."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RangeError(f"{name} must be an ISO date (YYYY-MM-DD)")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise RangeError(f"{name} must be an ISO date (YYYY-MM-DD), got {value[:20]!r}") from None
    if len(value) != 10:
        raise RangeError(f"{name} must be an ISO date (YYYY-MM-DD), got {value[:20]!r}")
    return day.isoformat()


def check_range(start: Any, end: Any) -> tuple[str | None, str | None]:
    """``from`` and ``to`` of a request, each an ISO date or None, ``from`` not after ``to``."""
    first, last = check_day(start, "from"), check_day(end, "to")
    if first is not None and last is not None and first > last:
        raise RangeError(f"from ({first}) is after to ({last})")
    return first, last


def in_range(
    history: Iterable[dict[str, Any]], start: str | None, end: str | None
) -> list[dict[str, Any]]:
    """The transactions of ``history`` on the days from ``start`` to ``end`` (inclusive, the
    transaction's local day: its time's date as the bank wrote it), in the same order."""
    if start is None and end is None:
        return list(history)
    low, high = start or "", end or "9999-12-31"
    return [tx for tx in history if low <= tx["time"][:10] <= high]


def not_of_bank(world: World, numbers: Sequence[str], bank: str) -> str | None:
    """The first of ``numbers`` that is not an account of ``bank`` (None: all are)."""
    for number in numbers:
        account = world.accounts.get(number)
        if account is None or account.get("bank") != bank:
            return number
    return None


def aggregate(
    world: World,
    numbers: Sequence[str],
    *,
    start: str | None,
    end: str | None,
    direction: str,
    min_amount: float,
    limit_per_account: int,
) -> list[dict[str, Any]]:
    """Per account, per counterparty and direction: the sum, count, first and last time of the
    transactions of at least ``min_amount`` in the range; the largest ``limit_per_account`` by
    sum per account (ties by counterparty, then direction). Cash (no counterparty) is left out.
    ``counterparty_bank``: the counterparty account's bank where the world knows it."""
    rows: list[dict[str, Any]] = []
    for number in numbers:
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for tx in in_range(world.transactions_by_account.get(number, ()), start, end):
            other = tx.get("counterparty_account")
            way = tx["direction"]
            if not other or tx["amount"] < min_amount or (direction != "both" and way != direction):
                continue
            row = groups.get((other, way))
            if row is None:  # the history is newest first: the first seen is the last made
                known = world.accounts.get(other)
                groups[(other, way)] = {
                    "account_number": number,
                    "counterparty_account": other,
                    "counterparty_name": tx.get("counterparty_name"),
                    "counterparty_bank": known["bank"] if known else None,
                    "direction": way,
                    "sum": tx["amount"],
                    "count": 1,
                    "first": tx["time"],
                    "last": tx["time"],
                }
            else:
                row["sum"] += tx["amount"]
                row["count"] += 1
                row["first"] = min(row["first"], tx["time"])
                row["last"] = max(row["last"], tx["time"])
        ranked = sorted(
            groups.values(),
            key=lambda r: (-r["sum"], r["counterparty_account"], r["direction"]),
        )
        for row in ranked[:limit_per_account]:
            row["sum"] = round(row["sum"], 2)
            rows.append(row)
    return rows
