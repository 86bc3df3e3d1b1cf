"""Signals from credit reports (征信): sudden overdue, heavy borrowing before a fundraising
campaign, guarantee chains. Pure functions over the records the credit connector returns
(``connectors/credit.py``: dicts with ``party_id``, ``party_type``, ``report_date``, ``loans``,
``guarantees_given``, ``guarantees_received``) and :class:`~signals.settings.SignalSettings`;
nothing here reads a clock, a store or the network. Each signal's evidence is the credit
reports it rests on, read through ``Enterprise.creditReport`` or ``Person.creditReport``
(docs/signals.md, "Credit reference signals").
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from kernel.identifiers import InvalidIdentifier, check_resident_id
from signals.model import Evidence, Measure, Severity, Signal, SignalKind
from signals.settings import SignalSettings

__all__ = [
    "borrowing_before",
    "chain_parties",
    "evidence_field",
    "guarantee_chain",
    "sudden_overdue",
]

Report = Mapping[str, Any]
_SERIOUS = frozenset({"次级", "可疑", "损失"})  # overdue more than three months
_MAX_CHAIN = 30  # the longest chain looked for: a bound on the search, far above any real one


def evidence_field(report_or_party: Report | str) -> str:
    """``Person.creditReport`` or ``Enterprise.creditReport``: where the caller reads the
    report of this party (by its ``party_type``, else by the form of its identifier)."""
    if not isinstance(report_or_party, str):
        said = report_or_party.get("party_type")
        if said in ("person", "enterprise"):
            return "Person.creditReport" if said == "person" else "Enterprise.creditReport"
        report_or_party = str(report_or_party.get("party_id", ""))
    try:
        check_resident_id(report_or_party)
    except InvalidIdentifier:
        return "Enterprise.creditReport"
    return "Person.creditReport"


def _evidence(report: Report, note: str) -> Evidence:
    party = str(report["party_id"])
    return Evidence("CreditReport", party, evidence_field(report), note)


def _overdue_run(history: str) -> tuple[int, int]:
    """(months overdue now, months paid on time just before) of a repayment history, oldest
    first: the trailing run of ``1``-``7`` and the run of ``N`` before it."""
    end = len(history)
    start = end
    while start > 0 and history[start - 1] in "1234567":
        start -= 1
    clean = start
    while clean > 0 and history[clean - 1] == "N":
        clean -= 1
    return end - start, start - clean


def sudden_overdue(report: Report, settings: SignalSettings) -> Signal | None:
    """A loan overdue now after at least ``overdue_clean_months`` months paid on time just
    before (not one overdue almost from the start): one signal for the report, on the loans
    that fell overdue this way."""
    hits: list[tuple[Report, int, int]] = []
    for loan in report.get("loans") or ():
        history = str(loan.get("status_history") or "")
        overdue, clean = _overdue_run(history)
        if overdue and clean >= settings.overdue_clean_months:
            hits.append((loan, overdue, clean))
    if not hits:
        return None
    amount = sum(float(loan.get("overdue_amount") or 0.0) for loan, _, _ in hits)
    since = min((str(loan.get("overdue_since") or "") for loan, _, _ in hits), default="")
    worst = max(overdue for _, overdue, _ in hits)
    serious = worst > 3 or any(loan.get("classification") in _SERIOUS for loan, _, _ in hits)
    notes = "; ".join(
        f"loan {loan.get('loan_id')}: {overdue} month(s) overdue after {clean} paid on time"
        for loan, overdue, clean in hits
    )
    return Signal(
        SignalKind.SUDDEN_OVERDUE,
        Severity.HIGH if serious else Severity.MEDIUM,
        str(report["party_id"]),
        since or None,
        report.get("report_date"),
        (_evidence(report, notes),),
        (
            Measure("loans", float(len(hits))),
            Measure("months_overdue", float(worst)),
            Measure("overdue_amount", amount, amount=True),
        ),
        f"{len(hits)} loan(s) overdue after a clean repayment history",
    )


def borrowing_before(
    report: Report, first_inflow_day: str | None, settings: SignalSettings
) -> Signal | None:
    """New loans opened in the ``borrowing_before_days`` before ``first_inflow_day`` (an ISO
    date: when the subject's fundraising inflows start, as the caller found them; None: no
    fundraising, no signal) adding up to at least ``borrowing_min_amount``."""
    if not first_inflow_day:
        return None
    end = dt.date.fromisoformat(first_inflow_day)
    start = end - dt.timedelta(days=settings.borrowing_before_days)
    new = [
        loan
        for loan in report.get("loans") or ()
        if loan.get("opened_on") and start.isoformat() <= str(loan["opened_on"]) < end.isoformat()
    ]
    total = sum(float(loan.get("amount") or 0.0) for loan in new)
    if not new or total < settings.borrowing_min_amount:
        return None
    note = (
        f"{len(new)} loan(s) opened {start.isoformat()} to {first_inflow_day}, before the"
        f" fundraising inflows: " + ", ".join(str(loan.get("loan_id")) for loan in new)
    )
    return Signal(
        SignalKind.BORROWING_BEFORE_FUNDRAISING,
        Severity.HIGH if total >= 2 * settings.borrowing_min_amount else Severity.MEDIUM,
        str(report["party_id"]),
        start.isoformat(),
        first_inflow_day,
        (_evidence(report, note),),
        (Measure("new_loans", float(len(new))), Measure("new_borrowing", total, amount=True)),
        f"{len(new)} new loan(s) in the {settings.borrowing_before_days} days before fundraising",
    )


def _edges(reports: Iterable[Report]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Guarantor -> borrowers and borrower -> guarantors, from both sides of every guarantee
    the reports show."""
    forward: dict[str, set[str]] = {}
    backward: dict[str, set[str]] = {}
    for report in reports:
        party = str(report.get("party_id"))
        for given in report.get("guarantees_given") or ():
            other = given.get("party_id")
            if other:
                forward.setdefault(party, set()).add(str(other))
                backward.setdefault(str(other), set()).add(party)
        for received in report.get("guarantees_received") or ():
            other = received.get("party_id")
            if other:
                forward.setdefault(str(other), set()).add(party)
                backward.setdefault(party, set()).add(str(other))
    return forward, backward


