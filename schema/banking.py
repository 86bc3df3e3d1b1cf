"""Bank accounts, transactions and suspicious-transaction reports, from the banking system."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import strawberry

from connectors.banking import FundFlows
from connectors.errors import AgencyRejected
from kernel.types import BuildRules, RequestContext
from schema.base import attr, build, embedded_type, entity, entity_key, link, record_data
from schema.loaders import Lookups, Window, loaders
from schema.paging import InvalidArgument, page_size
from schema.refs import Enterprise_, Person_
from schema.scalars import AccountNumber, Date
from schema.scope import rules_of
from schema.signals import EVIDENCE, SIGNALS, SIGNALS_DOC, RiskSignal, risk_signals

Info = strawberry.Info[RequestContext, None]
MAX_TRANSACTIONS = 500
MAX_COUNTERPARTIES = 500  # per account, what /v1/transactions:aggregate returns at most
From = Annotated[
    Date | None,
    strawberry.argument(name="from", description="The first day (YYYY-MM-DD), inclusive."),
]
To = Annotated[
    Date | None, strawberry.argument(description="The last day (YYYY-MM-DD), inclusive.")
]


@strawberry.enum(description="Which money: coming into an account, leaving it, or both.")
class FlowDirection(enum.Enum):
    """Which money: coming into an account, leaving it, or both."""

    IN = "in"
    OUT = "out"
    BOTH = "both"


def window(start: str | None, end: str | None) -> Window:
    """A date range from the arguments ``from`` and ``to`` (each checked by the Date scalar);
    ``from`` after ``to`` is refused (BAD_USER_INPUT)."""
    if start is not None and end is not None and start > end:
        raise InvalidArgument("from", "must not be after to")
    return (start, end)


MAX_AMOUNT = 1e15  # CNY: far above any real sum, below where floats lose whole yuan


def amount_at_least(value: float, argument: str = "minAmount") -> float:
    if not math.isfinite(value) or not 0 <= value <= MAX_AMOUNT:
        raise InvalidArgument(argument, "must be a number from 0 to 10^15 (CNY)")
    return value


def rules_for(info: Info, source: object) -> Mapping[str, BuildRules]:
    """The build rules of what hangs off ``source``: in a team's request, those without the
    team for a record outside its scope (schema/scope.py), else the plan's."""
    plan = info.context.plan
    assert plan is not None
    return rules_of(plan, source)


async def counterparty_rows(
    lookups: Lookups,
    numbers: Sequence[str],
    *,
    bank: str | None,
    dates: Window,
    direction: FlowDirection,
    min_amount: float,
    limit: int,
) -> list[dict[str, Any]]:
    """The banking system's per-counterparty aggregates of ``numbers`` (one signed call per
    500 accounts, recorded in the audit record as every agency call is)."""
    connector = lookups.loaders.connector("banking")
    if not isinstance(connector, FundFlows):
        raise AgencyRejected("banking", "this banking connector has no aggregates", 501)
    start, end = dates
    call = connector.aggregate(
        numbers, bank=bank, start=start, end=end, direction=direction.value,
        min_amount=min_amount, limit_per_account=limit,
    )  # fmt: skip
    rows: list[dict[str, Any]] = await lookups.loaders.call(
        "banking", "aggregate transaction", len(numbers), call
    )
    return rows


@entity(
    agency="banking",
    kind="transaction",
    key="id",
    refers=("counterparty_account",),
    part_of=("BankAccount", "account_number"),
    doc="A transaction on an account (交易流水).",
)
class Transaction:
    id: str = attr("financial", 2, identity="Transaction", doc="The transaction's id.")
    time: str | None = attr("financial", 2, doc="When it was booked (ISO 8601).")
    amount: float | None = attr(
        "financial", 3, mask="amount", doc="The amount, in the account's currency (may be masked)."
    )
    direction: str | None = attr(
        "financial", 2, doc="`in`: money came into the account; `out`: it left."
    )
    channel: str | None = attr(
        "financial", 2, doc="How it was made (counter, online, ATM, cash ...)."
    )
    counterparty_name: str | None = attr(  # a person's or an enterprise's name: as a person's
        "financial", 3, mask="name", personal="person-name",
        doc="The counterparty's name (may be masked).",
    )  # fmt: skip
    counterparty_account: str | None = attr(
        "financial",
        3,
        mask="account",
        identity="BankAccount",
        doc="The counterparty's account number (may be masked).",
    )
    memo: str | None = attr("financial", 3, doc="The payer's note.")

    @link(
        "banking", "financial", 3, requires=("counterparty_account",),
        description="The counterparty's account, where it is one of the banking system's"
        " (null for cash, an account outside it, or one not available to you).",
    )  # fmt: skip
    async def counterparty(self, info: Info) -> BankAccount | None:
        return await _account(info, record_data(self).get("counterparty_account"))


