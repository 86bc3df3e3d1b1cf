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


@embedded_type(
    agency="credit",
    doc="A loan as the credit report shows it (贷款记录).",
)
class Loan:
    """A loan as the report shows it; ``statusHistory``: 24 months, oldest first, ``N`` paid on
    time, ``1``-``7`` months overdue, ``/`` not yet opened."""

    loan_id: str | None = attr("credit", 2, doc="The loan's id in the credit reference system.")
    lender: str | None = attr("credit", 2, doc="The lending institution.")
    loan_type: str | None = attr("credit", 2, doc="The kind of loan (房贷, 经营贷 ...).")
    amount: float | None = attr(
        "credit", 2, mask="amount", doc="The amount lent, in yuan (may be masked)."
    )
    balance: float | None = attr(
        "credit", 2, mask="amount", doc="What is still owed, in yuan (may be masked)."
    )
    opened_on: str | None = attr("credit", 2, doc="The day it was granted (YYYY-MM-DD).")
    due_on: str | None = attr("credit", 2, doc="The day it falls due (YYYY-MM-DD).")
    classification: str | None = attr(
        "credit", 2, doc="The five-level classification: 正常, 关注, 次级, 可疑 or 损失."
    )  # 正常 关注 次级 可疑 损失
    overdue_amount: float | None = attr(
        "credit", 2, mask="amount", doc="The amount overdue, in yuan (may be masked)."
    )
    overdue_since: str | None = attr(
        "credit", 2, doc="The day it became overdue (YYYY-MM-DD); null if not overdue."
    )
    status_history: str | None = attr(
        "credit",
        2,
        doc="24 months, oldest first, one character a month: `N` paid on time, `1`-`7` months"
        " overdue, `/` not yet opened.",
    )


@embedded_type(
    agency="credit",
    doc="A guarantee of a loan: given to the borrower, or received from the guarantor.",
)
class Guarantee:
    """A guarantee of a loan: given to the borrower, or received from the guarantor."""

    party_id: str | None = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise"), stated_by="party_type",
        personal="resident-id",
        doc="The other party (the borrower of a guarantee given, the guarantor of one received):"
        " resident ID number or USCC (may be masked).",
    )  # fmt: skip
    party_name: str | None = attr(
        "credit", 2, mask="name", personal="person-name",
        doc="The other party's name (may be masked).",
    )  # fmt: skip
    party_type: str | None = attr(
        "credit", 2, doc="Whether the other party is a `person` or an `enterprise`."
    )
    loan_id: str | None = attr("credit", 2, doc="The guaranteed loan's id (as `Loan.loanId`).")
    amount: float | None = attr(
        "credit", 2, mask="amount", doc="The amount guaranteed, in yuan (may be masked)."
    )
    since: str | None = attr("credit", 2, doc="The day the guarantee began (YYYY-MM-DD).")


@embedded_type(agency="credit", doc="An institution's query of the report (查询记录).")
class CreditQuery:
    """An institution's query of the report (查询记录)."""

    institution: str | None = attr("credit", 3, doc="The institution that queried the report.")
    queried_on: str | None = attr("credit", 3, doc="The day of the query (YYYY-MM-DD).")
    reason: str | None = attr(
        "credit", 3, doc="Why it queried (贷款审批, 贷后管理, 担保资格审查 ...)."
    )


@entity(
    agency="credit",
    kind="credit_report",
    key="party_id",
    refers=("guarantees_given.party_id", "guarantees_received.party_id"),
    doc="A credit report (征信报告) from the credit reference system, keyed by the party's"
    " resident ID number or USCC.",
)
class CreditReport:
    party_id: str = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise"), stated_by="party_type",
        personal="resident-id",
        doc="The party's resident ID number or USCC (may be masked).",
    )  # fmt: skip
    party_type: str | None = attr(
        "credit", 2, doc="Whether the party is a `person` or an `enterprise`."
    )
    name: str | None = attr(
        "credit", 2, mask="name", personal="person-name", doc="The party's name (may be masked)."
    )
    report_date: str | None = attr("credit", 2, doc="The day of the report (YYYY-MM-DD).")
    total_balance: float | None = attr(
        "credit", 2, mask="amount", doc="What all the loans still owe, in yuan (may be masked)."
    )
    overdue_amount: float | None = attr(
        "credit", 2, mask="amount", doc="What all the loans have overdue, in yuan (may be masked)."
    )
    worst_class: str | None = attr(
        "credit", 2, doc="The worst classification of any loan (正常 ... 损失); null if no loans."
    )
    loans: list[Loan] | None = embedded("credit", 2, doc="The loans, oldest first.")
    guarantees_given: list[Guarantee] | None = embedded(
        "credit", 2, doc="Guarantees the party gave for others' loans."
    )
    guarantees_received: list[Guarantee] | None = embedded(
        "credit", 2, doc="Guarantees others gave for the party's loans."
    )
    queries: list[CreditQuery] | None = embedded(
        "credit", 3, doc="Institutions' queries of the report, newest first."
    )
