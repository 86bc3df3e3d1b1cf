"""The joint office's own work (issue 18): leads, verification, referral, cases, feedback.

The vocabulary every floor shares, and nothing else: the states and the transitions between
them, what a lead, a referral, a feedback note and a case look like when read, the events a
change emits, and the errors a client sees. Who may do what is not here: the Cedar policies
decide it (``policies/60-workflow.cedar``, ``policies/actions.py``); the system of record is
``office/`` (floor 4); the GraphQL surface is ``schema/office.py``; live events travel through
``gateway/events.py``. docs/workflows.md is the guide.

    submitLead ─▶ SUBMITTED ─verifyLead─▶ VERIFIED ─referLead─▶ REFERRED ─openCase─▶ CASE_OPENED
                      └─verifyLead─▶ UNFOUNDED       recordFeedback on REFERRED and CASE_OPENED
                                                     closeCase: CASE_OPENED ─▶ CLOSED

``acknowledgeMajorEvent`` marks a major lead's report as received by the joint office (its
24-hour deadline met); it changes no state.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from kernel.types import Declaration, Principal

T = TypeVar("T")

__all__ = [
    "TRANSITIONS",
    "Action",
    "CaseFile",
    "CaseState",
    "Change",
    "Desk",
    "Done",
    "EventKind",
    "Feedback",
    "IndicatorRow",
    "Lead",
    "LeadCategory",
    "LeadEvent",
    "LeadFilter",
    "LeadState",
    "LeadSubject",
    "Page",
    "Referral",
    "SubmitInput",
    "Verification",
    "WorkflowError",
    "next_state",
]


class LeadState(enum.StrEnum):
    SUBMITTED = "SUBMITTED"  # reported by a member agency, waiting for verification
    VERIFIED = "VERIFIED"  # verified: a crime is suspected
    UNFOUNDED = "UNFOUNDED"  # verified: nothing to pursue (final)
    REFERRED = "REFERRED"  # referred to the police (移送), waiting for a case
    CASE_OPENED = "CASE_OPENED"  # the police opened a case from it
    CLOSED = "CLOSED"  # its case is closed (final)


FINAL_STATES = frozenset({LeadState.UNFOUNDED, LeadState.CLOSED})


class CaseState(enum.StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class LeadCategory(enum.StrEnum):
    """What a lead is about (the indicators' categories)."""

    ILLEGAL_FUNDRAISING = "ILLEGAL_FUNDRAISING"  # 非法集资
    ILLEGAL_SECURITIES = "ILLEGAL_SECURITIES"  # 非法证券业务
    FINANCIAL_FRAUD = "FINANCIAL_FRAUD"  # 金融诈骗
    OTHER = "OTHER"


class Action(enum.StrEnum):
    """What a caller does to a lead: the Cedar action names (``JointGate::Action::"..."``)
    and the mutations' names. ``readLead`` decides whether a lead exists for the caller at all
    (lists, lookups, subscription payloads)."""

    SUBMIT = "submitLead"
    VERIFY = "verifyLead"
    REFER = "referLead"
    OPEN_CASE = "openCase"
    FEEDBACK = "recordFeedback"
    CLOSE_CASE = "closeCase"
    ACKNOWLEDGE = "acknowledgeMajorEvent"
    READ = "readLead"


# (action, state before) -> the states it may lead to; an action not listed from a state is an
# illegal transition (ILLEGAL_TRANSITION). ``None``: the lead does not exist yet.
TRANSITIONS: dict[tuple[Action, LeadState | None], frozenset[LeadState]] = {
    (Action.SUBMIT, None): frozenset({LeadState.SUBMITTED}),
    (Action.VERIFY, LeadState.SUBMITTED): frozenset({LeadState.VERIFIED, LeadState.UNFOUNDED}),
    (Action.REFER, LeadState.VERIFIED): frozenset({LeadState.REFERRED}),
    (Action.OPEN_CASE, LeadState.REFERRED): frozenset({LeadState.CASE_OPENED}),
    (Action.FEEDBACK, LeadState.REFERRED): frozenset({LeadState.REFERRED}),
    (Action.FEEDBACK, LeadState.CASE_OPENED): frozenset({LeadState.CASE_OPENED}),
    (Action.CLOSE_CASE, LeadState.CASE_OPENED): frozenset({LeadState.CLOSED}),
    **{(Action.ACKNOWLEDGE, s): frozenset({s}) for s in LeadState},
}


class EventKind(enum.StrEnum):
    """What a live event says happened (``leadEvents``, ``majorEvents``)."""

    SUBMITTED = "SUBMITTED"
    VERIFIED = "VERIFIED"
    UNFOUNDED = "UNFOUNDED"
    REFERRED = "REFERRED"
    CASE_OPENED = "CASE_OPENED"
    FEEDBACK = "FEEDBACK"
    CLOSED = "CLOSED"
    MAJOR_FLAGGED = "MAJOR_FLAGGED"  # a lead was flagged major: 24 hours to report it
    MAJOR_ACKNOWLEDGED = "MAJOR_ACKNOWLEDGED"  # the joint office received the report
    MAJOR_OVERDUE = "MAJOR_OVERDUE"  # 24 hours passed without acknowledgement

    @property
    def major(self) -> bool:
        return self.name.startswith("MAJOR_")


class WorkflowError(Exception):
    """A workflow mutation or lookup that cannot be done; ``code`` is the client's
    ``extensions.code`` (docs/errors.md):

    - ``LEAD_NOT_FOUND`` / ``CASE_NOT_FOUND``: no such lead or case *for this caller* (one the
      caller may not read answers the same: no oracle);
    - ``ILLEGAL_TRANSITION``: the action is not allowed from the lead's state (``details``:
      ``state``, ``action``);
    - ``ACTION_FORBIDDEN``: the caller may read the lead but the policies do not let them do this;
    - ``IDEMPOTENCY_KEY_REUSED``: the key was used before by the caller for another input;
    - ``BAD_USER_INPUT``: an identifier fails its check, an amount is negative, ...
    """

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def next_state(
    action: Action, before: LeadState | None, wanted: LeadState | None = None
) -> LeadState:
    """The state ``action`` leads to from ``before`` (``wanted`` picks one where there are
    several: verification's outcome); ILLEGAL_TRANSITION if none."""
    allowed = TRANSITIONS.get((action, before), frozenset())
    if wanted is None and len(allowed) == 1:
        (wanted,) = allowed
    if wanted is None or wanted not in allowed:
        shown = before.value if before is not None else "none"
        raise WorkflowError(
            "ILLEGAL_TRANSITION",
            f"{action.value} is not allowed on a lead in state {shown}",
            state=shown,
            action=action.value,
        )
    return wanted


@dataclass(frozen=True, slots=True)
class LeadEvent:
    """One change, as published to subscribers (across replicas, through Redis) and as the
    payload each subscriber's need-to-know is applied to. Carries no personal data: the
    subscription's selection reads the lead itself under the subscriber's plan."""

    event_id: str  # unique, for the audit record of each delivery
    kind: EventKind
    lead_id: str
    state: LeadState  # the lead's state after the change
    at: float  # epoch seconds
    actor_agency: str
    case_number: str | None = None
    major: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "kind": self.kind.value,
            "lead_id": self.lead_id,
            "state": self.state.value,
            "at": self.at,
            "actor_agency": self.actor_agency,
            "case_number": self.case_number,
            "major": self.major,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LeadEvent:
        return cls(
            event_id=str(data["event_id"]),
            kind=EventKind(data["kind"]),
            lead_id=str(data["lead_id"]),
            state=LeadState(data["state"]),
            at=float(data["at"]),
            actor_agency=str(data["actor_agency"]),
            case_number=data.get("case_number"),
            major=bool(data.get("major", False)),
            extra={str(k): str(v) for k, v in (data.get("extra") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Change:
    """What one mutation changed, for its audit record (``AuditRecord.changes``): states and
    ids only, never personal data (the input is in the record's variables, sealed)."""

    entity: str  # "lead" or "case"
    id: str
    action: str
    before: str | None  # state before (None: created)
    after: str
    replayed: bool = False  # an idempotent retry: nothing changed this time

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "id": self.id,
            "action": self.action,
            "before": self.before,
            "after": self.after,
            "replayed": self.replayed,
        }


# -- what a caller reads ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeadSubject:
    kind: str  # "uscc", "resident-id" or "account" (policies/cases.py SUBJECT_KINDS)
    identifier: str  # normalised by its check (kernel/identifiers.py)


@dataclass(frozen=True, slots=True)
class Verification:
    outcome: LeadState  # VERIFIED or UNFOUNDED
    findings: str
    by: str
    by_agency: str
    at: float


@dataclass(frozen=True, slots=True)
class Referral:
    to_agency: str  # "police"
    receiving_unit: str  # e.g. 市公安局经侦支队
    note: str
    by: str
    by_agency: str
    at: float


@dataclass(frozen=True, slots=True)
class Feedback:
    id: str
    note: str
    by: str
    by_agency: str
    at: float


@dataclass(frozen=True, slots=True)
class Lead:
    id: str  # "L-2026-000001": year of submission and a sequence
    state: LeadState
    category: LeadCategory
    source_agency: str
    submitted_by: str
    submitted_at: float
    updated_at: float
    region: str  # 6-digit administrative division code (given, or from the first subject)
    description: str
    amount: float | None = None  # CNY involved, as reported
    victims: int | None = None
    attachments: tuple[str, ...] = ()  # references (document ids, URLs in agency systems)
    subjects: tuple[LeadSubject, ...] = ()
    verification: Verification | None = None
    referral: Referral | None = None
    feedback: tuple[Feedback, ...] = ()
    case_number: str | None = None
    major: bool = False
    major_reasons: tuple[str, ...] = ()  # "amount", "victims", "growth"
    major_deadline: float | None = None  # flagged + 24 h (office.major_deadline_h)
    major_acknowledged_at: float | None = None
    major_acknowledged_by: str | None = None

    def overdue(self, now: float) -> bool:
        """A major lead whose report the joint office has not acknowledged by its deadline."""
        return (
            self.major
            and self.major_acknowledged_at is None
            and self.major_deadline is not None
            and now > self.major_deadline
        )


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A case opened through the workflow: the case registry's entry (policies/cases.py,
    ``source`` "workflow") seen with the lead it came from."""

    number: str
    agency: str
    title: str
    state: CaseState
    lead_id: str | None
    opened_at: float
    opened_by: str
    officials: tuple[str, ...] = ()
    team: str | None = None
    subjects: tuple[LeadSubject, ...] = ()
    closed_at: float | None = None
    closed_by: str | None = None
    closing_note: str | None = None


@dataclass(frozen=True, slots=True)
class LeadFilter:
    states: tuple[LeadState, ...] = ()
    category: LeadCategory | None = None
    region: str | None = None  # a code prefix: "44" (a province), "4403" (a city)
    source_agency: str | None = None
    major: bool | None = None
    overdue: bool | None = None  # major, unacknowledged, past the deadline (now)
    submitted_from: float | None = None
    submitted_to: float | None = None
    subject: str | None = None  # leads naming this identifier


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int  # matching items the caller may read
    next_cursor: str | None  # opaque; None: no more


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    period: str  # "2026-09" or "2026-Q3"
    region: str | None  # None unless grouped by region (then the 6-digit code)
    category: LeadCategory | None  # None unless grouped by category
    leads: int = 0
    major_leads: int = 0
    verified: int = 0
    unfounded: int = 0
    referred: int = 0
    cases_opened: int = 0
    cases_closed: int = 0
    amount: float = 0.0
    victims: int = 0


# -- what a caller does -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmitInput:
    category: LeadCategory
    description: str
    subjects: tuple[str, ...]  # identifiers as typed: kind detected, checksum validated
    amount: float | None = None
    victims: int | None = None
    region: str | None = None
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Done:
    """What one mutation did: the lead (and case) after it, the changes for the audit record,
    the events published. ``replayed``: an idempotent retry answered from the first time."""

    lead: Lead
    changes: tuple[Change, ...]
    events: tuple[LeadEvent, ...] = ()
    case: CaseFile | None = None
    replayed: bool = False


Period = Literal["MONTH", "QUARTER"]
Grouping = Literal["REGION", "CATEGORY"]


class Desk(Protocol):
    """The joint office's system of record as the schema's resolvers call it (``office/``
    implements it; ``RequestContext.office`` carries it). Every method decides with the Cedar
    policies for ``actor`` under ``declaration`` and raises :class:`WorkflowError`; every
    mutation takes the caller's idempotency key (the same key and input again answers the first
    result, ``replayed``; another input: IDEMPOTENCY_KEY_REUSED)."""

    async def lead(self, actor: Principal, declaration: Declaration, lead_id: str) -> Lead: ...

    async def leads(
        self,
        actor: Principal,
        declaration: Declaration,
        where: LeadFilter,
        first: int,
        after: str | None,
    ) -> Page[Lead]: ...

    async def case(self, actor: Principal, declaration: Declaration, number: str) -> CaseFile: ...

    async def cases(
        self,
        actor: Principal,
        declaration: Declaration,
        state: CaseState | None,
        first: int,
        after: str | None,
    ) -> Page[CaseFile]: ...

    async def indicators(
        self,
        actor: Principal,
        declaration: Declaration,
        period: Period,
        start: str,
        end: str,
        by: Sequence[Grouping],
    ) -> list[IndicatorRow]: ...

    async def readable(
        self, actor: Principal, declaration: Declaration, lead_ids: Sequence[str]
    ) -> frozenset[str]:
        """Of ``lead_ids``, those ``actor`` may read now (subscription payloads)."""
        ...

    async def submit(
        self, actor: Principal, declaration: Declaration, key: str, lead: SubmitInput
    ) -> Done: ...

    async def verify(
        self,
        actor: Principal,
        declaration: Declaration,
        key: str,
        lead_id: str,
        outcome: LeadState,
        findings: str,
    ) -> Done: ...

    async def refer(
        self,
        actor: Principal,
        declaration: Declaration,
        key: str,
        lead_id: str,
        receiving_unit: str,
        note: str,
    ) -> Done: ...

    async def open_case(
        self,
        actor: Principal,
        declaration: Declaration,
        key: str,
        lead_id: str,
        case_number: str,
        title: str,
        officials: Sequence[str],
        team: str | None,
    ) -> Done: ...

    async def record_feedback(
        self, actor: Principal, declaration: Declaration, key: str, lead_id: str, note: str
    ) -> Done: ...

    async def close_case(
        self, actor: Principal, declaration: Declaration, key: str, case_number: str, note: str
    ) -> Done: ...

    async def acknowledge(
        self, actor: Principal, declaration: Declaration, key: str, lead_id: str, note: str
    ) -> Done: ...
