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
from schema.paging import (
    MAX_PAGE,
    NOT_A_CURSOR,
    After,
    Cursors,
    First,
    InvalidArgument,
    page_size,
    scope,
)
from schema.refs import BankAccount_, Enterprise_, Person_

Info = strawberry.Info[RequestContext, None]
W = "workflow"  # the category of every field here (schema.base.Category.WORKFLOW)
OFFICE = "office"
PARTY = ("Person", "Enterprise")
C = TypeVar("C")
# a subject's kind (kernel.workflow.LeadSubject.kind) -> the agency type its link leads to
SUBJECT_TYPES = {"uscc": "Enterprise", "resident-id": "Person", "account": "BankAccount"}

LeadStateEnum = strawberry.enum(
    LeadState,
    name="LeadState",
    description="Where a lead stands: SUBMITTED, then VERIFIED or UNFOUNDED (final), REFERRED"
    " (to the police), CASE_OPENED, CLOSED (final).",
)
LeadCategoryEnum = strawberry.enum(
    LeadCategory,
    name="LeadCategory",
    description="What a lead is about: ILLEGAL_FUNDRAISING (非法集资), ILLEGAL_SECURITIES"
    " (非法证券业务), FINANCIAL_FRAUD (金融诈骗) or OTHER.",
)
CaseStateEnum = strawberry.enum(
    CaseState, name="CaseState", description="Whether a case is OPEN or CLOSED."
)
EventKindEnum = strawberry.enum(
    EventKind,
    name="EventKind",
    description="What a live event says happened to a lead (MAJOR_*: a major lead flagged,"
    " acknowledged, or overdue past its 24 hours).",
)


@strawberry.enum(description="The indicators' period: a calendar MONTH or QUARTER (UTC+8).")
class IndicatorPeriod(enum.Enum):
    MONTH = "MONTH"
    QUARTER = "QUARTER"


@strawberry.enum(description="What the indicators are grouped by, besides the period.")
class IndicatorGrouping(enum.Enum):
    REGION = "REGION"
    CATEGORY = "CATEGORY"


# -- the types --------------------------------------------------------------------------------


@embedded_type(
    agency=OFFICE,
    doc="Whom or what a lead is about: an enterprise (USCC), a person (resident ID) or a bank"
    " account.",
)
class LeadSubject:
    """Whom or what a lead is about: an enterprise (USCC), a person (resident ID) or an account."""

    kind: str = attr(
        W, 0, doc="What the identifier is: `uscc`, `resident-id` or `account`."
    )  # uscc, resident-id, account
    identifier: str = attr(
        W, 2, mask="party_id", identity=PARTY, stated_by="kind", personal="resident-id",
        doc="The USCC (18 characters), resident ID number (18 characters) or account number"
        " (16-19 digits), normalised (may be masked).",
    )  # fmt: skip

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


@embedded_type(agency=OFFICE, doc="The verification of a submitted lead (核查).")
class Verification:
    outcome: LeadStateEnum = attr(  # type: ignore[valid-type]
        W, 0, doc="VERIFIED (a crime is suspected) or UNFOUNDED (nothing to pursue)."
    )
    findings: str = attr(W, 2, doc="What the verification found, free text.")
    by: str = attr(W, 1, doc="Who did it: the official's subject.")
    by_agency: str = attr(W, 0, doc="The official's agency.")
    at: str = attr(W, 0, doc="When (ISO 8601, UTC).")  # ISO 8601, UTC


@embedded_type(agency=OFFICE, doc="The referral of a verified lead to the police (移送).")
class Referral:
    """The referral of a verified lead to the police (移送)."""

    to_agency: str = attr(W, 0, doc="The agency it was referred to (the police).")
    receiving_unit: str = attr(W, 0, doc="The receiving unit (市公安局经侦支队 ...).")
    note: str = attr(W, 2, doc="The referral's note, free text.")
    by: str = attr(W, 1, doc="Who did it: the official's subject.")
    by_agency: str = attr(W, 0, doc="The official's agency.")
    at: str = attr(W, 0, doc="When (ISO 8601, UTC).")


@embedded_type(agency=OFFICE, doc="A progress note of the receiving agency (跟踪反馈).")
class Feedback:
    """A progress note of the receiving agency (跟踪反馈)."""

    id: strawberry.ID = attr(W, 0, doc="The note's id.")
    note: str = attr(W, 2, doc="The progress note, free text.")
    by: str = attr(W, 1, doc="Who did it: the official's subject.")
    by_agency: str = attr(W, 0, doc="The official's agency.")
    at: str = attr(W, 0, doc="When (ISO 8601, UTC).")


