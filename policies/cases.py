"""The case registry: which cases exist, who works on them, and whom they are about.

``X-Case-Id`` names a case only if the case is registered here, open, and the caller is assigned
to it, directly (an official of the case) or through an active membership of a joint team that
covers it (``policies/teams.py``); the purpose stage refuses anything else with
``CASE_NOT_ASSIGNED`` (``gateway/purpose.py``). A case has

- its number, taken as the gateway takes ``X-Case-Id`` (``kernel.identifiers.check_case_id``:
  NFKC, one canonical form), at registration and at every lookup;
- its owning agency, a title, where it came from (``source``: ``registered`` by an official
  with ``jointgate cases register``; the lead-to-case workflow will record its lead), who
  registered it and when, when it was opened and closed, and by whom;
- its subjects: unified social credit codes, resident ID numbers and account numbers, each
  checked with its checksum (``kernel/identifiers.py``) and stored in its normalised form with
  its kind; a joint team's access to agency data is scoped to them;
- its officials: subject names of the identity provider, each with when (and by whom) they were
  assigned and, once they are, removed.

The tables (``jg_cases``, ``jg_case_subjects``, ``jg_case_officials``) are the platform's system
of record for cases; nothing is deleted: a removal or a closure is a time stamp and a name.

Every change moves the registry's version (row 2 of ``jg_governance_version``; the teams have
row 1). The gateway's :class:`CaseDirectory` keeps the open cases in memory, so that a request
never waits for the database, and re-reads them when the version moved: at once for a change
made through the same database handle, on a change notification (topic ``cases``,
``gateway/notify.py``) and at the notifier's periodic re-check.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from kernel.identifiers import (
    InvalidIdentifier,
    check_account_number,
    check_case_id,
    check_resident_id,
    check_uscc,
)
from kernel.text import unfit_name, unprintable
from policies.db import Conflict, Database

TOPIC = "cases"  # of change notifications (gateway/notify.py)
VERSION_ROW = 2  # of jg_governance_version (the teams' is 1)
REGISTERED = "registered"  # the source of a case registered by hand (jointgate cases register)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jg_cases (
    number TEXT PRIMARY KEY, agency TEXT NOT NULL, title TEXT NOT NULL, source TEXT NOT NULL,
    opened_at DOUBLE PRECISION NOT NULL, closed_at DOUBLE PRECISION, closed_by TEXT,
    registered_by TEXT NOT NULL, registered_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS jg_case_subjects (
    case_number TEXT NOT NULL, kind TEXT NOT NULL, identifier TEXT NOT NULL,
    added_by TEXT NOT NULL, added_at DOUBLE PRECISION NOT NULL,
    removed_by TEXT, removed_at DOUBLE PRECISION,
    PRIMARY KEY (case_number, identifier, added_at));
CREATE TABLE IF NOT EXISTS jg_case_officials (
    case_number TEXT NOT NULL, subject TEXT NOT NULL,
    assigned_by TEXT NOT NULL, assigned_at DOUBLE PRECISION NOT NULL,
    removed_by TEXT, removed_at DOUBLE PRECISION,
    PRIMARY KEY (case_number, subject, assigned_at));
CREATE TABLE IF NOT EXISTS jg_governance_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL);
"""

#: Subject kinds and the check that normalises each (kernel/identifiers.py).
SUBJECT_KINDS: dict[str, Callable[[str], str]] = {
    "uscc": check_uscc,
    "resident-id": check_resident_id,
    "account": check_account_number,
}
_AGENCY = re.compile(r"[a-z][a-z0-9-]{0,31}")
MAX_TITLE = 200


