"""The joint office's mutations (``Mutation``) and live events (``Subscription``), issue 18.

**Mutations.** ``submitLead``, ``verifyLead``, ``referLead``, ``openCase``, ``recordFeedback``,
``closeCase`` and ``acknowledgeMajorEvent`` each take a required ``idempotencyKey`` (1 to
MAX_KEY printable characters, the caller's own: the same key and input again answers the
first result with ``replayed: true``; the same key with another input is
``IDEMPOTENCY_KEY_REUSED``) and return a :class:`LeadPayload` (``lead``, ``case``,
``replayed``). They run through the whole pipeline like a query: purpose and case declared,
the root field decided by the field policies (who could do this at all), the lead by the desk
(``kernel.workflow.Desk``: Cedar action rules, the state machine). What changed goes into the
request's audit record (``AuditRecord.changes``: states and ids only; a replay is flagged
``idempotent-replay``); a refused one leaves its error code there. A
:class:`kernel.workflow.WorkflowError` reaches the client as an error whose
``extensions.code`` is its code (gateway/respond.py).

**Subscriptions.** ``leadEvents(kinds:)`` and ``majorEvents`` are not run by graphql-core's
``subscribe``: the WebSocket transport (gateway/subscriptions.py) executes the subscriber's
document once per event with the event as the root value::

    graphql.execute(schema, document, root_value=<kernel.workflow.LeadEvent>, context_value=ctx)

so these resolvers take the event from the root value (a ``LeadEvent`` or its ``as_json``
dict), and answer null when it is not for this subscriber: not a kind it asked for
(:func:`wanted`, which the transport may call first to skip the execution), or about a lead
the subscriber may not read now (``Desk.readable``). A null payload is not delivered. ``ctx``
must be a request context like a query's: ``principal``, ``declaration``, ``plan`` (authorized
for the subscription's operation), ``office`` and, for subject links, ``loaders``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

import strawberry

from kernel import workflow
from kernel.types import Declaration, Principal, RequestContext
from kernel.workflow import EventKind, LeadCategory, LeadState
from schema.base import attr, build, embedded_type, link, record_data
from schema.office import (
    OFFICE,
    EventKindEnum,
    JointCase,
    Lead,
    LeadCategoryEnum,
    LeadStateEnum,
    W,
    case_object,
    desk,
    iso,
    lead_object,
    now,
)
from schema.paging import InvalidArgument

Info = strawberry.Info[RequestContext, None]
MAX_KEY = 200  # characters of an idempotency key
REPLAY_FLAG = "idempotent-replay"
KEY_HELP = "idempotencyKey: yours, unique per change; the same again answers the first result"
KEY_DOC = (
    "Yours, unique per change, 1 to 200 printable ASCII characters (a UUID will do): the same"
    " key and input again answer the first result, marked replayed."
)
LeadId = Annotated[
    strawberry.ID, strawberry.argument(description="The lead's id, e.g. L-2026-000001.")
]
Key = Annotated[str, strawberry.argument(description=KEY_DOC)]


@strawberry.input(
    description="A new lead: its subjects as typed; the kind of each is told from the identifier,"
    " its check verified."
)
class SubmitLeadInput:
    """A new lead: ``subjects`` as typed (USCC, resident ID or account number: the kind is told
    from the identifier, its check verified)."""

    category: LeadCategoryEnum = strawberry.field(  # type: ignore[valid-type]
        description="What the lead is about."
    )
    description: str = strawberry.field(
        description="What is reported, free text (at most 4,000 characters)."
    )
    subjects: list[str] = strawberry.field(
        description="Up to 50 USCCs, resident ID numbers or account numbers; where one passes two"
        " checks, say which: `resident-id:110105...`, `account:6222...`."
    )
    amount: float | None = strawberry.field(
        default=None, description="The amount involved, in yuan (CNY), 0 to 10^15."
    )  # CNY involved, as reported
    victims: int | None = strawberry.field(
        default=None, description="How many victims, 0 to 10,000,000."
    )
    region: str | None = strawberry.field(
        default=None,
        description="The 6-digit administrative division code; by default the first subject's.",
    )  # 6-digit division code; else the first subject's
    attachments: list[str] | None = strawberry.field(
        default=None,
        description="Up to 20 references to documents in agency systems (ids, URLs; 500"
        " characters each), not files.",
    )  # references into agency systems, not files


@embedded_type(agency=OFFICE, doc="What a mutation did: the lead (and case) after it.")
class LeadPayload:
    """What a mutation did: the lead (and case) after it; ``replayed``: an idempotent retry
    answered from the first time, nothing changed."""

    lead: Lead | None = attr(W, 0, doc="The lead after the mutation.")
    case: JointCase | None = attr(
        W, 0, doc="The case after it (openCase, closeCase); null for the others."
    )
    replayed: bool = attr(
        W, 0, doc="True for an idempotent retry answered from the first time: nothing changed."
    )


def _key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY or not key.isprintable() or key != key.strip():
        raise InvalidArgument(
            "idempotencyKey", f"1 to {MAX_KEY} printable characters, no surrounding spaces"
        )
    return key


Run = Callable[[workflow.Desk, Principal, Declaration], Awaitable[workflow.Done]]


async def _done(info: Info, run: Run) -> LeadPayload:
    office, actor, declared = desk(info)
    done = await run(office, actor, declared)
    ctx = info.context
    record = ctx.audit
    for change in done.changes:
        shown = change.as_dict()
        if done.replayed:
            shown["replayed"] = True
        record.changes.append(shown)
    if done.replayed:
        record.flag(REPLAY_FLAG)
    lead = lead_object(ctx, done.lead, now())
    case = case_object(ctx, done.case) if done.case is not None else None
    assert ctx.plan is not None
    payload = {"lead": lead, "case": case, "replayed": done.replayed}
    return build(LeadPayload, payload, ctx.plan.build_rules)


@strawberry.type
class OfficeMutation:
    @link(OFFICE, W, description=f"Report a lead (线索). {KEY_HELP}.")
    async def submit_lead(
        self,
        info: Info,
        input: Annotated[SubmitLeadInput, strawberry.argument(description="The lead.")],
        idempotency_key: Key,
    ) -> LeadPayload | None:
        key = _key(idempotency_key)
        given = workflow.SubmitInput(
            category=LeadCategory(input.category),
            description=input.description,
            subjects=tuple(input.subjects),
            amount=input.amount,
            victims=input.victims,
            region=input.region,
            attachments=tuple(input.attachments or ()),
        )
        return await _done(info, lambda d, a, c: d.submit(a, c, key, given))

    @link(OFFICE, W, description="Verify a submitted lead: VERIFIED or UNFOUNDED, with findings.")
    async def verify_lead(
        self,
        info: Info,
        lead_id: LeadId,
        outcome: Annotated[
            LeadStateEnum,  # type: ignore[valid-type]
            strawberry.argument(description="VERIFIED or UNFOUNDED."),
        ],
        findings: Annotated[
            str,
            strawberry.argument(
                description="What was found, free text (at most 2,000 characters)."
            ),
        ],
        idempotency_key: Key,
    ) -> LeadPayload | None:
        key, state = _key(idempotency_key), LeadState(outcome)
        return await _done(info, lambda d, a, c: d.verify(a, c, key, str(lead_id), state, findings))

    @link(OFFICE, W, description="Refer a verified lead to the police (移送), to a receiving unit.")
    async def refer_lead(
        self,
        info: Info,
        lead_id: LeadId,
        receiving_unit: Annotated[
            str,
            strawberry.argument(
                description="The receiving police unit (市公安局经侦支队 ...), at most 200"
                " characters."
            ),
        ],
        idempotency_key: Key,
        note: Annotated[
            str, strawberry.argument(description="A note to the police (at most 2,000 characters).")
        ] = "",
    ) -> LeadPayload | None:
        key = _key(idempotency_key)
        return await _done(
            info, lambda d, a, c: d.refer(a, c, key, str(lead_id), receiving_unit, note)
        )

    @link(OFFICE, W, description=(
        "Open a case from a referred lead (the police): it joins the case registry, with its"
        " officials and, optionally, a joint team."
    ))  # fmt: skip
    async def open_case(
        self,
        info: Info,
        lead_id: LeadId,
        case_number: Annotated[
            str,
            strawberry.argument(
                description="The police case number: J + 6-digit region + 4-digit year + 6-digit"
                " sequence."
            ),
        ],
        title: Annotated[
            str, strawberry.argument(description="The case's title (at most 200 characters).")
        ],
        officials: Annotated[
            list[str],
            strawberry.argument(description="The officials on the case (token subjects)."),
        ],
        idempotency_key: Key,
        team: Annotated[
            str | None, strawberry.argument(description="The joint team to work it, if any.")
        ] = None,
    ) -> LeadPayload | None:
        key = _key(idempotency_key)
        return await _done(
            info,
            lambda d, a, c: d.open_case(
                a, c, key, str(lead_id), case_number, title, tuple(officials), team
            ),
        )

    @link(OFFICE, W, description="A progress note on a referred lead or its case (跟踪反馈).")
    async def record_feedback(
        self,
        info: Info,
        lead_id: LeadId,
        note: Annotated[
            str, strawberry.argument(description="The progress note (at most 2,000 characters).")
        ],
        idempotency_key: Key,
    ) -> LeadPayload | None:
        key = _key(idempotency_key)
        return await _done(info, lambda d, a, c: d.record_feedback(a, c, key, str(lead_id), note))

    @link(OFFICE, W, description="Close a case opened from a lead, with a closing note.")
    async def close_case(
        self,
        info: Info,
        case_number: Annotated[
            str, strawberry.argument(description="The case number, e.g. J1101052026000777.")
        ],
        note: Annotated[
            str, strawberry.argument(description="The closing note (at most 2,000 characters).")
        ],
        idempotency_key: Key,
    ) -> LeadPayload | None:
        key = _key(idempotency_key)
        return await _done(info, lambda d, a, c: d.close_case(a, c, key, case_number, note))

    @link(OFFICE, W, description="The joint office received a major lead's report (24 hours).")
    async def acknowledge_major_event(
        self,
        info: Info,
        lead_id: LeadId,
        idempotency_key: Key,
        note: Annotated[
            str, strawberry.argument(description="A note (at most 2,000 characters).")
        ] = "",
    ) -> LeadPayload | None:
        key = _key(idempotency_key)
        return await _done(info, lambda d, a, c: d.acknowledge(a, c, key, str(lead_id), note))


# -- live events ------------------------------------------------------------------------------


@embedded_type(
    agency=OFFICE,
    doc="A change to a lead you may read: what happened, and the lead as you may read it now.",
)
class LeadEvent:
    """A change to a lead you may read: what happened, and the lead as you may read it now."""

    event_id: strawberry.ID = attr(W, 0, doc="The event's id.")
    kind: EventKindEnum = attr(W, 0, doc="What happened.")  # type: ignore[valid-type]
    at: str = attr(W, 0, doc="When (ISO 8601, UTC).")
    lead_id: strawberry.ID = attr(W, 0, doc="The lead's id (L-YYYY-NNNNNN).")
    state: LeadStateEnum = attr(W, 0, doc="The lead's state after the event.")  # type: ignore[valid-type]
    case_number: str | None = attr(W, 1, doc="The case opened from the lead, if any.")
    major: bool = attr(W, 0, doc="Whether the lead is major.")

    @link(OFFICE, W, description="The lead as you may read it now.")
    async def lead(self, info: Info) -> Lead | None:
        office, actor, declared = desk(info)
        found = await office.lead(actor, declared, str(record_data(self)["lead_id"]))
        return lead_object(info.context, found, now())


def wanted(field: str, arguments: Mapping[str, Any], event: workflow.LeadEvent) -> bool:
    """Whether the subscription field ``field`` (``leadEvents``, ``majorEvents``) with its
    ``arguments`` asks for ``event``, before anyone's right to read it is considered."""
    if field == "majorEvents":
        return event.kind.major
    kinds = arguments.get("kinds")
    return not kinds or EventKind(event.kind) in {EventKind(k) for k in kinds}