async def _account(info: Info, number: Any) -> BankAccount | None:
    """The account of that number through the loaders, or None (none, or not shown)."""
    if not isinstance(number, str) or not number:
        return None
    found = await loaders(info).each("BankAccount", [number])
    return found[0] if found else None


@embedded_type(
    agency="banking",
    doc="What one account exchanged with one counterparty in one direction over a date range.",
)
class CounterpartyFlow:
    """What one account exchanged with one counterparty in one direction over a date range."""

    counterparty_account: str | None = attr(
        "financial",
        3,
        mask="account",
        identity="BankAccount",
        doc="The counterparty's account number (may be masked).",
    )
    counterparty_name: str | None = attr(
        "financial",
        3,
        mask="name",
        personal="person-name",
        doc="The counterparty's name (may be masked).",
    )
    counterparty_bank: str | None = attr("financial", 2, doc="The counterparty's bank.")
    direction: str | None = attr(
        "financial", 2, doc="`in`: the counterparty paid the account; `out`: it was paid."
    )  # in: the counterparty paid; out: was paid
    sum: float | None = attr(
        "financial", 3, mask="amount", doc="The sum of the transactions (may be masked)."
    )
    count: int | None = attr("financial", 2, doc="How many transactions.")
    first: str | None = attr(
        "financial", 2, doc="The first transaction's time."
    )  # the first transaction's time
    last: str | None = attr("financial", 2, doc="The last transaction's time.")

    @link("banking", "financial", 3, description="The counterparty's account, as Transaction's.")
    async def counterparty(self, info: Info) -> BankAccount | None:
        return await _account(info, record_data(self).get("counterparty_account"))


@entity(
    agency="banking",
    kind="report",
    key="id",
    part_of=("BankAccount", "account_number"),
    doc="A large-value or suspicious-transaction report (大额和可疑交易报告).",
)
class SuspiciousReport:
    """A large-value or suspicious-transaction report (大额和可疑交易报告)."""

    id: str = attr("financial", 2, identity="SuspiciousReport", doc="The report's id.")
    reported_on: str | None = attr("financial", 2, doc="The day it was reported (YYYY-MM-DD).")
    pattern: str | None = attr("financial", 2, doc="The pattern the bank saw.")
    amount: float | None = attr(
        "financial", 3, mask="amount", doc="The amount involved (may be masked)."
    )
    reporting_bank: str | None = attr("financial", 2, doc="The bank that reported it.")
    status: str | None = attr("financial", 2, doc="The report's status.")