class CaseError(Exception):
    """A registry operation that cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # one of SUBJECT_KINDS
    identifier: str  # normalised by its check


@dataclass(frozen=True, slots=True)
class Assignment:
    subject: str
    assigned_at: float
    assigned_by: str
    removed_at: float | None = None
    removed_by: str | None = None


@dataclass(frozen=True, slots=True)
class Case:
    number: str
    agency: str
    title: str
    source: str
    opened_at: float
    closed_at: float | None
    closed_by: str | None
    registered_by: str
    registered_at: float
    subjects: tuple[Subject, ...] = ()
    assignments: tuple[Assignment, ...] = ()  # past ones included, oldest first

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def officials(self) -> tuple[str, ...]:
        """The officials assigned now."""
        return tuple(sorted({a.subject for a in self.assignments if a.removed_at is None}))

    @property
    def identifiers(self) -> frozenset[str]:
        return frozenset(s.identifier for s in self.subjects)


@dataclass(frozen=True, slots=True)
class CaseAccess:
    """How a caller may declare a case: as one of its officials (``direct``), through an active
    team membership (``through_team``), or both."""

    case: Case
    direct: bool
    through_team: bool

    @property
    def team_only(self) -> bool:
        return self.through_team and not self.direct


def case_number(value: str) -> str:
    """A case number as the registry keeps it (and ``X-Case-Id`` is taken): canonical, or
    :class:`CaseError` naming the accepted forms."""
    try:
        return check_case_id(value)
    except InvalidIdentifier as exc:
        shown = value if value.isprintable() and len(value) <= 60 else "the case number"
        raise CaseError(f"{shown} is not a valid case number: {exc.reason}") from None


def subject_identifier(value: str, kind: str | None = None) -> Subject:
    """An identifier of a case subject, checked and normalised. Without ``kind`` it must pass
    exactly one check (an 18-digit number can be a valid resident ID, USCC and account number
    at once: then the kind must be given)."""
    if kind is not None:
        check = SUBJECT_KINDS.get(kind)
        if check is None:
            raise CaseError(f"unknown subject kind {kind!r}: one of {', '.join(SUBJECT_KINDS)}")
        try:
            return Subject(kind, check(value))
        except InvalidIdentifier as exc:
            raise CaseError(f"the subject is not a valid {exc.kind}: {exc.reason}") from None
    found = []
    for name, check in SUBJECT_KINDS.items():
        with contextlib.suppress(InvalidIdentifier):
            found.append(Subject(name, check(value)))
    if not found:
        raise CaseError(
            "the subject is not a valid unified social credit code, resident identity number or"
            " bank account number (their check characters included)"
        )
    if len(found) > 1:
        kinds = " or ".join(s.kind for s in found)
        raise CaseError(f"the subject is a valid {kinds}: say which with --kind")
    return found[0]


def official(subject: str) -> str:
    """An official's subject name as the identity provider issues it: no spaces, nothing
    invisible, one spelling (kernel.text.unfit_name); exact, not case-folded."""
    if unfit_name(subject):
        raise CaseError(
            "an official is named by the subject of their token: no spaces, control or invisible"
            " characters"
        )
    return subject


def _agency(agency: str) -> str:
    if not _AGENCY.fullmatch(agency):
        raise CaseError(
            "the owning agency is a short name: lower-case letters, digits and hyphens, such as"
            " police, courts, market, banking, office"
        )
    return agency


def _title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > MAX_TITLE or unprintable(title):
        raise CaseError(
            f"a case needs a title of at most {MAX_TITLE} characters, without control or"
            " invisible characters"
        )
    return title


def ensure_schema(db: Database) -> None:
    """Create the registry's tables (or upgrade them) and its version row."""
    db.script(SCHEMA)
    if not db.query("SELECT version FROM jg_governance_version WHERE id = ?", (VERSION_ROW,)):
        # another process may insert it between the check and here: that is fine
        with contextlib.suppress(Exception):
            db.query(
                "INSERT INTO jg_governance_version (id, version) VALUES (?, 0)", (VERSION_ROW,)
            )


def unopened(db: Database, numbers: Iterable[str]) -> list[str]:
    """Of these canonical case numbers, those that are not registered open cases."""
    wanted = sorted(set(numbers))
    if not wanted:
        return []
    marks = ", ".join("?" for _ in wanted)  # placeholders only: the values are parameters
    sql = f"SELECT number FROM jg_cases WHERE closed_at IS NULL AND number IN ({marks})"  # noqa: S608
    rows = db.query(sql, wanted)
    found = {str(r[0]) for r in rows}
    return [n for n in wanted if n not in found]