@embedded_type(
    agency=OFFICE,
    doc="A lead (线索) reported by a member agency, as far as it has gone: verified, referred, a"
    " case opened from it.",
)
class Lead:
    """A lead (线索) reported by a member agency, as far as it has gone: verified, referred,
    a case opened from it. ``overdue``: major, its report unacknowledged past the deadline."""

    id: strawberry.ID = attr(
        W, 0, doc="The lead's id: L-YYYY-NNNNNN (year of submission and a sequence)."
    )
    state: LeadStateEnum = attr(W, 0, doc="Where the lead stands in the workflow.")  # type: ignore[valid-type]
    category: LeadCategoryEnum = attr(W, 0, doc="What the lead is about.")  # type: ignore[valid-type]
    source_agency: str = attr(W, 0, doc="The member agency that reported it.")
    submitted_by: str = attr(W, 1, doc="The official who reported it (token subject).")
    submitted_at: str = attr(W, 0, doc="When it was reported (ISO 8601, UTC).")
    updated_at: str = attr(W, 0, doc="When it last changed (ISO 8601, UTC).")
    region: str = attr(
        W, 0, doc="The 6-digit administrative division code (given, or from the first subject)."
    )
    description: str = attr(W, 2, doc="What was reported, free text (at most 4,000 characters).")
    amount: float | None = attr(W, 1, doc="The amount involved as reported, in yuan (CNY).")
    victims: int | None = attr(W, 1, doc="How many victims, as reported.")
    attachments: list[str] = attr(
        W, 1, doc="References to documents in agency systems (ids, URLs), not files."
    )
    subjects: list[LeadSubject] = embedded(W, 1, doc="Whom or what the lead is about.")
    verification: Verification | None = attr(W, 1, doc="The verification, once done.")
    referral: Referral | None = attr(W, 1, doc="The referral to the police, once done.")
    feedback: list[Feedback] = embedded(
        W, 1, doc="The receiving agency's progress notes, oldest first."
    )
    case_number: str | None = attr(
        W, 1, doc="The police case number of the case opened from it, if any."
    )
    major: bool = attr(W, 0, doc="Whether it was flagged major (重大事件) at submission.")
    major_reasons: list[str] = attr(
        W, 0, doc="The rules that made it major: `amount`, `victims`, `growth`."
    )
    major_deadline: str | None = attr(
        W,
        0,
        doc="When the joint office must have acknowledged a major lead: submission plus 24 hours"
        " (ISO 8601, UTC).",
    )
    major_acknowledged_at: str | None = attr(
        W, 0, doc="When the joint office acknowledged the major lead (ISO 8601, UTC)."
    )
    major_acknowledged_by: str | None = attr(W, 1, doc="Who acknowledged it (token subject).")
    overdue: bool = attr(
        W,
        0,
        doc="True if major, unacknowledged and past its deadline (at the time of the request).",
    )


@embedded_type(
    agency=OFFICE, doc="A case opened from a lead through the workflow (the case registry's entry)."
)
class JointCase:
    """A case opened through the workflow (the case registry's entry, source ``workflow``)."""

    number: str = attr(
        W,
        0,
        doc="The case number (a police case number: J + 6-digit region + 4-digit year + 6-digit"
        " sequence).",
    )
    agency: str = attr(W, 0, doc="The agency whose case it is.")
    title: str = attr(W, 1, doc="The case's title.")
    state: CaseStateEnum = attr(W, 0, doc="OPEN or CLOSED.")  # type: ignore[valid-type]
    lead_id: strawberry.ID | None = attr(W, 0, doc="The lead it was opened from.")
    opened_at: str = attr(W, 0, doc="When it was opened (ISO 8601, UTC).")
    opened_by: str = attr(W, 1, doc="Who opened it (token subject).")
    officials: list[str] = attr(W, 1, doc="The officials on the case (token subjects).")
    team: str | None = attr(W, 1, doc="The joint team working it, if any.")
    subjects: list[LeadSubject] = embedded(W, 1, doc="Whom or what the case is about.")
    closed_at: str | None = attr(W, 0, doc="When it was closed (ISO 8601, UTC).")
    closed_by: str | None = attr(W, 1, doc="Who closed it (token subject).")
    closing_note: str | None = attr(W, 2, doc="The closing note, free text.")


@embedded_type(
    agency=OFFICE,
    doc="One period's figures (of one region and/or category when grouped by them), over the leads"
    " you may read.",
)
class IndicatorRow:
    """One period's figures (of one region and/or category when grouped by them)."""

    period: str = attr(
        W, 0, doc="The period: 2026-09 (MONTH) or 2026-Q3 (QUARTER), China Standard Time."
    )  # 2026-09 or 2026-Q3
    region: str | None = attr(W, 0, doc="The region code, when grouped by region.")
    category: LeadCategoryEnum | None = attr(  # type: ignore[valid-type]
        W, 0, doc="The lead category, when grouped by category."
    )
    leads: int = attr(W, 0, doc="Leads submitted in the period.")
    major_leads: int = attr(W, 0, doc="Major leads submitted in the period.")
    verified: int = attr(W, 0, doc="Leads verified in the period.")
    unfounded: int = attr(W, 0, doc="Leads found unfounded in the period.")
    referred: int = attr(W, 0, doc="Leads referred to the police in the period.")
    cases_opened: int = attr(W, 0, doc="Cases opened in the period.")
    cases_closed: int = attr(W, 0, doc="Cases closed in the period.")
    amount: float = attr(
        W, 1, doc="The amounts reported by the leads submitted in the period, in yuan."
    )
    victims: int = attr(W, 1, doc="The victims reported by the leads submitted in the period.")


