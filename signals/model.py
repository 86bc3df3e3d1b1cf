"""The vocabulary of risk signals and fund tracing (issue 19), shared by every floor.

A *signal* is a fact the sources say together about an enterprise, a person or a bank account:
a listing, a judgment-defaulter entry, a police case, a flow pattern in its transactions, a
credit event. Each has a :class:`SignalKind`, a :class:`Severity`, the period it covers and its
*evidence*: references to the records it rests on, each named by the GraphQL field through
which the caller would read it directly (``Enterprise.abnormalOperations``). The gateway shows a
signal only when the caller may read all of its evidence (docs/signals.md).

A :class:`Ledger` is one account's transactions in columns, as the banking system exports them
(``/v1/transactions:columns``, docs/sandbox.md); the flow detectors (``signals/flows.py``) read
nothing else. Nothing here reads a clock, a store or the network.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CREDIT_KINDS",
    "FLOW_KINDS",
    "Evidence",
    "Ledger",
    "Measure",
    "Severity",
    "Signal",
    "SignalKind",
]


class SignalKind(enum.StrEnum):
    # the market regulator's records (Enterprise)
    ABNORMAL_LISTING = "ABNORMAL_LISTING"  # 经营异常名录, still listed
    SERIOUS_VIOLATION = "SERIOUS_VIOLATION"  # 严重违法失信名单 (the blacklist)
    KEYWORD_SCOPE = "KEYWORD_SCOPE"  # business scope naming investment, wealth management...
    # the courts' records
    JUDGMENT_DEFAULTER = "JUDGMENT_DEFAULTER"  # 失信被执行人
    OUTSTANDING_ENFORCEMENT = "OUTSTANDING_ENFORCEMENT"  # enforcement not concluded
    # the police's records
    POLICE_CASE = "POLICE_CASE"  # named as suspect or suspect enterprise in a police case
    # the banks' own reports
    SUSPICIOUS_REPORT = "SUSPICIOUS_REPORT"  # 大额和可疑交易报告 filed on the account
    # flow patterns, computed from transactions (signals/flows.py)
    SCATTERED_IN_CONCENTRATED_OUT = "SCATTERED_IN_CONCENTRATED_OUT"  # 分散转入、集中转出
    REGULAR_SMALL_BATCHES_OUT = "REGULAR_SMALL_BATCHES_OUT"  # 定期批量小额转出
    FUND_POOLING = "FUND_POOLING"  # 资金归集: collector accounts feeding one pool
    RAPID_PASS_THROUGH = "RAPID_PASS_THROUGH"  # noqa: S105 快进快出: layering through the account
    # the credit reference system (征信)
    GUARANTEE_CHAIN = "GUARANTEE_CHAIN"  # 担保链: guarantees running through several parties
    SUDDEN_OVERDUE = "SUDDEN_OVERDUE"  # overdue after a clean history
    BORROWING_BEFORE_FUNDRAISING = "BORROWING_BEFORE_FUNDRAISING"  # heavy new loans before inflows


FLOW_KINDS = frozenset(
    {
        SignalKind.SCATTERED_IN_CONCENTRATED_OUT,
        SignalKind.REGULAR_SMALL_BATCHES_OUT,
        SignalKind.FUND_POOLING,
        SignalKind.RAPID_PASS_THROUGH,
    }
)
CREDIT_KINDS = frozenset(
    {
        SignalKind.GUARANTEE_CHAIN,
        SignalKind.SUDDEN_OVERDUE,
        SignalKind.BORROWING_BEFORE_FUNDRAISING,
    }
)


class Severity(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One record a signal rests on: its GraphQL type and key, and the field through which the
    caller reads it directly (``"Enterprise.policeCases"``); ``note`` says what in it counts
    (``"listed 2025-06-01"``)."""

    type_name: str
    key: str
    field: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Measure:
    """A number behind a signal (``distinct_senders``, ``in_total``); ``amount``: it is money,
    shown masked when the caller sees amounts masked."""

    name: str
    value: float
    amount: bool = False


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal about one subject (the key of the enterprise, person or account)."""

    kind: SignalKind
    severity: Severity
    subject: str
    period_from: str | None  # ISO date, None: open
    period_to: str | None
    evidence: tuple[Evidence, ...]
    measures: tuple[Measure, ...] = ()
    summary: str = ""


@dataclass(slots=True)
class Ledger:
    """One account's transactions in columns, oldest first (the order the detectors need).

    ``time``: unix seconds; ``out``: True for money leaving the account; ``counterparty``: the
    other account's number (None: cash); ``counterparty_bank``: its bank's name where the bank
    knows it. ``truncated``: the export stopped at its row cap, so the ledger is a prefix of
    the period asked for.
    """

    account: str
    time: list[int] = field(default_factory=list)
    amount: list[float] = field(default_factory=list)
    out: list[bool] = field(default_factory=list)
    counterparty: list[str | None] = field(default_factory=list)
    counterparty_bank: list[str | None] = field(default_factory=list)
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.time)

    @classmethod
    def from_wire(cls, row: Mapping[str, Any]) -> Ledger:
        """A ledger from one entry of ``/v1/transactions:columns``' ``ledgers`` list::

            {"account_number": "...", "time": [int], "amount": [float], "out": [bool],
             "counterparty_account": [str | null], "counterparty_bank": [str | null],
             "truncated": bool}

        Columns of unequal length are refused (ValueError)."""
        columns: Sequence[Sequence[Any]] = (
            row["time"],
            row["amount"],
            row["out"],
            row["counterparty_account"],
            row["counterparty_bank"],
        )
        if len({len(c) for c in columns}) > 1:
            raise ValueError("ledger columns differ in length")
        return cls(
            str(row["account_number"]),
            list(row["time"]),
            list(row["amount"]),
            list(row["out"]),
            list(row["counterparty_account"]),
            list(row["counterparty_bank"]),
            bool(row.get("truncated", False)),
        )