class CaseStore:
    """Registers, changes and reads cases. Every change takes the acting official (``by``)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        ensure_schema(db)

    def subscribe(self, listener: Callable[[], object]) -> None:
        """Call ``listener`` after every registry change made through this database handle."""
        self.db.subscribe(TOPIC, listener)

    def version(self) -> int:
        rows = self.db.query(
            "SELECT version FROM jg_governance_version WHERE id = ?", (VERSION_ROW,)
        )
        return int(rows[0][0]) if rows else 0

    def register(
        self,
        number: str,
        *,
        agency: str,
        title: str,
        by: str,
        source: str = REGISTERED,
        opened_at: float | None = None,
        subjects: Iterable[Subject] = (),
        officials: Iterable[str] = (),
        then: Sequence[tuple[str, Sequence[object]]] = (),
    ) -> Case:
        """Register a case; ``then``: statements committed in the same transaction (the
        office's lead update, ``office/store.py``: both or neither)."""
        number = case_number(number)
        agency, title, by = _agency(agency), _title(title), official(by)
        listed = list(dict.fromkeys(subjects))
        people = list(dict.fromkeys(official(o) for o in officials))
        if self._case(number) is not None:
            raise CaseError(f"case {number} is registered already")
        now = time.time()
        statements: list[tuple[str, Sequence[object]]] = [
            ("INSERT INTO jg_cases (number, agency, title, source, opened_at, closed_at, "
             "closed_by, registered_by, registered_at) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?)",
             (number, agency, title, source, opened_at if opened_at is not None else now, by,
              now)),
        ]  # fmt: skip
        statements += [_subject_row(number, s, by, now) for s in listed]
        statements += [_official_row(number, o, by, now) for o in people]
        self._change([*statements, *then])
        return self.get(number)

    def assign(self, number: str, subject: str, *, by: str) -> Case:
        case = self._open(number)
        subject, by = official(subject), official(by)
        if subject in case.officials:
            raise CaseError(f"{subject} is assigned to {case.number} already")
        try:  # the insert is guarded: an assignment made meanwhile leaves it without a row
            self._change([_official_row(case.number, subject, by, time.time())], guarded=[0])
        except Conflict:
            raise CaseError(f"{subject} was assigned to {case.number} meanwhile") from None
        return self.get(case.number)

    def unassign(self, number: str, subject: str, *, by: str) -> Case:
        case = self.get(number)
        by = official(by)
        if subject not in case.officials:
            raise CaseError(f"{subject} is not assigned to {case.number}")
        self._change(
            [("UPDATE jg_case_officials SET removed_at = ?, removed_by = ? "
              "WHERE case_number = ? AND subject = ? AND removed_at IS NULL",
              (time.time(), by, case.number, subject))]
        )  # fmt: skip
        return self.get(case.number)

    def add_subject(self, number: str, subject: Subject, *, by: str) -> Case:
        case = self._open(number)
        by = official(by)
        if subject.identifier in case.identifiers:
            raise CaseError(f"that {subject.kind} is a subject of {case.number} already")
        try:  # guarded as assign is
            self._change([_subject_row(case.number, subject, by, time.time())], guarded=[0])
        except Conflict:
            raise CaseError(f"that {subject.kind} was made a subject meanwhile") from None
        return self.get(case.number)

    def remove_subject(self, number: str, subject: Subject, *, by: str) -> Case:
        case = self.get(number)
        by = official(by)
        if subject.identifier not in case.identifiers:
            raise CaseError(f"that {subject.kind} is not a subject of {case.number}")
        self._change(
            [("UPDATE jg_case_subjects SET removed_at = ?, removed_by = ? "
              "WHERE case_number = ? AND identifier = ? AND removed_at IS NULL",
              (time.time(), by, case.number, subject.identifier))]
        )  # fmt: skip
        return self.get(case.number)

    def close(
        self,
        number: str,
        *,
        by: str,
        at: float | None = None,
        then: Sequence[tuple[str, Sequence[object]]] = (),
    ) -> Case:
        """Close an open case (at ``at``, default now); ``then`` as for :meth:`register`."""
        case = self._open(number)
        by = official(by)
        self._change(
            [("UPDATE jg_cases SET closed_at = ?, closed_by = ? WHERE number = ?",
              (time.time() if at is None else at, by, case.number)), *then]
        )  # fmt: skip
        return self.get(case.number)

    def get(self, number: str) -> Case:
        case = self._case(case_number(number))
        if case is None:
            raise CaseError(f"no case {case_number(number)} is registered")
        return case

    def cases(self, *, open_only: bool = False) -> list[Case]:
        where = " WHERE closed_at IS NULL" if open_only else ""
        return self._read(where, ())

    def _open(self, number: str) -> Case:
        case = self.get(number)
        if not case.open:
            raise CaseError(f"case {case.number} is closed")
        return case

    def _case(self, number: str) -> Case | None:
        found = self._read(" WHERE number = ?", (number,))
        return found[0] if found else None

    def _read(self, where: str, params: tuple[object, ...]) -> list[Case]:
        # ``where`` is one of this class's constants; values are parameters, here and below
        rows = self.db.query(
            "SELECT number, agency, title, source, opened_at, closed_at, closed_by, "  # noqa: S608
            f"registered_by, registered_at FROM jg_cases{where} ORDER BY number",
            params,
        )
        if not rows:
            return []
        numbers = [str(r[0]) for r in rows]
        subjects: dict[str, list[Subject]] = {}
        assignments: dict[str, list[Assignment]] = {}
        inside = f" AND case_number IN ({', '.join('?' for _ in numbers)})"
        for number, kind, identifier in self.db.query(
            "SELECT case_number, kind, identifier FROM jg_case_subjects "  # noqa: S608
            f"WHERE removed_at IS NULL{inside} ORDER BY kind, identifier",
            numbers,
        ):
            subjects.setdefault(str(number), []).append(Subject(str(kind), str(identifier)))
        for number, subject, at, by, removed_at, removed_by in self.db.query(
            "SELECT case_number, subject, assigned_at, assigned_by, removed_at, removed_by "  # noqa: S608
            f"FROM jg_case_officials WHERE 1 = 1{inside} ORDER BY assigned_at, subject",
            numbers,
        ):
            assignments.setdefault(str(number), []).append(
                Assignment(
                    str(subject), float(at), str(by),
                    None if removed_at is None else float(removed_at),
                    None if removed_by is None else str(removed_by),
                )
            )  # fmt: skip
        return [
            Case(
                number=str(n),
                agency=str(agency),
                title=str(title),
                source=str(source),
                opened_at=float(opened),
                closed_at=None if closed is None else float(closed),
                closed_by=None if closed_by is None else str(closed_by),
                registered_by=str(reg_by),
                registered_at=float(reg_at),
                subjects=tuple(subjects.get(str(n), ())),
                assignments=tuple(assignments.get(str(n), ())),
            )
            for n, agency, title, source, opened, closed, closed_by, reg_by, reg_at in rows
        ]

    def _change(
        self, statements: Sequence[tuple[str, Sequence[object]]], guarded: Sequence[int] = ()
    ) -> None:
        self.db.transaction(
            [
                *statements,
                (
                    "UPDATE jg_governance_version SET version = version + 1 WHERE id = ?",
                    (VERSION_ROW,),
                ),
            ],
            guarded=guarded,
        )
        self.db.changed(TOPIC)


def _subject_row(
    number: str, subject: Subject, by: str, at: float
) -> tuple[str, tuple[object, ...]]:
    return (  # none while the identifier is a subject (removed_at unset): see assign
        "INSERT INTO jg_case_subjects (case_number, kind, identifier, added_by, added_at) "
        "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM jg_case_subjects WHERE"
        " case_number = ? AND identifier = ? AND removed_at IS NULL)",
        (number, subject.kind, subject.identifier, by, at, number, subject.identifier),
    )


def _official_row(number: str, subject: str, by: str, at: float) -> tuple[str, tuple[object, ...]]:
    return (  # none while the official is assigned (removed_at unset): two at once, one row
        "INSERT INTO jg_case_officials (case_number, subject, assigned_by, assigned_at) "
        "SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM jg_case_officials WHERE"
        " case_number = ? AND subject = ? AND removed_at IS NULL)",
        (number, subject, by, at, number, subject),
    )


class CaseDirectory:
    """The gateway's view of the open cases: in memory, re-read only when the version moved.

    :meth:`access` never touches the database. :meth:`check` (one small query) re-reads the
    open cases if the version moved; the gateway runs it on change notifications and
    periodically (``gateway/notify.py``), and every store on the same database handle after
    its changes.
    """

    def __init__(self, store: CaseStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._version = -1
        self._open: dict[str, Case] = {}
        self.check()
        store.subscribe(self.check)

    @property
    def version(self) -> int:
        return self._version

    def access(self, subject: str, number: str, team_cases: Collection[str]) -> CaseAccess | None:
        """How ``subject`` may declare case ``number`` (canonical), given the cases of its active
        team memberships; None if the case is not registered, closed, or not the subject's.
        The three are one answer, so that a caller cannot learn which cases exist."""
        case = self._open.get(number)
        if case is None:
            return None
        direct = subject in case.officials
        through_team = number in team_cases
        if not (direct or through_team):
            return None
        return CaseAccess(case, direct, through_team)

    def check(self) -> bool:
        """Re-read the open cases if the registry's version moved; True if it did
        (thread-safe)."""
        with self._lock:
            # the version first: cases read after it are at least as new, so a change racing
            # with this read is picked up at the next check, never lost
            version = self.store.version()
            if version == self._version:
                return False
            self._open = {c.number: c for c in self.store.cases(open_only=True)}
            self._version = version
            return True
