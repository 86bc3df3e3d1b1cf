"""The joint office's desk: ``kernel.workflow.Desk`` over the office's store, the case registry,
the teams and the Cedar policies in force (docs/workflows.md).

Every call decides with the policies (``policies/60-workflow.cedar``) for the caller under
their declaration, in this order, each refusal a :class:`WorkflowError`:

1. the input (``BAD_USER_INPUT``, naming the field; nothing is read before it is checked);
2. the idempotency key: used before by the caller for this action and input, the first result
   again (``replayed``: nothing written, no event); for anything else ``IDEMPOTENCY_KEY_REUSED``;
3. the lead: missing, or one the caller may not read (``readLead``), both ``LEAD_NOT_FOUND``
   with the same message (no oracle); a case likewise ``CASE_NOT_FOUND``;
4. the action (``ACTION_FORBIDDEN``: the caller may read the lead, not do this to it);
5. the state machine (``kernel.workflow.next_state``: ``ILLEGAL_TRANSITION``).

A mutation commits its lead's update, its history row and its key in one transaction (and, for
``openCase``/``closeCase``, the case registry's change); a collision with another replica
acting on the same lead rolls it back, and the call is decided again on the lead as it now is.
Events are published only after the commit. The blocking database work runs in a thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from kernel.types import Declaration, Principal
from kernel.workflow import (
    Action,
    CaseFile,
    CaseState,
    Change,
    Done,
    EventKind,
    Grouping,
    IndicatorRow,
    Lead,
    LeadEvent,
    LeadFilter,
    LeadState,
    Page,
    Period,
    SubmitInput,
    WorkflowError,
    next_state,
)
from office import inputs
from office.access import Standing, allowed, facts, standing
from office.indicators import indicators
from office.major import assess
from office.opening import CaseOpening
from office.reading import Reading, case_not_found
from office.settings import OfficeSettings
from office.store import (
    Conflict,
    KeyUse,
    OfficeStore,
    history_row,
)
from policies.cases import CaseStore
from policies.db import Database
from policies.engine import PolicyEngine
from policies.teams import TeamStore

log = logging.getLogger("jointgate.office")
T = TypeVar("T")

_ATTEMPTS = 3
_EVENT = {
    LeadState.SUBMITTED: EventKind.SUBMITTED,
    LeadState.VERIFIED: EventKind.VERIFIED,
    LeadState.UNFOUNDED: EventKind.UNFOUNDED,
    LeadState.REFERRED: EventKind.REFERRED,
    LeadState.CASE_OPENED: EventKind.CASE_OPENED,
    LeadState.CLOSED: EventKind.CLOSED,
}


class OfficeDesk(Reading, CaseOpening):
    """Implements :class:`kernel.workflow.Desk`. ``engine`` returns the policy engine in force
    (``PolicyStore.engine``: reloads apply at once); ``clock`` the time (tests and the demo
    set it); ``publish`` gets each event after its change committed, on the event loop's
    thread (never for a replay)."""

    def __init__(
        self,
        db: Database,
        cases: CaseStore,
        teams: TeamStore | None,
        engine: Callable[[], PolicyEngine],
        settings: OfficeSettings,
        publish: Callable[[LeadEvent], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.store = OfficeStore(db)
        self.cases_store = cases
        self.teams = teams
        self.engine = engine
        self.settings = settings
        self.publish = publish
        self.clock = clock

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(functools.partial(function, *args))

    # -- reading -------------------------------------------------------------------------------

    async def lead(self, actor: Principal, declaration: Declaration, lead_id: str) -> Lead:
        return (await self._run(self._readable, actor, declaration, lead_id))[0].lead

    async def leads(
        self,
        actor: Principal,
        declaration: Declaration,
        where: LeadFilter,
        first: int,
        after: str | None,
    ) -> Page[Lead]:
        return await self._run(self._leads, actor, declaration, where, first, after)

    async def case(self, actor: Principal, declaration: Declaration, number: str) -> CaseFile:
        return await self._run(self._case, actor, declaration, number)

    async def cases(
        self,
        actor: Principal,
        declaration: Declaration,
        state: CaseState | None,
        first: int,
        after: str | None,
    ) -> Page[CaseFile]:
        return await self._run(self._cases, actor, declaration, state, first, after)

    async def indicators(
        self,
        actor: Principal,
        declaration: Declaration,
        period: Period,
        start: str,
        end: str,
        by: Sequence[Grouping],
    ) -> list[IndicatorRow]:
        def run() -> list[IndicatorRow]:
            who = standing(self.db, self.teams, actor, declaration)
            ids = self._readable_ids(who, self.store.facts("", ()))
            return indicators(self.store, ids, period, start, end, by)

        return await self._run(run)

    async def readable(
        self, actor: Principal, declaration: Declaration, lead_ids: Sequence[str]
    ) -> frozenset[str]:
        def run() -> frozenset[str]:
            if not lead_ids:
                return frozenset()
            who = standing(self.db, self.teams, actor, declaration)
            return frozenset(self._readable_ids(who, self._facts_of(lead_ids)))

        return await self._run(run)

    async def overdue_count(self, now: float | None = None) -> int:
        """Major leads past their deadline and not acknowledged (the metric)."""
        at = self.clock() if now is None else now
        return await self._run(self.store.overdue_count, at)

    async def sweep_overdue(self, now: float | None = None) -> list[LeadEvent]:
        """Claim every major lead newly overdue at ``now`` (once across replicas: an atomic
        UPDATE), publish a ``MAJOR_OVERDUE`` event for each, and return them."""
        at = self.clock() if now is None else now

        def run() -> list[LeadEvent]:
            events = []
            for lead_id in self.store.claim_overdue(at):
                stored = self.store.get(lead_id)
                if stored is not None:
                    events.append(_event(EventKind.MAJOR_OVERDUE, stored.lead, at, "office"))
            return events

        events = await self._run(run)
        self._publish(events)
        return events

    # -- acting --------------------------------------------------------------------------------

    async def submit(
        self, actor: Principal, declaration: Declaration, key: str, lead: SubmitInput
    ) -> Done:
        done = await self._run(self._retrying, self._submit, actor, declaration, key, lead)
        self._publish(done.events)
        return done

    async def verify(
        self,
        actor: Principal,
        declaration: Declaration,
        key: str,
        lead_id: str,
        outcome: LeadState,
        findings: str,
    ) -> Done:
        outcome = inputs.outcome(outcome)
        findings = inputs.text(findings, "findings", inputs.MAX_NOTE)
        sets = {"verified_outcome": outcome.value, "findings": findings}
        return await self._act(
            actor, declaration, key, lead_id, Action.VERIFY, outcome, sets, (outcome, findings)
        )

    async def refer(
        self,
        actor: Principal,
        declaration: Declaration,
        key: str,
        lead_id: str,
        receiving_unit: str,
        note: str,
    ) -> Done:
        unit = inputs.text(receiving_unit, "receivingUnit", inputs.MAX_UNIT)
        note = inputs.text(note, "note", inputs.MAX_NOTE, required=False)
        sets = {"referred_to": "police", "receiving_unit": unit, "referral_note": note}
        return await self._act(
            actor, declaration, key, lead_id, Action.REFER, None, sets, (unit, note)
        )

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
    ) -> Done:
        number = inputs.police_case(case_number)
        title = inputs.text(title, "title", inputs.MAX_TITLE)
        people = inputs.officials(officials) or (actor.subject,)
        if team is not None:
            team = inputs.text(team, "team", 64)
        sets: dict[str, object] = {"case_number": number, "case_team": team}
        extra = {"title": title, "officials": people}
        return await self._act(
            actor, declaration, key, lead_id, Action.OPEN_CASE, None, sets,
            (number, title, people, team), extra,
        )  # fmt: skip

    async def record_feedback(
        self, actor: Principal, declaration: Declaration, key: str, lead_id: str, note: str
    ) -> Done:
        note = inputs.text(note, "note", inputs.MAX_NOTE)
        return await self._act(
            actor, declaration, key, lead_id, Action.FEEDBACK, None, {}, (note,), {"note": note}
        )

    async def close_case(
        self, actor: Principal, declaration: Declaration, key: str, case_number: str, note: str
    ) -> Done:
        number = inputs.case_id(case_number)
        note = inputs.text(note, "note", inputs.MAX_NOTE, required=False)
        inputs.idempotency_key(key)

        def find() -> str:
            lead_id = self.store.lead_of_case(number)
            if lead_id is None:
                raise case_not_found()
            return lead_id

        try:
            lead_id = await self._run(find)
            return await self._act(
                actor, declaration, key, lead_id, Action.CLOSE_CASE, None,
                {"closing_note": note}, (number, note),
            )  # fmt: skip
        except WorkflowError as exc:
            if exc.code == "LEAD_NOT_FOUND":
                raise case_not_found() from None
            raise

    async def acknowledge(
        self, actor: Principal, declaration: Declaration, key: str, lead_id: str, note: str
    ) -> Done:
        note = inputs.text(note, "note", inputs.MAX_NOTE, required=False)
        sets = {"acknowledged_note": note}
        return await self._act(
            actor, declaration, key, lead_id, Action.ACKNOWLEDGE, None, sets, (note,)
        )

    # -- the work, in a thread -----------------------------------------------------------------

    def _retrying(self, function: Callable[..., Done], *args: Any) -> Done:
        for attempt in range(_ATTEMPTS):
            try:
                return function(*args)
            except Conflict:
                if attempt == _ATTEMPTS - 1:
                    raise
                log.info("a concurrent change to the same lead or key: deciding again")
        raise AssertionError("unreachable")

    def _submit(
        self, actor: Principal, declaration: Declaration, key: str, given: SubmitInput
    ) -> Done:
        key = inputs.idempotency_key(key)
        description = inputs.text(given.description, "description", inputs.MAX_DESCRIPTION)
        named = inputs.subjects(given.subjects)
        region = inputs.region(given.region, named)
        amount, victims = inputs.amount(given.amount), inputs.victims(given.victims)
        attachments = inputs.attachments(given.attachments)
        digest = inputs.digest(
            Action.SUBMIT.value, given.category.value, description,
            [(s.kind, s.identifier) for s in named], region, amount, victims, attachments,
        )  # fmt: skip
        who = standing(self.db, self.teams, actor, declaration)
        replay = self._replay(who, key, Action.SUBMIT, digest)
        if replay is not None:
            return replay
        now = self.clock()
        draft = Lead(
            id="", state=LeadState.SUBMITTED, category=given.category,
            source_agency=actor.agency, submitted_by=actor.subject, submitted_at=now,
            updated_at=now, region=region, description=description,
        )  # fmt: skip
        if not allowed(self.engine, who, Action.SUBMIT, [facts(draft, None)])[0]:
            raise WorkflowError("ACTION_FORBIDDEN", "you may not submit leads")
        state = next_state(Action.SUBMIT, None)
        major = assess(
            self.store, self.settings, amount=amount, victims=victims,
            identifiers=[s.identifier for s in named], at=now,
            readable=lambda ids: self._readable_ids(who, self._facts_of(ids)),
        )  # fmt: skip
        lead_id = self.store.allocate_id(_year(now))
        lead = Lead(
            id=lead_id, state=state, category=given.category, source_agency=actor.agency,
            submitted_by=actor.subject, submitted_at=now, updated_at=now, region=region,
            description=description, amount=amount, victims=victims, attachments=attachments,
            subjects=named, major=major.major, major_reasons=major.reasons,
            major_deadline=major.deadline,
        )  # fmt: skip
        change = Change("lead", lead_id, Action.SUBMIT.value, None, state.value)
        use = KeyUse(Action.SUBMIT.value, digest, lead_id, now, _result([change], None))
        self.store.commit(
            [
                *self.store.insert(lead),
                history_row(lead_id, 1, Action.SUBMIT.value, None, state, actor.subject,
                            actor.agency, now),
                self.store.remember(actor.subject, key, use),
            ]
        )  # fmt: skip
        events = [_event(EventKind.SUBMITTED, lead, now, actor.agency)]
        if lead.major:
            events.append(_event(EventKind.MAJOR_FLAGGED, lead, now, actor.agency))
        return Done(lead, (change,), tuple(events))

    async def _act(
        self,
        actor: Principal,
        declaration: Declaration,
        key: str,
        lead_id: str,
        action: Action,
        wanted: LeadState | None,
        sets: Mapping[str, object],
        given: tuple[object, ...],
        extra: dict[str, Any] | None = None,
    ) -> Done:
        key = inputs.idempotency_key(key)
        lead_id = inputs.lead_id(lead_id)
        digest = inputs.digest(action.value, lead_id, *given)
        done = await self._run(
            self._retrying, self._transition, actor, declaration, key, lead_id, action, wanted,
            sets, digest, extra or {},
        )  # fmt: skip
        self._publish(done.events)  # on the event loop's thread, after the commit
        return done

    def _transition(
        self,
        actor: Principal,
        declaration: Declaration,
        key: str,
        lead_id: str,
        action: Action,
        wanted: LeadState | None,
        sets: Mapping[str, object],
        digest: str,
        extra: dict[str, Any],
    ) -> Done:
        who = standing(self.db, self.teams, actor, declaration)
        replay = self._replay(who, key, action, digest)
        if replay is not None:
            return replay
        stored = self._get_readable(who, lead_id)
        lead = stored.lead
        if not allowed(self.engine, who, action, [facts(lead, stored.referred_to)])[0]:
            raise WorkflowError(
                "ACTION_FORBIDDEN", f"you may not {_verb(action)} this lead", action=action.value
            )
        after = next_state(action, lead.state, wanted)
        now = self.clock()
        sets = dict(sets)
        if action is Action.VERIFY:
            sets |= {"verified_by": actor.subject, "verified_by_agency": actor.agency,
                     "verified_at": now}  # fmt: skip
        elif action is Action.REFER:
            sets |= {"referred_by": actor.subject, "referred_by_agency": actor.agency,
                     "referred_at": now}  # fmt: skip
        elif action is Action.ACKNOWLEDGE:
            if not lead.major or lead.major_acknowledged_at is not None:
                raise WorkflowError(
                    "ILLEGAL_TRANSITION",
                    "only a major event not yet acknowledged can be acknowledged",
                    state=lead.state.value, action=action.value,
                )  # fmt: skip
            sets |= {"acknowledged_at": now, "acknowledged_by": actor.subject}
        statements = self.store.transition(
            stored, action.value, after, actor.subject, actor.agency, now, sets
        )
        if action is Action.FEEDBACK:
            feedback_id = f"F-{uuid.uuid4().hex[:12]}"
            statements.append(
                self.store.feedback_row(
                    feedback_id, lead.id, extra["note"], actor.subject, actor.agency, now
                )
            )
        changes = [Change("lead", lead.id, action.value, lead.state.value, after.value)]
        case_number = lead.case_number
        if action is Action.OPEN_CASE:
            case_number = str(sets["case_number"])
            changes.append(Change("case", case_number, action.value, None, CaseState.OPEN.value))
        elif action is Action.CLOSE_CASE and case_number is not None:
            changes.append(
                Change("case", case_number, action.value, CaseState.OPEN.value, "CLOSED")
            )
        use = KeyUse(action.value, digest, lead.id, now, _result(changes, case_number))
        statements.append(self.store.remember(actor.subject, key, use))
        if action is Action.OPEN_CASE:
            self._open_case(actor, lead, sets, extra, now, statements)
        elif action is Action.CLOSE_CASE and case_number is not None:
            self._close_case(actor, case_number, now, statements)
        else:
            self.store.commit(statements)
        fresh = self.store.get(lead.id)
        assert fresh is not None
        kind = {
            Action.FEEDBACK: EventKind.FEEDBACK,
            Action.ACKNOWLEDGE: EventKind.MAJOR_ACKNOWLEDGED,
        }.get(action, _EVENT[after])
        events = [_event(kind, fresh.lead, now, actor.agency)]
        return Done(fresh.lead, tuple(changes), tuple(events), self._case_file(fresh))

    def _replay(self, who: Standing, key: str, action: Action, digest: str) -> Done | None:
        use = self.store.key_use(who.actor.subject, key)
        if use is None:
            return None
        if use.action != action.value or use.input_hash != digest:
            raise WorkflowError(
                "IDEMPOTENCY_KEY_REUSED",
                "this idempotency key was used before for another request: use a new key",
            )
        stored = self._get_readable(who, use.lead_id)
        changes = tuple(
            Change(c["entity"], c["id"], c["action"], c["before"], c["after"], replayed=True)
            for c in use.result.get("changes", ())
        )
        return Done(stored.lead, changes, (), self._case_file(stored), replayed=True)

    def _publish(self, events: Sequence[LeadEvent]) -> None:
        if self.publish is None:
            return
        for event in events:
            try:
                self.publish(event)
            except Exception as exc:  # the change is committed; subscribers miss one event
                log.warning("lead event %s not published: %s", event.kind.value, exc)


def _result(changes: Sequence[Change], case_number: str | None) -> dict[str, Any]:
    return {"changes": [c.as_dict() for c in changes], "case": case_number}


def _event(kind: EventKind, lead: Lead, at: float, agency: str) -> LeadEvent:
    return LeadEvent(
        event_id=uuid.uuid4().hex,
        kind=kind,
        lead_id=lead.id,
        state=lead.state,
        at=at,
        actor_agency=agency,
        case_number=lead.case_number,
        major=lead.major,
    )


def _year(at: float) -> int:
    return dt.datetime.fromtimestamp(at, tz=CHINA).year


CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def _verb(action: Action) -> str:
    return {
        Action.VERIFY: "verify",
        Action.REFER: "refer",
        Action.OPEN_CASE: "open a case from",
        Action.FEEDBACK: "record feedback on",
        Action.CLOSE_CASE: "close the case of",
        Action.ACKNOWLEDGE: "acknowledge",
    }.get(action, action.value)
