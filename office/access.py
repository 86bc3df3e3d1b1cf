"""How a caller stands to leads: which cases they are assigned to, what the policies see of a
lead and of the request, and the Cedar decisions (``policies/actions.py``) over them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kernel.identifiers import InvalidIdentifier, check_case_id
from kernel.types import Declaration, Principal
from kernel.workflow import Action, Lead
from policies.actions import ActionContext, LeadFacts, decide_many
from policies.db import Database
from policies.engine import PolicyEngine
from policies.teams import TeamStore


def facts(lead: Lead, referred_to: str | None) -> LeadFacts:
    verification = lead.verification
    return LeadFacts(
        source_agency=lead.source_agency,
        submitted_by=lead.submitted_by,
        state=lead.state.value,
        category=lead.category.value,
        major=lead.major,
        verified_by_agency=verification.by_agency if verification is not None else "",
        referred_to=referred_to or "",
        case_number=lead.case_number or "",
    )


def row_facts(row: Sequence[Any]) -> LeadFacts:
    """From :meth:`OfficeStore.facts`'s row."""
    _, source, by, state, category, major, verified_by, referred_to, case_number, _ = row
    return LeadFacts(
        source_agency=str(source),
        submitted_by=str(by),
        state=str(state),
        category=str(category),
        major=bool(major),
        verified_by_agency=str(verified_by or ""),
        referred_to=str(referred_to or ""),
        case_number=str(case_number or ""),
    )


def declared_case(declaration: Declaration) -> str | None:
    """The declared case in its canonical form (None: none, or not a case id)."""
    if not declaration.case_id:
        return None
    try:
        return check_case_id(declaration.case_id)
    except InvalidIdentifier:
        return None


@dataclass(frozen=True, slots=True)
class Standing:
    """One caller in one request: who, why, and the cases they are assigned to now."""

    actor: Principal
    declaration: Declaration
    cases: frozenset[str]  # directly, or through an active team membership
    declared: str | None

    def context(self, case_number: str | None) -> ActionContext:
        return ActionContext.of(
            self.declaration,
            declared_case_matches=case_number is not None and self.declared == case_number,
            assigned=case_number is not None and case_number in self.cases,
        )


def standing(
    db: Database, teams: TeamStore | None, actor: Principal, declaration: Declaration
) -> Standing:
    """The cases ``actor`` is assigned to: as an official (not removed), or through an active
    membership of a team covering them (team windows are real time)."""
    rows = db.query(
        "SELECT case_number FROM jg_case_officials WHERE subject = ? AND removed_at IS NULL",
        (actor.subject,),
    )
    cases = {str(r[0]) for r in rows}
    if teams is not None:
        now = time.time()
        for team in teams.list():
            if team.member_active(actor.subject, now):
                cases.update(team.cases)
    return Standing(actor, declaration, frozenset(cases), declared_case(declaration))


def allowed(
    engine: Callable[[], PolicyEngine],
    who: Standing,
    action: Action,
    leads: Sequence[LeadFacts],
) -> list[bool]:
    """One decision per lead, with the engine in force now."""
    pairs = [(lead, who.context(lead.case_number or None)) for lead in leads]
    return [d.allowed for d in decide_many(engine(), who.actor, action, pairs)]


def allowed_rows(
    engine: Callable[[], PolicyEngine],
    who: Standing,
    action: Action,
    rows: Sequence[Sequence[Any]],
) -> list[bool]:
    """:func:`allowed` over :meth:`OfficeStore.facts`'s rows: each distinct set of facts made
    and decided once (a list of thousands of leads has few), then answered per row."""
    keys = [tuple(r[1:9]) for r in rows]
    distinct = list(dict.fromkeys(keys))
    decisions = allowed(engine, who, action, [row_facts((None, *k, None)) for k in distinct])
    decided = dict(zip(distinct, decisions, strict=True))
    return [decided[k] for k in keys]