@entity(
    agency="banking",
    kind="account",
    key="number",
    refers=("holder_id",),
    doc="A bank account (银行账户), keyed by its number.",
)
class BankAccount:
    number: AccountNumber = attr(
        "financial", 1, mask="account", identity="BankAccount",
        doc="The account number (may be masked).",
    )  # fmt: skip
    holder_id: str | None = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise"), stated_by="holder_type",
        personal="resident-id", doc="The holder's resident ID number or USCC (may be masked).",
    )  # fmt: skip
    holder_name: str | None = attr(
        "identity", 1, mask="name", personal="person-name",
        doc="The holder's name (may be masked).",
    )  # fmt: skip
    holder_type: str | None = attr(
        "financial", 1, doc="Whether the holder is a `person` or an `enterprise`."
    )
    bank: str | None = attr("financial", 1, doc="The bank that keeps the account.")
    branch: str | None = attr("financial", 1, doc="The branch where it was opened.")
    opened_on: str | None = attr("financial", 1, doc="The day it was opened (YYYY-MM-DD).")
    balance: float | None = attr(
        "financial",
        3,
        mask="amount",
        doc="The current balance, in the account's currency (may be masked).",
    )
    currency: str | None = attr("financial", 1, doc="The currency code (CNY ...).")
    status: str | None = attr("financial", 1, doc="The account's status (正常, 冻结, 销户 ...).")

    @link(
        "banking", "financial", 3,
        description="Newest first; `first` from 1 to 500; `from` and `to`: the days (inclusive).",
    )  # fmt: skip
    async def transactions(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="How many, 1 to 500.")] = 50,
        from_: From = None,
        to: To = None,
    ) -> list[Transaction] | None:
        limit = page_size(first, MAX_TRANSACTIONS)
        dates = window(from_, to)
        return await loaders(info).many(
            "Transaction", "account_number", entity_key(self), limit,
            None if dates == (None, None) else dates,
        )  # fmt: skip

    @link(
        "banking", "financial", 3,
        description="Per counterparty and direction, what the account exchanged from `from` to"
        " `to` in transactions of at least `minAmount`: the largest `first` (1 to 500) by sum;"
        " cash is left out.",
    )  # fmt: skip
    async def counterparties(
        self,
        info: Info,
        from_: From = None,
        to: To = None,
        direction: Annotated[
            FlowDirection,
            strawberry.argument(description="Money in, out, or both (the default)."),
        ] = FlowDirection.BOTH,
        min_amount: Annotated[
            float, strawberry.argument(description="The least amount of a transaction counted.")
        ] = 0.0,
        first: Annotated[
            int, strawberry.argument(description="How many counterparties, 1 to 500.")
        ] = 20,
    ) -> list[CounterpartyFlow] | None:
        limit = page_size(first, MAX_COUNTERPARTIES)
        dates, least = window(from_, to), amount_at_least(min_amount)
        lookups = loaders(info)

        async def fetch(numbers: list[str]) -> list[list[dict[str, Any]]]:
            rows = await counterparty_rows(
                lookups, numbers, bank=None, dates=dates, direction=direction,
                min_amount=least, limit=limit,
            )  # fmt: skip
            by_account: dict[str, list[dict[str, Any]]] = {n: [] for n in numbers}
            for row in rows:
                by_account.setdefault(row["account_number"], []).append(row)
            return [by_account[n] for n in numbers]

        batch = lookups.loaders.batch(("counterparties", dates, direction, least, limit), fetch)
        rules = rules_for(info, self)
        return [build(CounterpartyFlow, row, rules) for row in await batch.load(entity_key(self))]

    @link("banking", "financial", 3, description="Suspicious-transaction reports on the account.")
    async def suspicious_reports(self, info: Info) -> list[SuspiciousReport] | None:
        return await loaders(info).many("SuspiciousReport", "account_number", entity_key(self))

    @link(
        "police",
        "identity",
        1,
        requires=("holder_id", "holder_type"),
        description="The holder, when a person.",
    )
    async def holder_person(self, info: Info) -> Person_ | None:
        data = record_data(self)
        if data.get("holder_type") != "person" or not data.get("holder_id"):
            return None
        return await loaders(info).one("Person", data["holder_id"])

    @link(
        "market",
        "registry",
        requires=("holder_id", "holder_type"),
        description="The holder, when an enterprise.",
    )
    async def holder_enterprise(self, info: Info) -> Enterprise_ | None:
        data = record_data(self)
        if data.get("holder_type") != "enterprise" or not data.get("holder_id"):
            return None
        return await loaders(info).one("Enterprise", data["holder_id"])

    @link(SIGNALS, "registry", evidence=EVIDENCE["BankAccount"], description=SIGNALS_DOC)
    async def risk_signals(self, info: Info) -> list[RiskSignal] | None:
        return await risk_signals(self, info, "BankAccount")


@strawberry.type
class BankingQuery:
    @link("banking", "financial", 1, description="The account with this number, or null.")
    async def bank_account(
        self,
        info: Info,
        number: Annotated[AccountNumber, strawberry.argument(description="The account number.")],
    ) -> BankAccount | None:
        return await loaders(info).one("BankAccount", number)

    @link("banking", "financial", 1, description="Accounts by a list of numbers (at most 100).")
    async def bank_accounts(
        self,
        info: Info,
        numbers: Annotated[
            list[AccountNumber], strawberry.argument(description="The account numbers.")
        ],
    ) -> list[BankAccount] | None:
        return await loaders(info).lookup("BankAccount", numbers)
