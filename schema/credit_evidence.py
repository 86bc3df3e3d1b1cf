"""The credit kinds of ``riskSignals``, read as the caller (schema/evidence.py explains how):
sudden overdue, borrowing before the fundraising the flow patterns show, and guarantee chains
over the credit reports the caller may read (signals/credit.py, docs/signals.md)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from schema.base import FieldForbidden, record_data
from schema.evidence import Reader, Shown, banded
from signals import credit
from signals.model import CREDIT_KINDS, Evidence, Signal, SignalKind

# the credit report fields the credit rules read, by type (python names)
_CREDIT_FIELDS = {
    "CreditReport": ("party_id", "loans", "guarantees_given", "guarantees_received"),
    "Loan": ("loan_id", "amount", "opened_on", "overdue_amount", "overdue_since",
             "classification", "status_history"),
    "Guarantee": ("party_id", "loan_id", "amount", "since"),
}  # fmt: skip


def _credit_rules(r: Reader, report: Any) -> bool | None:
    """None if the caller may not read what the credit rules read of ``report`` (or it was
    not decided for this operation); else whether it sees money in it masked."""
    masked = False
    for type_name, names in _CREDIT_FIELDS.items():
        rules = r.readable(report, type_name, names)
        if rules is None:
            return None
        masked = masked or any(n in rules.masks and "amount" in n for n in names)
    return masked


async def credit_signals(r: Reader) -> list[Shown]:
    """Sudden overdue, borrowing before fundraising (its start from the flow patterns) and
    guarantee chains (the other parties' reports read round by round, as the caller), from
    the credit reports the caller may read (signals/credit.py)."""
    kinds = sorted(CREDIT_KINDS)
    try:
        report = await r.follow(r.subject, r.type_name, "creditReport")
    except FieldForbidden:
        r.withhold(kinds)
        return []
    if report is None:
        return []
    masked = _credit_rules(r, report)
    if masked is None:
        r.withhold(kinds)
        return []
    data = record_data(report)
    settings = r.settings
    found: list[Signal | None] = [credit.sudden_overdue(data, settings)]
    start = await r.fundraising_start()
    if start is False:
        r.withhold([SignalKind.BORROWING_BEFORE_FUNDRAISING])
    else:
        found.append(credit.borrowing_before(data, start or None, settings))
    shown = {str(data.get("party_id")): report}
    found.append(await _chain(r, data, shown))
    return [_shown_credit(r, s, shown, masked) for s in found if s is not None]


async def _chain(r: Reader, data: Mapping[str, Any], shown: dict[str, Any]) -> Signal | None:
    """The guarantee chain through the subject, over the reports the caller may read: the
    parties the reports name, fetched one round at a time (one credit call per round)."""
    settings = r.settings
    reports = {str(data.get("party_id")): data}
    for _ in range(settings.guarantee_chain_min_length + 2):
        wanted = sorted(credit.chain_parties(reports.values()))
        if not wanted:
            break
        found = await r.ctx.loaders.each("CreditReport", wanted)
        for obj in found:
            if _credit_rules(r, obj) is None:  # this party's report is not the caller's
                continue
            party = str(record_data(obj).get("party_id"))
            reports[party], shown[party] = record_data(obj), obj
        for party in wanted:
            reports.setdefault(party, {"party_id": party})  # read or not: asked once
    return credit.guarantee_chain(str(data.get("party_id")), reports, settings)


def _shown_credit(r: Reader, signal: Signal, shown: Mapping[str, Any], masked: bool) -> Shown:
    """A credit signal as the caller sees the reports: each party as its report's
    ``partyId`` is shown (the subject as the subject's key), money as a band where the
    caller sees amounts masked; notes and summary then carry no numbers."""
    evidence = []
    for e in signal.evidence:
        report = shown.get(e.key)
        key = r.key(report, "CreditReport") if report is not None else None
        evidence.append(Evidence(e.type_name, key or "", e.field, "" if masked else e.note))
    measures = banded(signal.measures, masked)
    changed = dataclasses.replace(
        signal,
        subject=r.key(r.subject, r.type_name) or "",
        evidence=tuple(evidence),
        measures=measures,
        summary=_GENERIC_CREDIT[signal.kind] if masked else signal.summary,
    )
    return changed, masked


_GENERIC_CREDIT = {
    SignalKind.SUDDEN_OVERDUE: "Loans overdue after a clean repayment history",
    SignalKind.BORROWING_BEFORE_FUNDRAISING: "Heavy new borrowing before fundraising began",
    SignalKind.GUARANTEE_CHAIN: "A chain of guarantees runs through it",
}
