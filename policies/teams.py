"""Joint investigation teams: which members may see each other's data about which cases.

A team covers one or more registered, open cases (``policies/cases.py``), has members, and is
valid from a time until a time (or until closed). Each membership has its own window too (by
default from when the member is added until the team ends). A membership counts only while both
the team and that membership are active, and only for requests whose ``X-Case-Id`` is one of
the team's cases. A team's case ids are taken as the gateway takes ``X-Case-Id``
(``kernel.identifiers.check_case_id``: the documented forms only, in their one canonical form),
so that a case a team covers is the case a request declares, whatever its spelling.

Every change moves the store's version number. The gateway's :class:`TeamDirectory` keeps the
teams in memory, so a request never waits for the database, and re-reads them when the version
moved: at once for a change made through the same database handle, on a change notification
from another process (``gateway/notify.py``), and at the notifier's periodic re-check, so a lost
notification still converges.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kernel.identifiers import InvalidIdentifier, check_case_id, normalize_case_id
from kernel.text import unfit_name
from policies.cases import ensure_schema as ensure_case_schema
from policies.cases import unopened
from policies.db import Database

TOPIC = "teams"  # of change notifications (gateway/notify.py)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jg_teams (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, cases TEXT NOT NULL,
    valid_from DOUBLE PRECISION NOT NULL, valid_until DOUBLE PRECISION,
    closed_at DOUBLE PRECISION, created_by TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS jg_team_members (
    team_id TEXT NOT NULL, subject TEXT NOT NULL,
    added_at DOUBLE PRECISION NOT NULL, removed_at DOUBLE PRECISION,
    PRIMARY KEY (team_id, subject, added_at));
CREATE TABLE IF NOT EXISTS jg_governance_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL);
"""
# added since the first version: a database made by it is upgraded (NULL windows: the team's)
MEMBER_COLUMNS = (
    ("valid_from", "DOUBLE PRECISION"),
    ("valid_until", "DOUBLE PRECISION"),
    ("added_by", "TEXT"),
    ("removed_by", "TEXT"),
)


class TeamError(Exception):
    """A team operation that cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class Membership:
    """One member's window: from ``valid_from`` until ``valid_until`` (None: until the team
    ends); it counts only while the team is active too."""

    subject: str
    valid_from: float
    valid_until: float | None

    def active(self, now: float) -> bool:
        return self.valid_from <= now and (self.valid_until is None or now < self.valid_until)


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    cases: tuple[str, ...]
    valid_from: float
    valid_until: float | None
    closed_at: float | None
    members: tuple[str, ...]  # every current member, whether their window is open now or not
    memberships: tuple[Membership, ...] = ()

    def active(self, now: float) -> bool:
        ends = [t for t in (self.valid_until, self.closed_at) if t is not None]
        return self.valid_from <= now and all(now < t for t in ends)

    def member_active(self, subject: str, now: float) -> bool:
        """Whether ``subject``'s membership counts at ``now``: team and membership active."""
        return self.active(now) and any(
            m.subject == subject and m.active(now) for m in self.memberships
        )


class TeamStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        ensure_case_schema(db)  # teams cover registered cases
        db.script(SCHEMA)
        db.add_columns("jg_team_members", MEMBER_COLUMNS)
        db.add_columns("jg_teams", (("closed_by", "TEXT"),))
        if not db.query("SELECT version FROM jg_governance_version WHERE id = 1"):
            # another process may insert it between the check and here: that is fine
            with contextlib.suppress(Exception):
                db.query("INSERT INTO jg_governance_version (id, version) VALUES (1, 0)")

    def subscribe(self, listener: Callable[[], object]) -> None:
        """Call ``listener`` after every team change made through this database handle."""
        self.db.subscribe(TOPIC, listener)

    def version(self) -> int:
        rows = self.db.query("SELECT version FROM jg_governance_version WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def create(
        self,
        team_id: str,
        cases: list[str],
        *,
        name: str = "",
        valid_from: float | None = None,
        valid_until: float | None = None,
        created_by: str = "",
    ) -> Team:
        if not cases:
            raise TeamError("a team covers at least one case id (--case)")
        cases = [_case_id(case) for case in cases]
        if self._team(team_id) is not None:
            raise TeamError(f"team {team_id} exists already")
        missing = unopened(self.db, cases)
        if missing:
            raise TeamError(
                "a team covers registered open cases only, and these are not:"
                f" {', '.join(missing)} (jointgate cases register)"
            )
        now = time.time()
        start = valid_from if valid_from is not None else now
        if valid_until is not None and valid_until <= start:
            raise TeamError("valid-until must be after valid-from")
        self._change(
            "INSERT INTO jg_teams (id, name, cases, valid_from, valid_until, closed_at, "
            "created_by, created_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            (team_id, name or team_id, json.dumps(sorted(set(cases))), start, valid_until,
             created_by, now),
        )  # fmt: skip
        return self.get(team_id)

    def add_member(
        self,
        team_id: str,
        subject: str,
        *,
        valid_from: float | None = None,
        valid_until: float | None = None,
        by: str = "",
    ) -> Team:
        """Add a member for a window: from ``valid_from`` (default now) until ``valid_until``
        (default: until the team ends)."""
        team = self.get(team_id)
        if team.closed_at is not None:
            raise TeamError(f"team {team_id} is closed")
        if unfit_name(subject):
            raise TeamError(
                "a member is named by the subject of their token: no spaces, control or"
                " invisible characters"
            )
        if subject in team.members:
            raise TeamError(f"{subject} is already a member of {team_id}")
        now = time.time()
        start = valid_from if valid_from is not None else now
        if valid_until is not None and valid_until <= start:
            raise TeamError("valid-until must be after valid-from")
        if valid_until is not None and valid_until <= now:
            raise TeamError("valid-until is in the past: such a membership would never count")
        self._change(
            "INSERT INTO jg_team_members (team_id, subject, added_at, removed_at, valid_from, "
            "valid_until, added_by) VALUES (?, ?, ?, NULL, ?, ?, ?)",
            (team_id, subject, now, start, valid_until, by),
        )
        return self.get(team_id)

    def remove_member(self, team_id: str, subject: str, *, by: str = "") -> Team:
        if subject not in self.get(team_id).members:
            raise TeamError(f"{subject} is not a member of {team_id}")
        self._change(
            "UPDATE jg_team_members SET removed_at = ?, removed_by = ? "
            "WHERE team_id = ? AND subject = ? AND removed_at IS NULL",
            (time.time(), by, team_id, subject),
        )
        return self.get(team_id)

    def close(self, team_id: str, *, by: str = "") -> Team:
        if self.get(team_id).closed_at is not None:
            raise TeamError(f"team {team_id} is closed already")
        self._change(
            "UPDATE jg_teams SET closed_at = ?, closed_by = ? WHERE id = ?",
            (time.time(), by, team_id),
        )
        return self.get(team_id)

    def covering(self, team_id: str, number: str) -> list[tuple[str, tuple[object, ...]]]:
        """The statements that make open team ``team_id`` cover case ``number`` too (the
        office's ``openCase`` commits them with the case it registers; call :meth:`changed`
        after the commit).

        The case list is read now and written at the commit: if another writer (a second
        replica opening a case for the same team) changed it in between, the update matches no
        row and the guard after it inserts the teams' version row a second time, a key
        collision that rolls the whole transaction back (the office decides again, reading the
        list anew: ``office.store.Conflict``) instead of losing the other writer's case."""
        team = self.get(team_id)
        if team.closed_at is not None or (
            team.valid_until is not None and team.valid_until <= time.time()
        ):
            raise TeamError(f"team {team_id} is closed")
        [(stored,)] = self.db.query("SELECT cases FROM jg_teams WHERE id = ?", (team_id,))
        cases = json.dumps(sorted({*team.cases, _case_id(number)}))
        return [
            ("UPDATE jg_teams SET cases = ? WHERE id = ? AND cases = ?", (cases, team_id, stored)),
            (
                "INSERT INTO jg_governance_version (id, version) SELECT 1, 0 WHERE NOT EXISTS "
                "(SELECT 1 FROM jg_teams WHERE id = ? AND cases = ?)",
                (team_id, cases),
            ),
            ("UPDATE jg_governance_version SET version = version + 1 WHERE id = 1", ()),
        ]

    def changed(self) -> None:
        """Tell this handle's listeners the teams changed (after :meth:`covering` committed)."""
        self.db.changed(TOPIC)

    def get(self, team_id: str) -> Team:
        team = self._team(team_id)
        if team is None:
            raise TeamError(f"no team {team_id}")
        return team

    def list(self) -> list[Team]:
        rows = self.db.query(
            "SELECT id, name, cases, valid_from, valid_until, closed_at FROM jg_teams ORDER BY id"
        )
        members: dict[str, list[Membership]] = {}
        for team_id, subject, added_at, valid_from, valid_until in self.db.query(
            "SELECT team_id, subject, added_at, valid_from, valid_until FROM jg_team_members"
            " WHERE removed_at IS NULL ORDER BY subject"
        ):
            members.setdefault(team_id, []).append(
                Membership(
                    str(subject),
                    float(added_at if valid_from is None else valid_from),
                    None if valid_until is None else float(valid_until),
                )
            )
        return [_team(row, members.get(row[0], [])) for row in rows]

    def _team(self, team_id: str) -> Team | None:
        return next((t for t in self.list() if t.id == team_id), None)

    def _change(self, sql: str, params: tuple[object, ...]) -> None:
        self.db.transaction(
            [
                (sql, params),
                ("UPDATE jg_governance_version SET version = version + 1 WHERE id = 1", ()),
            ]
        )
        self.db.changed(TOPIC)


