"""Opening and closing the case of a lead: the case registry's entry (policies/cases.py,
source ``workflow``) registered or closed in the transaction that moves the lead, and the joint
team the case may join (docs/workflows.md, "States")."""

from __future__ import annotations

import contextlib
from typing import Any

from kernel.types import Principal
from kernel.workflow import Lead
from office import inputs
from office.store import OfficeStore, Statement, conflicts
from policies.cases import CaseError, CaseStore, Subject
from policies.teams import Team, TeamError, TeamStore

WORKFLOW = "workflow"  # the case registry's source of cases opened here
NO_TEAM = "no open joint team investigating this lead's subjects"


class CaseOpening:
    """What :class:`office.desk.OfficeDesk` opens and closes cases with (blocking: called in the
    desk's worker thread, inside its retries)."""

    store: OfficeStore
    cases_store: CaseStore
    teams: TeamStore | None

    def _investigating(self, team_id: str, lead: Lead) -> bool:
        """Whether open team ``team_id`` investigates one of ``lead``'s subjects (a subject of
        a case it covers): only such a team may take the case opened from the lead. Naming
        another would widen its members' access to subjects nobody gave them, and would tell the
        opener which other teams exist; both answer as a team that does not exist."""
        assert self.teams is not None
        try:
            team = self.teams.get(team_id)
        except TeamError:
            return False
        named = {s.identifier for s in lead.subjects}
        return bool(named & _team_subjects(self.cases_store, team))

    def _open_case(
        self,
        actor: Principal,
        lead: Lead,
        sets: dict[str, object],
        extra: dict[str, Any],
        now: float,
        statements: list[Statement],
    ) -> None:
        number, team = str(sets["case_number"]), sets.get("case_team")
        if team is not None:
            if self.teams is None or not self._investigating(str(team), lead):
                raise inputs.bad(NO_TEAM, field="team")
            try:
                statements += self.teams.covering(str(team), number)
            except TeamError:
                raise inputs.bad(NO_TEAM, field="team") from None
        try:
            with conflicts():
                self.cases_store.register(
                    number, agency=actor.agency, title=extra["title"], by=actor.subject,
                    source=WORKFLOW, opened_at=now,
                    subjects=[Subject(s.kind, s.identifier) for s in lead.subjects],
                    officials=extra["officials"], then=statements,
                )  # fmt: skip
        except CaseError as exc:
            raise inputs.bad(str(exc), field="caseNumber") from None
        if team is not None and self.teams is not None:
            self.teams.changed()

    def _close_case(
        self, actor: Principal, number: str, now: float, statements: list[Statement]
    ) -> None:
        try:
            registered = self.cases_store.get(number)
        except CaseError:
            registered = None
        if registered is None or not registered.open:  # closed in the registry by hand
            self.store.commit(statements)
            return
        with conflicts():
            self.cases_store.close(number, by=actor.subject, at=now, then=statements)


def _team_subjects(cases: CaseStore, team: Team) -> frozenset[str]:
    found: set[str] = set()
    for number in team.cases:
        with contextlib.suppress(CaseError):
            found |= cases.get(number).identifiers
    return frozenset(found)