@embedded_type(agency=OFFICE, doc="Where a page of leads or cases ends.")
class WorkflowPageInfo:
    has_next_page: bool = attr(W, 0, doc="Whether more follow.")
    end_cursor: str | None = attr(W, 0, doc="Pass it as `after` for the next page (same filters).")


@embedded_type(agency=OFFICE, doc="A page of leads, newest first.")
class LeadConnection:
    nodes: list[Lead] = attr(W, 0, doc="The leads of the page.")
    page_info: WorkflowPageInfo = attr(W, 0, doc="Where the page ends.")
    total_count: int = attr(
        W, 0, doc="How many leads match, of those you may read."
    )  # the leads matching that the caller may read


@embedded_type(agency=OFFICE, doc="A page of cases.")
class JointCaseConnection:
    nodes: list[JointCase] = attr(W, 0, doc="The cases of the page.")
    page_info: WorkflowPageInfo = attr(W, 0, doc="Where the page ends.")
    total_count: int = attr(W, 0, doc="How many cases match, of those you may read.")


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
    async def lead(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The lead's id, e.g. L-2026-000001.")
        ],
    ) -> Lead | None:
        office, actor, declared = desk(info)
        found = await office.lead(actor, declared, str(id))
        return lead_object(info.context, found, now())

    @link(OFFICE, W, description=(
        f"Leads you may read, newest first, 1 to {MAX_PAGE} a page; `region`: a code prefix,"
        " `subject`: leads naming this identifier, `overdue`: major leads whose report is past"
        " its 24-hour deadline; times ISO 8601 (UTC if no zone)."
    ))  # fmt: skip
    async def leads(
        self,
        info: Info,
        state: Annotated[
            list[LeadStateEnum] | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only leads in one of these states."),
        ] = None,
        category: Annotated[
            LeadCategoryEnum | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only leads of this category."),
        ] = None,
        region: Annotated[
            str | None,
            strawberry.argument(
                description="Only leads of this region: a division code or its prefix, 2 to 6"
                " digits (44 a province, 4403 a city)."
            ),
        ] = None,
        source_agency: Annotated[
            str | None, strawberry.argument(description="Only leads reported by this agency.")
        ] = None,
        major: Annotated[
            bool | None,
            strawberry.argument(description="true: only major leads; false: only the others."),
        ] = None,
        overdue: Annotated[
            bool | None,
            strawberry.argument(
                description="true: only major leads unacknowledged past their 24-hour deadline;"
                " false: only the others."
            ),
        ] = None,
        subject: Annotated[
            str | None,
            strawberry.argument(
                description="Only leads naming this identifier (USCC, resident ID or account"
                " number)."
            ),
        ] = None,
        submitted_from: Annotated[
            str | None,
            strawberry.argument(
                description="Submitted at or after (ISO 8601 date or time, UTC if no zone)."
            ),
        ] = None,
        submitted_to: Annotated[
            str | None,
            strawberry.argument(
                description="Submitted at or before (ISO 8601 date or time, UTC if no zone)."
            ),
        ] = None,
        first: First = 20,
        after: After = None,
    ) -> LeadConnection | None:
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
    async def case(
        self,
        info: Info,
        number: Annotated[
            str, strawberry.argument(description="The case number, e.g. J1101052026000777.")
        ],
    ) -> JointCase | None:
        office, actor, declared = desk(info)
        return case_object(info.context, await office.case(actor, declared, number))

    @link(OFFICE, W, description=f"Cases opened from leads, 1 to {MAX_PAGE} a page.")
    async def cases(
        self,
        info: Info,
        state: Annotated[
            CaseStateEnum | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only cases in this state."),
        ] = None,
        first: First = 20,
        after: After = None,
    ) -> JointCaseConnection | None:
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
        self,
        info: Info,
        period: Annotated[IndicatorPeriod, strawberry.argument(description="Months or quarters.")],
        start: Annotated[
            str,
            strawberry.argument(
                name="from",
                description="The first period, included: 2026-09 (MONTH) or 2026-Q3 (QUARTER).",
            ),
        ],
        end: Annotated[
            str,
            strawberry.argument(
                name="to",
                description="The last period, included (at most 120 periods in all).",
            ),
        ],
        by: Annotated[
            list[IndicatorGrouping] | None,
            strawberry.argument(description="Group the rows by REGION and/or CATEGORY too."),
        ] = None,
    ) -> list[IndicatorRow] | None:
        office, actor, declared = desk(info)
        grouping = cast(list[workflow.Grouping], [g.value for g in by or ()])
        chosen: workflow.Period = period.value
        rows = await office.indicators(actor, declared, chosen, start, end, grouping)
        rules = _rules(info.context)
        return [build(IndicatorRow, _row(r), rules) for r in rows]
