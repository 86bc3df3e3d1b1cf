"""``riskSignals`` on Enterprise, Person and BankAccount: what the sources say together
(docs/signals.md).

A signal is computed from records the caller reads **as the caller**: every evidence field is
declared on the link (``link(evidence=...)``), decided with the rest of the operation by the
authorize stage (gateway/analyze.py walks it as if selected), and read here through the same
guarded link resolvers, loaders and object builder a direct query uses
(``schema/evidence.py``). So a record the record rules hide, a field denied or outside a joint
team's scope, is simply not there to make a signal from; and a kind whose evidence field is
denied is withheld, recorded in the audit record as withheld at ``<path>(KIND)``. What the
caller sees masked stays masked in the evidence and measures.
"""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry

from kernel.types import RequestContext
from schema.base import attr, build, embedded, embedded_type
from schema.credit_evidence import credit_signals
from schema.evidence import Reader, Shown, flow_signals, record_signals
from signals.model import Severity, SignalKind

Info = strawberry.Info[RequestContext, None]
SIGNALS = "signals"  # the owner of the computed types: the gateway, from several agencies
SIGNALS_DOC = (
    "Risk signals: what the sources say together about it, strongest first; only those whose"
    " evidence you may read (docs/signals.md)."
)

SignalKindEnum = strawberry.enum(SignalKind, name="SignalKind", description="What a signal says.")
SeverityEnum = strawberry.enum(
    Severity, name="SignalSeverity", description="How strong a signal is: HIGH, MEDIUM or LOW."
)

_FLOWS = "transactions { time amount direction counterpartyAccount }"
_ACCOUNT = f"number suspiciousReports {{ id reportedOn pattern }} {_FLOWS}"
_COURTS = "courtCases { caseNumber enforcement { caseNumber status amountOwed amountPaid } }"
_POLICE = "policeCases { caseNumber charge status filedOn }"
_DEFAULTER = "judgmentDefaulter { listedOn obligation performance }"
_GUARANTEES = "partyId partyName loanId amount since"
_CREDIT = (
    "creditReport { partyId loans { loanId amount openedOn overdueAmount overdueSince"
    f" classification statusHistory }} guaranteesGiven {{ {_GUARANTEES} }}"
    f" guaranteesReceived {{ {_GUARANTEES} }} }}"
)
#: what each subject's riskSignals reads, as a selection on the subject's type
EVIDENCE = {
    "Enterprise": (
        "uscc abnormalOperations { listedOn reason removedOn } seriousViolation businessScope"
        f" {_DEFAULTER} legalRepresentative {{ idNumber {_DEFAULTER} }} {_COURTS} {_POLICE}"
        f" bankAccounts {{ {_ACCOUNT} }} {_CREDIT}"
    ),
    "Person": (
        f"idNumber {_DEFAULTER} {_COURTS} {_POLICE} bankAccounts {{ {_ACCOUNT} }} {_CREDIT}"
    ),
    "BankAccount": _ACCOUNT,
}


@embedded_type(
    agency=SIGNALS,
    doc="A record a signal rests on, as you may see it.",
)
class SignalEvidence:
    """A record a signal rests on, as the caller may see it: its type, its key (null when
    the caller may not see the key), the field through which it is read directly."""

    type_name: str = attr("registry", doc="The record's type (PoliceCase, BankAccount ...).")
    key: str | None = attr("registry", doc="The record's key; null if you may not see it.")
    field: str = attr(
        "registry",
        doc="The field through which you read the record directly (`Enterprise.policeCases`).",
    )
    note: str = attr("registry", doc="What the record contributes, in one sentence.")


@embedded_type(agency=SIGNALS, doc="A number behind a signal.")
class SignalMeasure:
    """A number behind a signal; ``masked``: shown as its band (amounts the caller sees masked)."""

    name: str = attr("registry", doc="The measure's name (`distinct_senders`, `in_total` ...).")
    value: float | None = attr(
        "registry", doc="Its value: a count, a share or an amount in yuan (a band if masked)."
    )
    masked: bool = attr(
        "registry", doc="True if an amount is shown as its band, as you see amounts masked."
    )


@embedded_type(
    agency=SIGNALS,
    doc="One risk signal: what several sources say together about a subject.",
)
class RiskSignal:
    """One risk signal (docs/signals.md lists every kind, its evidence and thresholds)."""

    kind: SignalKindEnum = attr("registry", doc="What the signal says.")  # type: ignore[valid-type]
    severity: SeverityEnum = attr("registry", doc="How strong it is.")  # type: ignore[valid-type]
    subject: str | None = attr(
        "registry",
        doc="The key of what it is about as you may see it: the enterprise or person, or the"
        " account for bank and flow signals.",
    )  # the account a flow signal is about, as shown
    period_from: str | None = attr(
        "registry", doc="The first day of the period it covers (YYYY-MM-DD); null: open."
    )
    period_to: str | None = attr(
        "registry", doc="The last day of the period it covers (YYYY-MM-DD); null: open."
    )
    summary: str = attr("registry", doc="One English sentence, with no amounts.")
    evidence: list[SignalEvidence] = embedded("registry", doc="The records it rests on.")
    measures: list[SignalMeasure] = embedded("registry", doc="The numbers behind it.")


async def risk_signals(subject: Any, info: Info, type_name: str) -> list[RiskSignal]:
    """The signals about ``subject`` (an Enterprise, Person or BankAccount object) the caller
    may see, strongest first."""
    reader = Reader(subject, info, type_name)
    parts = [record_signals(reader), flow_signals(reader)]
    if type_name != "BankAccount":
        parts.append(credit_signals(reader))
    found = await asyncio.gather(*parts)
    signals = [s for group in found for s in group]
    signals.sort(key=lambda s: (_ORDER[s[0].severity], s[0].kind.value, s[0].period_from or ""))
    return [_shown(s, reader) for s in signals]


_ORDER = {Severity.HIGH: 0, Severity.MEDIUM: 1, Severity.LOW: 2}


def _shown(shown: Shown, reader: Reader) -> RiskSignal:
    signal, masked = shown
    data = {
        "kind": signal.kind,
        "severity": signal.severity,
        "subject": signal.subject or None,
        "period_from": signal.period_from,
        "period_to": signal.period_to,
        "summary": signal.summary,
        "evidence": [
            {"type_name": e.type_name, "key": e.key or None, "field": e.field, "note": e.note}
            for e in signal.evidence
        ],
        "measures": [
            {"name": m.name, "value": m.value, "masked": m.amount and masked}
            for m in signal.measures
        ],
    }
    return build(RiskSignal, data, reader.plan.build_rules)


__all__ = [
    "EVIDENCE",
    "SIGNALS",
    "SIGNALS_DOC",
    "RiskSignal",
    "SeverityEnum",
    "SignalEvidence",
    "SignalKindEnum",
    "SignalMeasure",
    "risk_signals",
]