def event_of(info: Info) -> workflow.LeadEvent | None:
    """The event the transport executes the document for (the root value)."""
    root = info._raw_info.root_value
    if isinstance(root, workflow.LeadEvent):
        return root
    if isinstance(root, Mapping):
        return workflow.LeadEvent.from_json(dict(root))
    return None


async def _deliver(info: Info, field: str, arguments: Mapping[str, Any]) -> LeadEvent | None:
    event = event_of(info)
    if event is None or not wanted(field, arguments, event):
        return None
    office, actor, declared = desk(info)
    if event.lead_id not in await office.readable(actor, declared, [event.lead_id]):
        return None
    ctx = info.context
    ctx.audit.saw("Lead", event.lead_id)
    assert ctx.plan is not None
    data = {
        "event_id": event.event_id, "kind": event.kind, "at": iso(event.at),
        "lead_id": event.lead_id, "state": event.state, "case_number": event.case_number,
        "major": event.major,
    }  # fmt: skip
    return build(LeadEvent, data, ctx.plan.build_rules)


@strawberry.type
class OfficeSubscription:
    @link(OFFICE, W, description=(
        "New or changed leads and cases you may read (`kinds`: only these); over the WebSocket"
        " endpoint (graphql-transport-ws)."
    ))  # fmt: skip
    async def lead_events(
        self,
        info: Info,
        kinds: Annotated[
            list[EventKindEnum] | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only events of these kinds (by default all)."),
        ] = None,
    ) -> LeadEvent | None:
        return await _deliver(info, "leadEvents", {"kinds": kinds})

    @link(OFFICE, W, description="Major events: flagged, acknowledged, overdue (24 hours).")
    async def major_events(self, info: Info) -> LeadEvent | None:
        return await _deliver(info, "majorEvents", {})
