"""The joint office's own work as GraphQL types: leads, verification, referral, feedback, cases
(``JointCase``, so as not to be taken for a police or court case), indicators, live events.

The values come from the office's system of record through a :class:`kernel.workflow.Desk`
(``RequestContext.office``, put there by the execute stage): the desk decides which leads and
cases exist for the caller (Cedar ``readLead``, no oracle: one it may not read is
``LEAD_NOT_FOUND``), the plan decides the fields under them like any other field (owner
``office``, category ``workflow``; policies/61-workflow-fields.cedar). Objects are built with the
plan's build rules (``schema.base.build``): a denied field answers ``FORBIDDEN_FIELD``, a masked
one is masked.

A lead's subjects (``LeadSubject``) link into the agencies' own types (``enterprise``, ``person``,
``account``) through the loaders, so what they show is decided, masked, withheld and audited
exactly as the same record asked for directly. A subject's ``identifier`` is a party's
identifier (a resident ID, a USCC, or an account number) and is decided as ``Person.idNumber``
(the stricter; an account number is masked as a person's would be: docs/policies.md, "Fields
are decided by data category"). Shown in clear, it is recorded as that entity seen: a person,
an enterprise, or (the subject's ``kind`` says so) a bank account.

The mutations and the subscription are in ``schema/office_ops.py``; ``schema/unified.py`` joins
them. docs/workflows-api.md has examples.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

import strawberry

from connectors.errors import AgencyUnavailable
from kernel import workflow
from kernel.types import BuildRules, Declaration, Principal, RequestContext
from kernel.workflow import CaseState, EventKind, LeadCategory, LeadState
from schema.base import attr, build, embedded, embedded_type, link, record_data
from schema.loaders import loaders
from schema.paging import NOT_A_CURSOR, Cursors, InvalidArgument, page_size, scope
from schema.refs import BankAccount_, Enterprise_, Person_

Info = strawberry.Info[RequestContext, None]
W = "workflow"  # the category of every field here (schema.base.Category.WORKFLOW)
OFFICE = "office"
MAX_PAGE = 100
PARTY = ("Person", "Enterprise")
C = TypeVar("C")
# a subject's kind (kernel.workflow.LeadSubject.kind) -> the agency type its link leads to
SUBJECT_TYPES = {"uscc": "Enterprise", "resident-id": "Person", "account": "BankAccount"}

LeadStateEnum = strawberry.enum(LeadState, name="LeadState")
LeadCategoryEnum = strawberry.enum(LeadCategory, name="LeadCategory")
CaseStateEnum = strawberry.enum(CaseState, name="CaseState")
EventKindEnum = strawberry.enum(EventKind, name="EventKind")


@strawberry.enum
class IndicatorPeriod(enum.Enum):
    MONTH = "MONTH"
    QUARTER = "QUARTER"


@strawberry.enum
class IndicatorGrouping(enum.Enum):
    REGION = "REGION"
    CATEGORY = "CATEGORY"


# -- the types --------------------------------------------------------------------------------


@embedded_type(agency=OFFICE)
class LeadSubject:
    """Whom or what a lead is about: an enterprise (USCC), a person (resident ID) or an account."""

    kind: str = attr(W, 0)  # uscc, resident-id, account
    identifier: str = attr(
        W, 2, mask="party_id", identity=PARTY, stated_by="kind", personal="resident-id"
    )

    @link("market", "registry", description="The enterprise, if the subject is one.")
    async def enterprise(self, info: Info) -> Enterprise_ | None:
        return await _subject(self, info, "uscc")

    @link("police", "identity", 1, description="The person, if the subject is one.")
    async def person(self, info: Info) -> Person_ | None:
        return await _subject(self, info, "resident-id")

    @link("banking", "financial", 1, description="The bank account, if the subject is one.")
    async def account(self, info: Info) -> BankAccount_ | None:
        return await _subject(self, info, "account")


async def _subject(obj: object, info: Info, kind: str) -> Any:
    data = record_data(obj)
    if data.get("kind") != kind or not data.get("identifier"):
        return None
    return await loaders(info).one(SUBJECT_TYPES[kind], str(data["identifier"]))


@embedded_type(agency=OFFICE)
class Verification:
    outcome: LeadStateEnum = attr(W, 0)  # type: ignore[valid-type]
    findings: str = attr(W, 2)
    by: str = attr(W, 1)
    by_agency: str = attr(W, 0)
    at: str = attr(W, 0)  # ISO 8601, UTC


@embedded_type(agency=OFFICE)
class Referral:
    """The referral of a verified lead to the police (移送)."""

    to_agency: str = attr(W, 0)
    receiving_unit: str = attr(W, 0)
    note: str = attr(W, 2)
    by: str = attr(W, 1)
    by_agency: str = attr(W, 0)
    at: str = attr(W, 0)


@embedded_type(agency=OFFICE)
class Feedback:
    """A progress note of the receiving agency (跟踪反馈)."""

    id: strawberry.ID = attr(W, 0)
    note: str = attr(W, 2)
    by: str = attr(W, 1)
    by_agency: str = attr(W, 0)
    at: str = attr(W, 0)


@embedded_type(agency=OFFICE)
class Lead:
    """A lead (线索) reported by a member agency, as far as it has gone: verified, referred,
    a case opened from it. ``overdue``: major, its report unacknowledged past the deadline."""

    id: strawberry.ID = attr(W, 0)
    state: LeadStateEnum = attr(W, 0)  # type: ignore[valid-type]
    category: LeadCategoryEnum = attr(W, 0)  # type: ignore[valid-type]
    source_agency: str = attr(W, 0)
    submitted_by: str = attr(W, 1)
    submitted_at: str = attr(W, 0)
    updated_at: str = attr(W, 0)
    region: str = attr(W, 0)
    description: str = attr(W, 2)
    amount: float | None = attr(W, 1)
    victims: int | None = attr(W, 1)
    attachments: list[str] = attr(W, 1)
    subjects: list[LeadSubject] = embedded(W, 1)
    verification: Verification | None = attr(W, 1)
    referral: Referral | None = attr(W, 1)
    feedback: list[Feedback] = embedded(W, 1)
    case_number: str | None = attr(W, 1)
    major: bool = attr(W, 0)
    major_reasons: list[str] = attr(W, 0)
    major_deadline: str | None = attr(W, 0)
    major_acknowledged_at: str | None = attr(W, 0)
    major_acknowledged_by: str | None = attr(W, 1)
    overdue: bool = attr(W, 0)


@embedded_type(agency=OFFICE)
class JointCase:
    """A case opened through the workflow (the case registry's entry, source ``workflow``)."""

    number: str = attr(W, 0)
    agency: str = attr(W, 0)
    title: str = attr(W, 1)
    state: CaseStateEnum = attr(W, 0)  # type: ignore[valid-type]
    lead_id: strawberry.ID | None = attr(W, 0)
    opened_at: str = attr(W, 0)
    opened_by: str = attr(W, 1)
    officials: list[str] = attr(W, 1)
    team: str | None = attr(W, 1)
    subjects: list[LeadSubject] = embedded(W, 1)
    closed_at: str | None = attr(W, 0)
    closed_by: str | None = attr(W, 1)
    closing_note: str | None = attr(W, 2)


@embedded_type(agency=OFFICE)
class IndicatorRow:
    """One period's figures (of one region and/or category when grouped by them)."""

    period: str = attr(W, 0)  # 2026-09 or 2026-Q3
    region: str | None = attr(W, 0)
    category: LeadCategoryEnum | None = attr(W, 0)  # type: ignore[valid-type]
    leads: int = attr(W, 0)
    major_leads: int = attr(W, 0)
    verified: int = attr(W, 0)
    unfounded: int = attr(W, 0)
    referred: int = attr(W, 0)
    cases_opened: int = attr(W, 0)
    cases_closed: int = attr(W, 0)
    amount: float = attr(W, 1)
    victims: int = attr(W, 1)


@embedded_type(agency=OFFICE)
class WorkflowPageInfo:
    has_next_page: bool = attr(W, 0)
    end_cursor: str | None = attr(W, 0)


@embedded_type(agency=OFFICE)
class LeadConnection:
    nodes: list[Lead] = attr(W, 0)
    page_info: WorkflowPageInfo = attr(W, 0)
    total_count: int = attr(W, 0)  # the leads matching that the caller may read


@embedded_type(agency=OFFICE)
class JointCaseConnection:
    nodes: list[JointCase] = attr(W, 0)
    page_info: WorkflowPageInfo = attr(W, 0)
    total_count: int = attr(W, 0)


# -- building them ----------------------------------------------------------------------------


def iso(at: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC (``2026-09-01T08:00:00Z``)."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: str | None, argument: str) -> float | None:
    """An ISO 8601 date or time (UTC if no zone) as epoch seconds; BAD_USER_INPUT if not one."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(argument, "not an ISO 8601 date or time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _subjects(
    ctx: RequestContext, subjects: Sequence[workflow.LeadSubject]
) -> list[dict[str, Any]]:
    """The subjects' data; each says what its identifier is (``kind``), for the record of
    what an answer showed (gateway/disclosure.py: an account's number is an account seen)."""
    data = [{"kind": s.kind, "identifier": s.identifier} for s in subjects]
    ctx.stating.extend((LeadSubject, d) for d in data)
    return data


def lead_object(ctx: RequestContext, lead: workflow.Lead, now: float) -> Lead:
    """``lead`` as the caller may see it (the plan's build rules); recorded as shown."""
    rules = _rules(ctx)
    v, r = lead.verification, lead.referral
    verification = None
    if v is not None:
        seen = {"outcome": v.outcome, "findings": v.findings, "by": v.by,
                "by_agency": v.by_agency, "at": iso(v.at)}  # fmt: skip
        verification = build(Verification, seen, rules)
    referral = None
    if r is not None:
        seen = {"to_agency": r.to_agency, "receiving_unit": r.receiving_unit, "note": r.note,
                "by": r.by, "by_agency": r.by_agency, "at": iso(r.at)}  # fmt: skip
        referral = build(Referral, seen, rules)
    data = {
        "id": lead.id, "state": lead.state, "category": lead.category,
        "source_agency": lead.source_agency, "submitted_by": lead.submitted_by,
        "submitted_at": iso(lead.submitted_at), "updated_at": iso(lead.updated_at),
        "region": lead.region, "description": lead.description, "amount": lead.amount,
        "victims": lead.victims, "attachments": list(lead.attachments),
        "subjects": _subjects(ctx, lead.subjects), "verification": verification,
        "referral": referral,
        "feedback": [
            {"id": f.id, "note": f.note, "by": f.by, "by_agency": f.by_agency, "at": iso(f.at)}
            for f in lead.feedback
        ],
        "case_number": lead.case_number, "major": lead.major,
        "major_reasons": list(lead.major_reasons), "major_deadline": iso(lead.major_deadline),
        "major_acknowledged_at": iso(lead.major_acknowledged_at),
        "major_acknowledged_by": lead.major_acknowledged_by, "overdue": lead.overdue(now),
    }  # fmt: skip
    ctx.audit.saw("Lead", lead.id)
    return build(Lead, data, rules)


def case_object(ctx: RequestContext, case: workflow.CaseFile) -> JointCase:
    data = {
        "number": case.number, "agency": case.agency, "title": case.title, "state": case.state,
        "lead_id": case.lead_id, "opened_at": iso(case.opened_at), "opened_by": case.opened_by,
        "officials": list(case.officials), "team": case.team,
        "subjects": _subjects(ctx, case.subjects), "closed_at": iso(case.closed_at),
        "closed_by": case.closed_by, "closing_note": case.closing_note,
    }  # fmt: skip
    ctx.audit.saw("JointCase", case.number)
    return build(JointCase, data, _rules(ctx))


def _rules(ctx: RequestContext) -> Mapping[str, BuildRules]:
    assert ctx.plan is not None, "workflow fields run after authorize"
    return ctx.plan.build_rules


def desk(info: Info) -> tuple[workflow.Desk, Principal, Declaration]:
    """The office desk and who asks, why; AGENCY_UNAVAILABLE if this gateway has no desk."""
    ctx = info.context
    office: workflow.Desk | None = ctx.office
    if office is None:
        raise AgencyUnavailable(OFFICE, "the joint office's records are not available here")
    assert ctx.principal is not None and ctx.declaration is not None
    return office, ctx.principal, ctx.declaration


def now() -> float:
    return datetime.now(UTC).timestamp()


def _row(r: workflow.IndicatorRow) -> dict[str, Any]:
    return {
        "period": r.period, "region": r.region, "category": r.category, "leads": r.leads,
        "major_leads": r.major_leads, "verified": r.verified, "unfounded": r.unfounded,
        "referred": r.referred, "cases_opened": r.cases_opened, "cases_closed": r.cases_closed,
        "amount": r.amount, "victims": r.victims,
    }  # fmt: skip


def _region(region: str | None) -> str | None:
    if region is not None and not (region.isascii() and region.isdigit() and len(region) <= 6):
        raise InvalidArgument("region", "a region code or its prefix: 2 to 6 digits")
    return region


def _page(ctx: RequestContext, name: str, arguments: Any, after: str | None) -> Any:
    """The cursor sealing for a paged field, and where the desk starts (its own cursor)."""
    cursors: Cursors = ctx.loaders.cursors
    bound = scope(ctx, name, arguments)
    start = None
    if after is not None:
        state = cursors.open(after, bound)
        if not isinstance(state, str):
            raise InvalidArgument("after", NOT_A_CURSOR)
        start = state
    return cursors, bound, start


def _connection(
    ctx: RequestContext, cls: type[C], nodes: list[Any], next_cursor: str | None, total: int,
    cursors: Cursors, bound: bytes,
) -> C:  # fmt: skip
    end = cursors.seal(next_cursor, bound) if next_cursor is not None else None
    rules = _rules(ctx)
    info = build(WorkflowPageInfo, {"has_next_page": end is not None, "end_cursor": end}, rules)
    return build(cls, {"nodes": nodes, "page_info": info, "total_count": total}, rules)


@strawberry.type
class OfficeQuery:
    @link(OFFICE, W, description="A lead by its id (LEAD_NOT_FOUND if none you may read).")
    async def lead(self, info: Info, id: strawberry.ID) -> Lead | None:
        office, actor, declared = desk(info)
        found = await office.lead(actor, declared, str(id))
        return lead_object(info.context, found, now())

    @link(OFFICE, W, description=(
        f"Leads you may read, newest first, 1 to {MAX_PAGE} a page; `region`: a code prefix,"
        " `subject`: leads naming this identifier, `overdue`: major leads whose report is past"
        " its 24-hour deadline; times ISO 8601 (UTC if no zone)."
    ))  # fmt: skip
    async def leads(
        self, info: Info, state: list[LeadStateEnum] | None = None,  # type: ignore[valid-type]
        category: LeadCategoryEnum | None = None,  # type: ignore[valid-type]
        region: str | None = None, source_agency: str | None = None, major: bool | None = None,
        overdue: bool | None = None, subject: str | None = None,
        submitted_from: str | None = None, submitted_to: str | None = None,
        first: int = 20, after: str | None = None,
    ) -> LeadConnection | None:  # fmt: skip
        office, actor, declared = desk(info)
        size = page_size(first, MAX_PAGE)
        where = workflow.LeadFilter(
            states=tuple(LeadState(s) for s in state or ()),
            category=None if category is None else LeadCategory(category),
            region=_region(region), source_agency=source_agency, major=major, overdue=overdue,
            submitted_from=parse_time(submitted_from, "submittedFrom"),
            submitted_to=parse_time(submitted_to, "submittedTo"), subject=subject,
        )  # fmt: skip
        arguments = [
            list(where.states), where.category, where.region, source_agency, major, overdue,
            subject, where.submitted_from, where.submitted_to,
        ]  # fmt: skip
        ctx = info.context
        cursors, bound, start = _page(ctx, "leads", arguments, after)
        page = await office.leads(actor, declared, where, size, start)
        at = now()
        nodes = [lead_object(ctx, lead, at) for lead in page.items]
        return _connection(ctx, LeadConnection, nodes, page.next_cursor, page.total, cursors, bound)

    @link(OFFICE, W, description="A case opened from a lead (CASE_NOT_FOUND if none for you).")
    async def case(self, info: Info, number: str) -> JointCase | None:
        office, actor, declared = desk(info)
        return case_object(info.context, await office.case(actor, declared, number))

    @link(OFFICE, W, description=f"Cases opened from leads, 1 to {MAX_PAGE} a page.")
    async def cases(
        self, info: Info, state: CaseStateEnum | None = None,  # type: ignore[valid-type]
        first: int = 20, after: str | None = None,
    ) -> JointCaseConnection | None:  # fmt: skip
        office, actor, declared = desk(info)
        size = page_size(first, MAX_PAGE)
        wanted = None if state is None else CaseState(state)
        ctx = info.context
        cursors, bound, start = _page(ctx, "cases", [wanted], after)
        page = await office.cases(actor, declared, wanted, size, start)
        nodes = [case_object(ctx, case) for case in page.items]
        return _connection(
            ctx, JointCaseConnection, nodes, page.next_cursor, page.total, cursors, bound
        )

    @link(OFFICE, W, description=(
        "Period indicators: leads, major leads, verified, unfounded, referred, cases opened and"
        " closed, amounts and victims; `from`/`to`: 2026-09 (MONTH) or 2026-Q3 (QUARTER)."
    ))  # fmt: skip
    async def indicators(
        self, info: Info, period: IndicatorPeriod,
        start: Annotated[str, strawberry.argument(name="from")],
        end: Annotated[str, strawberry.argument(name="to")],
        by: list[IndicatorGrouping] | None = None,
    ) -> list[IndicatorRow] | None:  # fmt: skip
        office, actor, declared = desk(info)
        grouping = cast(list[workflow.Grouping], [g.value for g in by or ()])
        chosen: workflow.Period = period.value
        rows = await office.indicators(actor, declared, chosen, start, end, grouping)
        rules = _rules(info.context)
        return [build(IndicatorRow, _row(r), rules) for r in rows]