def chain_parties(reports: Iterable[Report]) -> set[str]:
    """The parties the reports' guarantees name whose own reports are not among them: whose
    reports to fetch next to follow a chain."""
    have: set[str] = set()
    named: set[str] = set()
    for report in reports:
        have.add(str(report.get("party_id")))
        for key in ("guarantees_given", "guarantees_received"):
            named.update(str(g["party_id"]) for g in report.get(key) or () if g.get("party_id"))
    return named - have


def _longest(start: str, graph: Mapping[str, set[str]], avoid: frozenset[str]) -> list[str]:
    """The longest simple path from ``start`` along ``graph`` (start included), avoiding
    ``avoid``; ties broken by the smaller identifiers, so the answer is the same every run."""
    best: list[str] = [start]
    path = [start]
    on_path = {start}

    def walk(node: str) -> None:
        nonlocal best
        if len(path) > len(best) or (len(path) == len(best) and path < best):
            best = list(path)
        if len(path) >= _MAX_CHAIN:
            return
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path or nxt in avoid:
                continue
            path.append(nxt)
            on_path.add(nxt)
            walk(nxt)
            on_path.discard(nxt)
            path.pop()

    walk(start)
    return best


def guarantee_chain(
    subject: str, reports_by_party: Mapping[str, Report], settings: SignalSettings
) -> Signal | None:
    """A chain of at least ``guarantee_chain_min_length`` parties, each guaranteeing the next
    one's loan, running through ``subject``: the longest such path the reports show (the
    subject's and those :func:`chain_parties` named, fetched by the caller). Two parties
    guaranteeing each other are no chain."""
    forward, backward = _edges(reports_by_party.values())
    ahead = _longest(subject, forward, frozenset())
    behind = _longest(subject, backward, frozenset(ahead[1:]))
    chain = [*reversed(behind[1:]), *ahead]
    if len(chain) < settings.guarantee_chain_min_length:
        return None
    evidence = []
    amount, since = 0.0, ""
    for guarantor, borrower in itertools.pairwise(chain):
        report = reports_by_party.get(guarantor)
        found = [
            g for g in (report or {}).get("guarantees_given") or () if g.get("party_id") == borrower
        ]
        if not found:  # seen from the borrower's side only
            other = reports_by_party.get(borrower) or {}
            found = [
                g for g in other.get("guarantees_received") or () if g.get("party_id") == guarantor
            ]
        amount += sum(float(g.get("amount") or 0.0) for g in found)
        dates = [str(g["since"]) for g in found if g.get("since")]
        if dates and (not since or min(dates) < since):
            since = min(dates)
    for position, party in enumerate(chain, 1):
        report = reports_by_party.get(party) or {"party_id": party}
        note = f"{position} of {len(chain)} in the chain"
        evidence.append(Evidence("CreditReport", party, evidence_field(report), note))
    long_chain = len(chain) >= settings.guarantee_chain_min_length + 2
    return Signal(
        SignalKind.GUARANTEE_CHAIN,
        Severity.HIGH if long_chain else Severity.MEDIUM,
        subject,
        since or None,
        None,
        tuple(evidence),
        (Measure("parties", float(len(chain))), Measure("guaranteed", amount, amount=True)),
        f"guarantee chain of {len(chain)} parties",
    )