def _case_id(case: str) -> str:
    try:
        return check_case_id(case)
    except InvalidIdentifier as exc:
        named = f"--case {case}" if case.isprintable() else "a --case value"
        raise TeamError(f"{named} is not a valid case id: {exc.reason}") from None


def _team(row: tuple[object, ...], members: list[Membership]) -> Team:
    team_id, name, cases, valid_from, valid_until, closed_at = row
    return Team(
        id=str(team_id),
        name=str(name),
        # as the gateway takes X-Case-Id, also for a team created before the forms were enforced
        cases=tuple(normalize_case_id(c) for c in json.loads(str(cases))),
        valid_from=float(valid_from),  # type: ignore[arg-type]
        valid_until=None if valid_until is None else float(valid_until),  # type: ignore[arg-type]
        closed_at=None if closed_at is None else float(closed_at),  # type: ignore[arg-type]
        members=tuple(m.subject for m in members),
        memberships=tuple(members),
    )


class TeamDirectory:
    """The gateway's view of the teams: in memory, re-read only when the store's version moved.

    ``memberships`` never touches the database. ``check`` (one small query) re-reads the teams if
    the version moved; the gateway runs it on change notifications and periodically
    (``gateway/notify.py``), and every store on the same database handle after its changes.
    """

    def __init__(self, store: TeamStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._version = -1
        self._by_member: dict[str, list[Team]] = {}
        self.check()
        store.subscribe(self.check)

    def memberships(self, subject: str, now: float | None = None) -> list[Team]:
        """The teams the subject is an active member of, now: team and membership active."""
        at = time.time() if now is None else now
        return [t for t in self._by_member.get(subject, ()) if t.member_active(subject, at)]

    @property
    def version(self) -> int:
        return self._version

    def check(self) -> bool:
        """Re-read the teams if the store's version moved; True if it did (thread-safe)."""
        with self._lock:
            # the version first: teams read after it are at least as new, so a change racing
            # with this read is picked up at the next check, never lost
            version = self.store.version()
            if version == self._version:
                return False
            by_member: dict[str, list[Team]] = {}
            for team in self.store.list():
                for member in team.members:
                    by_member.setdefault(member, []).append(team)
            self._by_member, self._version = by_member, version
            return True
