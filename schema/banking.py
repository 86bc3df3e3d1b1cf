"""Bank accounts, transactions and suspicious-transaction reports, from the banking system."""

from __future__ import annotations

import strawberry

from kernel.types import RequestContext
from schema.base import attr, entity, entity_key, link, record_data
from schema.loaders import loaders
from schema.paging import page_size
from schema.refs import Enterprise_, Person_
from schema.scalars import AccountNumber
from schema.signals import EVIDENCE, SIGNALS, SIGNALS_DOC, RiskSignal, risk_signals

Info = strawberry.Info[RequestContext, None]
MAX_TRANSACTIONS = 500


@entity(
    agency="banking",
    kind="transaction",
    key="id",
    refers=("counterparty_account",),
    part_of=("BankAccount", "account_number"),
)
class Transaction:
    id: str = attr("financial", 2, identity="Transaction")
    time: str | None = attr("financial", 2)
    amount: float | None = attr("financial", 3, mask="amount")
    direction: str | None = attr("financial", 2)
    channel: str | None = attr("financial", 2)
    counterparty: str | None = attr(  # a person's or an enterprise's name: decided as a person's
        "financial", 3, source="counterparty_name", mask="name", personal="person-name"
    )
    counterparty_account: str | None = attr("financial", 3, mask="account", identity="BankAccount")
    memo: str | None = attr("financial", 3)


@entity(agency="banking", kind="report", key="id", part_of=("BankAccount", "account_number"))
class SuspiciousReport:
    """A large-value or suspicious-transaction report (大额和可疑交易报告)."""

    id: str = attr("financial", 2, identity="SuspiciousReport")
    reported_on: str | None = attr("financial", 2)
    pattern: str | None = attr("financial", 2)
    amount: float | None = attr("financial", 3, mask="amount")
    reporting_bank: str | None = attr("financial", 2)
    status: str | None = attr("financial", 2)


@entity(agency="banking", kind="account", key="number", refers=("holder_id",))
class BankAccount:
    number: AccountNumber = attr("financial", 1, mask="account", identity="BankAccount")
    holder_id: str | None = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise"), stated_by="holder_type",
        personal="resident-id",
    )  # fmt: skip
    holder_name: str | None = attr("identity", 1, mask="name", personal="person-name")
    holder_type: str | None = attr("financial", 1)
    bank: str | None = attr("financial", 1)
    branch: str | None = attr("financial", 1)
    opened_on: str | None = attr("financial", 1)
    balance: float | None = attr("financial", 3, mask="amount")
    currency: str | None = attr("financial", 1)
    status: str | None = attr("financial", 1)

    @link("banking", "financial", 3, description="Newest first; `first` from 1 to 500.")
    async def transactions(self, info: Info, first: int = 50) -> list[Transaction] | None:
        limit = page_size(first, MAX_TRANSACTIONS)
        return await loaders(info).many("Transaction", "account_number", entity_key(self), limit)

    @link("banking", "financial", 3)
    async def suspicious_reports(self, info: Info) -> list[SuspiciousReport] | None:
        return await loaders(info).many("SuspiciousReport", "account_number", entity_key(self))

    @link("police", "identity", 1, requires=("holder_id", "holder_type"))
    async def holder_person(self, info: Info) -> Person_ | None:
        data = record_data(self)
        if data.get("holder_type") != "person" or not data.get("holder_id"):
            return None
        return await loaders(info).one("Person", data["holder_id"])

    @link("market", "registry", requires=("holder_id", "holder_type"))
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
    @link("banking", "financial", 1)
    async def bank_account(self, info: Info, number: AccountNumber) -> BankAccount | None:
        return await loaders(info).one("BankAccount", number)

    @link("banking", "financial", 1, description="Accounts by a list of numbers (at most 100).")
    async def bank_accounts(
        self, info: Info, numbers: list[AccountNumber]
    ) -> list[BankAccount] | None:
        return await loaders(info).lookup("BankAccount", numbers)
