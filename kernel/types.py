"""The shared contract: what every pipeline stage reads and writes.

A request flows ``HTTP → authn → analyze → authorize → execute → shape → audit-commit``
(see ``gateway/pipeline.py``). Each stage adds to one :class:`RequestContext`; the audit record
rides along in it and is committed last.
"""

from __future__ import annotations

import enum
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AgencyCall",
    "AuditRecord",
    "BuildRules",
    "Declaration",
    "Disclosure",
    "FieldDecision",
    "Outcome",
    "Outside",
    "Plan",
    "Principal",
    "Purpose",
    "RequestContext",
]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking, as the identity provider vouches for it (claims of a validated token)."""

    subject: str
    agency: str
    roles: frozenset[str]
    clearance: int
    name: str = ""
    token_id: str = ""
    client: str = ""  # the application the token was issued to (azp / client_id claim)

    @property
    def digest(self) -> str:
        """Stable digest of every attribute a decision may depend on; used in cache keys."""
        parts = [self.subject, self.agency, ",".join(sorted(self.roles)), str(self.clearance)]
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


class Purpose(enum.StrEnum):
    """Declared purposes of access (header ``X-Purpose``)."""

    INVESTIGATION = "investigation"
    SUPERVISION = "supervision"
    RISK_MONITORING = "risk-monitoring"
    ENFORCEMENT = "enforcement"
    AUDIT = "audit"

    @property
    def needs_case(self) -> bool:
        return self in (Purpose.INVESTIGATION, Purpose.ENFORCEMENT)


PURPOSE_DESCRIPTIONS: dict[Purpose, str] = {
    Purpose.INVESTIGATION: "investigating a specific case (X-Case-Id required)",
    Purpose.SUPERVISION: "regulatory supervision of the caller's own sector",
    Purpose.RISK_MONITORING: "monitoring and early warning of illegal financial activity",
    Purpose.ENFORCEMENT: "enforcing a judgment or administrative decision (X-Case-Id required)",
    Purpose.AUDIT: "auditing the use of shared information",
}


@dataclass(frozen=True, slots=True)
class Declaration:
    """Why the caller asks: purpose, the case that justifies it, free-text justification."""

    purpose: Purpose
    case_id: str | None = None
    justification: str | None = None
    break_glass: str | None = None


class Outcome(enum.StrEnum):
    ALLOW = "allow"
    MASK = "mask"
    DENY = "deny"


@dataclass(slots=True)
class AgencyCall:
    agency: str
    operation: str
    keys: int
    status: str
    latency_ms: float


@dataclass(slots=True)
class AuditRecord:
    """Assembled as the request flows through the stages; committed once, last.

    This is the in-memory form and holds personal data in clear (record keys, justification,
    variables, query text). The audit store turns it into the stored form: keyed hashes and
    encryption for personal data, the query text once per hash, sequence numbers and the log's
    hash chain. ``as_dict`` is for tests and debugging, not for storage.
    """

    request_id: str
    received_at: float = field(default_factory=time.time)
    client: str = ""
    trace_id: str = ""
    subject: str | None = None
    agency: str | None = None
    roles: tuple[str, ...] = ()
    purpose: str | None = None
    case_id: str | None = None
    justification: str | None = None
    break_glass: bool = False
    operation_name: str | None = None
    operation_type: str | None = None
    query_hash: str | None = None
    query_text: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    fields_requested: list[str] = field(default_factory=list)
    fields_allowed: list[str] = field(default_factory=list)
    fields_masked: list[str] = field(default_factory=list)
    fields_denied: list[str] = field(default_factory=list)
    # paths where a record-level rule hid a record the field's own decision allowed
    fields_withheld: list[str] = field(default_factory=list)
    # response path -> the @id of each policy that decided it ("default-deny" if none did);
    # a withheld path's lists the field's policies, then the record rule's
    field_policies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    records_returned: dict[str, set[str]] = field(default_factory=dict)
    records_withheld: dict[str, int] = field(default_factory=dict)
    agency_calls: list[AgencyCall] = field(default_factory=list)
    policy_version: str | None = None
    status: int = 0
    outcome: str = ""
    error_codes: list[str] = field(default_factory=list)
    # what a mutation changed (kernel.workflow.Change.as_dict): entity, id, action, the states
    # before and after, whether it was an idempotent replay; states and ids, no personal data
    changes: list[dict[str, Any]] = field(default_factory=list)
    response_size: int = 0
    response_hash: str = ""
    latency_ms: float = 0.0

    def saw(self, type_name: str, key: str) -> None:
        """An entity of this type was shown: its record, or its identifier in clear inside
        another record (a court case's party, a shareholder, an account's holder)."""
        self.records_returned.setdefault(type_name, set()).add(key)

    def withheld(self, type_name: str) -> None:
        """A record of this type was found but not shown (record-level rules)."""
        self.records_withheld[type_name] = self.records_withheld.get(type_name, 0) + 1

    def withheld_at(self, path: str, policies: Sequence[str]) -> None:
        """At this field path a record-level rule hid a record: ``policies`` are the rule's
        (``default-deny``: no readRecord permit held), cited after the field's own."""
        if path not in self.fields_withheld:
            self.fields_withheld.append(path)
            self.fields_withheld.sort()
        cited = self.field_policies.get(path, ())
        added = tuple(p for p in (policies or ("default-deny",)) if p not in cited)
        if added:
            self.field_policies[path] = (*cited, *added)

    def flag(self, *flags: str) -> None:
        self.flags.extend(f for f in flags if f not in self.flags)

    def as_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "received_at": self.received_at,
            "client": self.client,
            "trace_id": self.trace_id,
            "subject": self.subject,
            "agency": self.agency,
            "roles": list(self.roles),
            "purpose": self.purpose,
            "case_id": self.case_id,
            "justification": self.justification,
            "break_glass": self.break_glass,
            "operation_name": self.operation_name,
            "operation_type": self.operation_type,
            "query_hash": self.query_hash,
            "query_text": self.query_text,
            "variables": self.variables,
            "fields_requested": self.fields_requested,
            "fields_allowed": self.fields_allowed,
            "fields_masked": self.fields_masked,
            "fields_denied": self.fields_denied,
            "fields_withheld": self.fields_withheld,
            "field_policies": {p: list(ids) for p, ids in sorted(self.field_policies.items())},
            "flags": self.flags,
            "records_returned": {k: sorted(v) for k, v in sorted(self.records_returned.items())},
            "records_withheld": dict(sorted(self.records_withheld.items())),
            "agency_calls": [
                {
                    "agency": c.agency,
                    "operation": c.operation,
                    "keys": c.keys,
                    "status": c.status,
                    "latency_ms": round(c.latency_ms, 3),
                }
                for c in self.agency_calls
            ],
            "policy_version": self.policy_version,
            "status": self.status,
            "outcome": self.outcome,
            "error_codes": self.error_codes,
            "changes": [dict(c) for c in self.changes],
            "response_size": self.response_size,
            "response_hash": self.response_hash,
            "latency_ms": round(self.latency_ms, 3),
        }


