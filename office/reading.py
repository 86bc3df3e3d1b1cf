"""The office's reading side: a lead or case as the caller may see it (``readLead`` decides
whether it exists for them at all), lists of them, filtered and paged newest first."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from kernel.types import Declaration, Principal
from kernel.workflow import (
    Action,
    CaseFile,
    CaseState,
    Lead,
    LeadFilter,
    LeadSubject,
    Page,
    WorkflowError,
)
from office import inputs
from office.access import Standing, allowed, allowed_rows, facts, standing
from office.store import OfficeStore, Stored
from policies.cases import Case, CaseError, CaseStore
from policies.db import Database
from policies.engine import PolicyEngine
from policies.teams import TeamStore

NOT_FOUND = "no such lead"
CASE_NOT_FOUND = "no such case"


def not_found() -> WorkflowError:
    """The one answer for a lead that is missing and for one the caller may not read."""
    return WorkflowError("LEAD_NOT_FOUND", NOT_FOUND)


def case_not_found() -> WorkflowError:
    return WorkflowError("CASE_NOT_FOUND", CASE_NOT_FOUND)


class Reading:
    """What :class:`office.desk.OfficeDesk` reads with (blocking: called in a thread)."""

    db: Database
    store: OfficeStore
    cases_store: CaseStore
    teams: TeamStore | None
    engine: Callable[[], PolicyEngine]
    clock: Callable[[], float]

    def _readable(
        self, actor: Principal, declaration: Declaration, lead_id: str
    ) -> tuple[Stored, Standing]:
        who = standing(self.db, self.teams, actor, declaration)
        try:
            lead_id = inputs.lead_id(lead_id)
        except WorkflowError:
            raise not_found() from None
        return self._get_readable(who, lead_id), who

    def _get_readable(self, who: Standing, lead_id: str) -> Stored:
        stored = self.store.get(lead_id)
        if stored is None:
            raise not_found()
        if not allowed(self.engine, who, Action.READ, [facts(stored.lead, stored.referred_to)])[0]:
            raise not_found()
        return stored

    def _facts_of(self, lead_ids: Collection[str]) -> list[tuple[Any, ...]]:
        """The policy facts (``OfficeStore.facts``) of these leads, asked 500 at a time."""
        wanted, rows = sorted(set(lead_ids)), []
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ", ".join("?" for _ in chunk)
            rows.extend(self.store.facts(f" WHERE id IN ({marks})", chunk))
        return rows

    def _readable_ids(self, who: Standing, rows: Sequence[Sequence[Any]]) -> list[str]:
        decisions = allowed_rows(self.engine, who, Action.READ, rows)
        return [str(r[0]) for r, ok in zip(rows, decisions, strict=True) if ok]

    def _leads(
        self,
        actor: Principal,
        declaration: Declaration,
        where: LeadFilter,
        first: int,
        after: str | None,
    ) -> Page[Lead]:
        first = inputs.page_size(first)
        start = inputs.position(after)
        clause, params = _where(where, self.clock())
        rows = self.store.facts(clause, params)
        who = standing(self.db, self.teams, actor, declaration)
        decisions = allowed_rows(self.engine, who, Action.READ, rows)
        readable = [r for r, ok in zip(rows, decisions, strict=True) if ok]
        total = len(readable)
        if start is not None:
            readable = [r for r in readable if (float(r[9]), str(r[0])) < start]
        page = readable[:first]
        ids = [str(r[0]) for r in page]
        marks = ", ".join("?" for _ in ids)
        found = (
            {s.lead.id: s.lead for s in self.store.read(f" WHERE id IN ({marks})", ids)}
            if ids
            else {}
        )
        items = tuple(found[i] for i in ids if i in found)
        more = len(readable) > first
        cursor = inputs.cursor([page[-1][9], page[-1][0]]) if more and page else None
        return Page(items, total, cursor)

    def _case(self, actor: Principal, declaration: Declaration, number: str) -> CaseFile:
        try:
            canonical = inputs.case_id(number)
        except WorkflowError:
            raise case_not_found() from None
        lead_id = self.store.lead_of_case(canonical)
        if lead_id is None:
            raise case_not_found()
        try:
            stored, _ = self._readable(actor, declaration, lead_id)
        except WorkflowError:
            raise case_not_found() from None
        found = self._case_file(stored)
        if found is None:
            raise case_not_found()
        return found

    def _cases(
        self,
        actor: Principal,
        declaration: Declaration,
        state: CaseState | None,
        first: int,
        after: str | None,
    ) -> Page[CaseFile]:
        first = inputs.page_size(first)
        start = inputs.position(after)
        who = standing(self.db, self.teams, actor, declaration)
        rows = self.store.facts(" WHERE case_number IS NOT NULL", ())
        ids = self._readable_ids(who, rows)
        marks = ", ".join("?" for _ in ids)
        stored = self.store.read(f" WHERE id IN ({marks})", ids) if ids else []
        registered = {c.number: c for c in self.cases_store.cases()}
        files = [
            _case_file(s, registered[s.lead.case_number])
            for s in stored
            if s.lead.case_number in registered
        ]
        files = [f for f in files if state is None or f.state is state]
        files.sort(key=lambda f: (f.opened_at, f.number), reverse=True)
        total = len(files)
        if start is not None:
            files = [f for f in files if (f.opened_at, f.number) < start]
        page = files[:first]
        more = len(files) > first
        cursor = inputs.cursor([page[-1].opened_at, page[-1].number]) if more and page else None
        return Page(tuple(page), total, cursor)

    def _case_file(self, stored: Stored) -> CaseFile | None:
        if stored.lead.case_number is None:
            return None
        try:
            registered = self.cases_store.get(stored.lead.case_number)
        except CaseError:
            return None
        return _case_file(stored, registered)


def _case_file(stored: Stored, case: Case) -> CaseFile:
    return CaseFile(
        number=case.number,
        agency=case.agency,
        title=case.title,
        state=CaseState.OPEN if case.open else CaseState.CLOSED,
        lead_id=stored.lead.id,
        opened_at=case.opened_at,
        opened_by=case.registered_by,
        officials=case.officials,
        team=stored.case_team,
        subjects=tuple(LeadSubject(s.kind, s.identifier) for s in case.subjects),
        closed_at=case.closed_at,
        closed_by=case.closed_by,
        closing_note=stored.closing_note,
    )


def _where(where: LeadFilter, now: float) -> tuple[str, list[object]]:
    """The SQL of a filter (fixed fragments; values are parameters)."""
    parts: list[str] = []
    params: list[object] = []
    if where.states:
        parts.append(f"state IN ({', '.join('?' for _ in where.states)})")
        params += [s.value for s in where.states]
    if where.category is not None:
        parts.append("category = ?")
        params.append(where.category.value)
    if where.region:
        if not where.region.isdigit() or len(where.region) > 6:
            raise inputs.bad("region is a code prefix of up to 6 digits", field="region")
        parts.append("region LIKE ?")
        params.append(where.region + "%")
    if where.source_agency is not None:
        parts.append("source_agency = ?")
        params.append(where.source_agency)
    if where.major is not None:
        parts.append("major = ?")
        params.append(1 if where.major else 0)
    if where.overdue is not None:
        overdue = (
            "(major = 1 AND acknowledged_at IS NULL AND major_deadline IS NOT NULL"
            " AND major_deadline < ?)"
        )
        parts.append(overdue if where.overdue else f"NOT {overdue}")
        params.append(now)
    if where.submitted_from is not None:
        parts.append("submitted_at >= ?")
        params.append(where.submitted_from)
    if where.submitted_to is not None:
        parts.append("submitted_at < ?")
        params.append(where.submitted_to)
    if where.subject is not None:
        named = inputs.subjects([where.subject])
        parts.append(
            "EXISTS (SELECT 1 FROM jg_lead_subjects s WHERE s.lead_id = jg_leads.id"
            " AND s.identifier = ?)"
        )
        params.append(named[0].identifier)
    return (" WHERE " + " AND ".join(parts) if parts else ""), params
