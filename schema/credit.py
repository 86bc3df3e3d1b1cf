"""Credit reports (征信报告) from the credit reference system: loans, guarantees given and
received, queries by institutions, and the report's summary values.

Credit data is its own category (``credit``), decided by policies/45-credit.cedar. A
guarantee's counterparty is a person or an enterprise: its identifier and name are decided as
``Person.idNumber`` and ``Person.name`` wherever they appear (docs/policies.md, data
categories). Reached through ``Enterprise.creditReport`` and ``Person.creditReport``; in a
joint team's request a subject's own report is in the case's scope, and so is a report whose
guarantees name a subject (``refers``).
"""

from __future__ import annotations

from schema.base import attr, embedded, embedded_type, entity


@embedded_type(agency="credit")
class Loan:
    """A loan as the report shows it; ``statusHistory``: 24 months, oldest first, ``N`` paid on
    time, ``1``-``7`` months overdue, ``/`` not yet opened."""

    loan_id: str | None = attr("credit", 2)
    lender: str | None = attr("credit", 2)
    loan_type: str | None = attr("credit", 2)
    amount: float | None = attr("credit", 2, mask="amount")
    balance: float | None = attr("credit", 2, mask="amount")
    opened_on: str | None = attr("credit", 2)
    due_on: str | None = attr("credit", 2)
    classification: str | None = attr("credit", 2)  # 正常 关注 次级 可疑 损失
    overdue_amount: float | None = attr("credit", 2, mask="amount")
    overdue_since: str | None = attr("credit", 2)
    status_history: str | None = attr("credit", 2)


@embedded_type(agency="credit")
class Guarantee:
    """A guarantee of a loan: given to the borrower, or received from the guarantor."""

    party_id: str | None = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise"), stated_by="party_type",
        personal="resident-id",
    )  # fmt: skip
    party_name: str | None = attr("credit", 2, mask="name", personal="person-name")
    party_type: str | None = attr("credit", 2)
    loan_id: str | None = attr("credit", 2)
    amount: float | None = attr("credit", 2, mask="amount")
    since: str | None = attr("credit", 2)


@embedded_type(agency="credit")
class CreditQuery:
    """An institution's query of the report (查询记录)."""

    institution: str | None = attr("credit", 3)
    queried_on: str | None = attr("credit", 3)
    reason: str | None = attr("credit", 3)


@entity(
    agency="credit",
    kind="credit_report",
    key="party_id",
    refers=("guarantees_given.party_id", "guarantees_received.party_id"),
)
class CreditReport:
    party_id: str = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise"), stated_by="party_type",
        personal="resident-id",
    )  # fmt: skip
    party_type: str | None = attr("credit", 2)
    name: str | None = attr("credit", 2, mask="name", personal="person-name")
    report_date: str | None = attr("credit", 2)
    total_balance: float | None = attr("credit", 2, mask="amount")
    overdue_amount: float | None = attr("credit", 2, mask="amount")
    worst_class: str | None = attr("credit", 2)
    loans: list[Loan] | None = embedded("credit", 2)
    guarantees_given: list[Guarantee] | None = embedded("credit", 2)
    guarantees_received: list[Guarantee] | None = embedded("credit", 2)
    queries: list[CreditQuery] | None = embedded("credit", 3)