@dataclass(frozen=True, slots=True)
class FieldDecision:
    """The outcome for one (type, field) and the policies that decided it."""

    outcome: Outcome
    mask: str | None = None
    policies: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BuildRules:
    """How to build one type's objects: attributes withheld, attributes masked (by kind)."""

    denied: frozenset[str] = frozenset()
    masks: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Disclosure:
    """An identifier an operation shows, e.g. the ID numbers of court cases' parties: where in
    the response (``keys``, through lists: ``("courtCases", "parties", "partyId")``), the entity
    types it can identify, and its mask (None: shown in clear). The plan lists them once per
    operation; after execution each value shown in clear is recorded as that entity seen."""

    keys: tuple[str, ...]
    identity: tuple[str, ...]
    mask: str | None = None


@dataclass(frozen=True, slots=True)
class Outside:
    """How a team request treats the records outside its team's scope (docs/policies.md, "Team
    scope"): as the same request would without the team. Made by the authorize stage from the
    plan of the same context with ``in_team`` false.

    ``build_rules`` build such a record; ``denied`` are the links not followed from it (beyond
    the plan's own ``denied``); ``refused`` the field paths of the links (root fields too)
    denied without the team, with the policies that decide so: such a link returns no record
    outside the scope, as if it did not exist; ``withheld`` and ``masked`` say, by the field
    path of the field that returns such records (``enterprise.bankAccounts``), which touched
    paths under it are withheld (with the policies that decide so without the team) or
    masked, for the audit record."""

    build_rules: dict[str, BuildRules] = field(default_factory=dict)
    denied: frozenset[tuple[str, str]] = frozenset()
    refused: dict[str, tuple[str, ...]] = field(default_factory=dict)
    withheld: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = field(default_factory=dict)
    masked: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one operation may do, decided once before any agency is called.

    ``source_fields`` maps each entity type to the agency-side fields to request: only what the
    operation selects and the policy allows (data minimisation). ``denied`` lists the (type,
    field) pairs that must answer FORBIDDEN_FIELD; ``build_rules`` tells the object builder, per
    type, which attributes to withhold and which to mask.

    ``outside`` is set when the request is in a joint team's context (``in_team``): the fields
    and links the team grant allows are then shown only for records in the team's scope, and
    records outside it are built by ``outside`` (schema/scope.py). ``source_fields`` then also
    holds what the execute stage needs to tell the two apart (``@entity(refers=..., part_of=...)``).
    """

    policy_version: str
    decisions: dict[tuple[str, str], FieldDecision]
    source_fields: dict[str, frozenset[str]]
    denied: frozenset[tuple[str, str]] = frozenset()
    build_rules: dict[str, BuildRules] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    # the identifiers the operation shows inside records (not an entity's own key)
    disclosures: tuple[Disclosure, ...] = ()
    outside: Outside | None = None  # None: not a team request, every record is built alike


@dataclass(slots=True)
class RequestContext:
    """One request's state, handed from stage to stage and to every resolver."""

    request_id: str
    audit: AuditRecord
    principal: Principal | None = None
    declaration: Declaration | None = None
    plan: Plan | None = None
    deadline: float = 0.0
    loaders: Any = None  # schema.loaders.Loaders, created by the execute stage
    # record-level rule from the authorize stage: record labels -> RecordDecision (visible, flags)
    records_visible: Callable[[Sequence[Any]], list[Any]] | None = None
    # (schema class, agency record) of the records shown whose parties' identifiers come with
    # what the record says they are: read by gateway/disclosure.py where the checks cannot tell
    stating: list[tuple[type, Any]] = field(default_factory=list)
    # the declared case's subjects' identifiers (USCCs, resident ID numbers, account numbers,
    # normalised) when the caller's access to the case comes through a team membership (the
    # context is in_team); None otherwise. A team request without them has no subjects: only
    # records labelled with the case are in its scope (schema/scope.py)
    case_subjects: frozenset[str] | None = None
    # the joint office's system of record (a kernel.workflow.Desk; typed Any here because
    # kernel.workflow imports this module), put here by the execute stage for the workflow
    # resolvers (schema/office.py); None: this gateway has no office desk
    office: Any = None
    # the [signals] table (a signals.settings.SignalSettings: windows, thresholds, tracing caps),
    # put here by the execute stage for riskSignals and traceFunds (schema/signals.py,
    # schema/trace.py); None: the defaults
    signals: Any = None
