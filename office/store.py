"""The joint office's system of record: leads, their subjects, feedback, the history of every
transition and the idempotency keys, in the governance database (``policies/db.py``: SQLite
in the data dir by default, PostgreSQL shared by the replicas when configured).

Tables (nothing is ever deleted; a change is a new history row and an update of the lead):

- ``jg_leads``: one row per lead, its current state and what each step added (verification,
  referral, case, major-event flags); ``version`` counts its transitions;
- ``jg_lead_subjects``: the identifiers a lead names, checked and normalised, in order;
- ``jg_lead_feedback``: the receiving agency's progress notes;
- ``jg_lead_history``: every transition (lead, version, action, state before and after, by whom,
  of which agency, when); its key ``(lead_id, version)`` is what makes two replicas acting on
  one lead at once safe: the second one's row collides and its transaction rolls back
  (:class:`Conflict`), and the office decides again on the lead as it now is;
- ``jg_lead_keys``: idempotency keys per caller subject and key: the action, a hash of the input,
  the lead, when, and the changes it made (so a retry answers the same);
- ``jg_lead_sequence``: the last sequence number per year; ids are ``L-<year>-<6 digits>``,
  allocated by one atomic ``UPDATE ... RETURNING`` (safe between replicas on one PostgreSQL,
  and between processes on one SQLite file);
- ``jg_office_migrations``: the schema versions applied (see :data:`MIGRATIONS`).

**Migrations** are numbered; each is idempotent (``CREATE ... IF NOT EXISTS``, columns added
only where missing: ``Database.add_columns``), so replicas starting together may both run one.
A store made at an earlier version is upgraded in place when opened: data kept, new columns and
tables added. To change the schema, append a :class:`Migration`; never edit one released.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kernel.workflow import (
    Feedback,
    Lead,
    LeadCategory,
    LeadState,
    LeadSubject,
    Referral,
    Verification,
)
from policies.db import Database

Statement = tuple[str, Sequence[object]]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    what: str
    ddl: str = ""  # statements separated by ";"
    columns: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # (table, (name, type)...)


V1_DDL = """
CREATE TABLE IF NOT EXISTS jg_leads (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, category TEXT NOT NULL,
    source_agency TEXT NOT NULL, submitted_by TEXT NOT NULL,
    submitted_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
    region TEXT NOT NULL, description TEXT NOT NULL, amount DOUBLE PRECISION, victims BIGINT,
    attachments TEXT NOT NULL, version BIGINT NOT NULL,
    verified_by TEXT, verified_by_agency TEXT, verified_at DOUBLE PRECISION, findings TEXT,
    referred_to TEXT, receiving_unit TEXT, referral_note TEXT, referred_by TEXT,
    referred_by_agency TEXT, referred_at DOUBLE PRECISION, case_number TEXT);
CREATE TABLE IF NOT EXISTS jg_lead_subjects (
    lead_id TEXT NOT NULL, position INTEGER NOT NULL, kind TEXT NOT NULL,
    identifier TEXT NOT NULL, PRIMARY KEY (lead_id, position));
CREATE TABLE IF NOT EXISTS jg_lead_feedback (
    id TEXT PRIMARY KEY, lead_id TEXT NOT NULL, note TEXT NOT NULL, by_subject TEXT NOT NULL,
    by_agency TEXT NOT NULL, at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS jg_lead_history (
    lead_id TEXT NOT NULL, version BIGINT NOT NULL, action TEXT NOT NULL, before_state TEXT,
    after_state TEXT NOT NULL, by_subject TEXT NOT NULL, by_agency TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, PRIMARY KEY (lead_id, version));
CREATE TABLE IF NOT EXISTS jg_lead_keys (
    subject TEXT NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL, input_hash TEXT NOT NULL,
    lead_id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (subject, key));
CREATE TABLE IF NOT EXISTS jg_lead_sequence (year INTEGER PRIMARY KEY, last BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS jg_office_migrations (
    version INTEGER PRIMARY KEY, what TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "leads, subjects, feedback, history, idempotency keys, ids", V1_DDL),
    Migration(
        2,
        "major events (flags, 24 h deadline, acknowledgement, overdue claim), closing notes",
        "CREATE INDEX IF NOT EXISTS jg_leads_submitted ON jg_leads (submitted_at);"
        "CREATE INDEX IF NOT EXISTS jg_lead_subjects_identifier"
        " ON jg_lead_subjects (identifier)",
        (
            (
                "jg_leads",
                (
                    ("major", "INTEGER NOT NULL DEFAULT 0"),
                    ("major_reasons", "TEXT"),
                    ("major_deadline", "DOUBLE PRECISION"),
                    ("acknowledged_at", "DOUBLE PRECISION"),
                    ("acknowledged_by", "TEXT"),
                    ("acknowledged_note", "TEXT"),
                    ("overdue_claimed_at", "DOUBLE PRECISION"),
                    ("verified_outcome", "TEXT"),
                    ("closing_note", "TEXT"),
                    ("case_team", "TEXT"),
                ),
            ),
        ),
    ),
)
VERSION = MIGRATIONS[-1].version


def schema_version(db: Database) -> int:
    """The highest migration applied (0: none, a new database)."""
    exists = (
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jg_office_migrations'"
        if db.dialect == "sqlite"
        else "SELECT count(*) FROM (SELECT to_regclass('jg_office_migrations') AS t) x"
        " WHERE t IS NOT NULL"
    )
    if not db.query(exists)[0][0]:
        return 0
    rows = db.query("SELECT max(version) FROM jg_office_migrations")
    return int(rows[0][0] or 0)


def migrate(db: Database, upto: int = VERSION) -> int:
    """Apply the migrations the database lacks, up to ``upto``; the version it is at now."""
    current = schema_version(db)
    for migration in MIGRATIONS:
        if migration.version <= current or migration.version > upto:
            continue
        if migration.ddl:
            db.script(migration.ddl)
        for table, columns in migration.columns:
            db.add_columns(table, columns)
        db.query(
            "INSERT INTO jg_office_migrations (version, what, at) VALUES (?, ?, ?) "
            "ON CONFLICT (version) DO NOTHING",
            (migration.version, migration.what, time.time()),
        )
        current = migration.version
    return current


class Conflict(Exception):
    """A transaction collided with another one on the same lead or key; nothing was written."""


def is_conflict(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    return any(c.__name__ in ("IntegrityError", "UniqueViolation") for c in type(exc).__mro__)


@contextlib.contextmanager
def conflicts() -> Iterator[None]:
    """A key collision inside (this store's commit, or the case registry's change the office's
    statements ride on) becomes :class:`Conflict`, which the desk decides again."""
    try:
        yield
    except Exception as exc:
        if is_conflict(exc):
            raise Conflict(str(exc)) from None
        raise


@dataclass(frozen=True, slots=True)
class Stored:
    """A lead as stored: what a reader sees, and what the office needs besides."""

    lead: Lead
    version: int
    referred_to: str | None
    overdue_claimed_at: float | None
    case_team: str | None = None
    closing_note: str | None = None


@dataclass(frozen=True, slots=True)
class KeyUse:
    action: str
    input_hash: str
    lead_id: str
    at: float
    result: dict[str, Any]


_LEAD_COLUMNS = (
    "id, state, category, source_agency, submitted_by, submitted_at, updated_at, region, "
    "description, amount, victims, attachments, version, verified_by, verified_by_agency, "
    "verified_at, findings, referred_to, receiving_unit, referral_note, referred_by, "
    "referred_by_agency, referred_at, case_number, major, major_reasons, major_deadline, "
    "acknowledged_at, acknowledged_by, overdue_claimed_at, verified_outcome, case_team, "
    "closing_note"
)


class OfficeStore:
    """Reads and writes the office's tables; blocking (the desk calls it in a thread)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db)

    # -- ids ---------------------------------------------------------------------------------

    def allocate_id(self, year: int) -> str:
        """The next lead id of ``year``: one atomic statement, so two replicas never get the
        same one (a number allocated for a submission that then fails is not reused)."""
        self.db.query(
            "INSERT INTO jg_lead_sequence (year, last) VALUES (?, 0) ON CONFLICT (year) DO NOTHING",
            (year,),
        )
        rows = self.db.query(
            "UPDATE jg_lead_sequence SET last = last + 1 WHERE year = ? RETURNING last", (year,)
        )
        return f"L-{year}-{int(rows[0][0]):06d}"

    # -- writing -----------------------------------------------------------------------------

    def commit(self, statements: Sequence[Statement]) -> None:
        """Run ``statements`` in one transaction; :class:`Conflict` if a key collided."""
        with conflicts():
            self.db.transaction(statements)

    @staticmethod
    def insert(lead: Lead) -> list[Statement]:
        values = (
            lead.id, lead.state.value, lead.category.value, lead.source_agency,
            lead.submitted_by, lead.submitted_at, lead.updated_at, lead.region,
            lead.description, lead.amount, lead.victims, json.dumps(lead.attachments),
            1 if lead.major else 0, json.dumps(lead.major_reasons), lead.major_deadline,
        )  # fmt: skip
        statements: list[Statement] = [
            (
                "INSERT INTO jg_leads (id, state, category, source_agency, submitted_by, "
                "submitted_at, updated_at, region, description, amount, victims, attachments, "
                "version, major, major_reasons, major_deadline) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                values,
            )
        ]
        statements += [
            (
                "INSERT INTO jg_lead_subjects (lead_id, position, kind, identifier) "
                "VALUES (?, ?, ?, ?)",
                (lead.id, i, s.kind, s.identifier),
            )
            for i, s in enumerate(lead.subjects)
        ]
        return statements

    @staticmethod
    def transition(
        stored: Stored,
        action: str,
        after: LeadState,
        by: str,
        agency: str,
        at: float,
        sets: dict[str, object] | None = None,
    ) -> list[Statement]:
        """The history row of one transition and the lead's update (``sets``: columns to set);
        collides with any other transition of the lead since ``stored`` was read."""
        version = stored.version + 1
        columns = {"state": after.value, "updated_at": at, "version": version, **(sets or {})}
        assignments = ", ".join(f"{name} = ?" for name in columns)  # names are this module's
        return [
            history_row(stored.lead.id, version, action, stored.lead.state, after, by, agency, at),
            (
                f"UPDATE jg_leads SET {assignments} WHERE id = ? AND version = ?",  # noqa: S608
                (*columns.values(), stored.lead.id, stored.version),
            ),
        ]

    @staticmethod
    def feedback_row(
        feedback_id: str, lead_id: str, note: str, by: str, agency: str, at: float
    ) -> Statement:
        return (
            "INSERT INTO jg_lead_feedback (id, lead_id, note, by_subject, by_agency, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (feedback_id, lead_id, note, by, agency, at),
        )

    @staticmethod
    def remember(subject: str, key: str, use: KeyUse) -> Statement:
        return (
            "INSERT INTO jg_lead_keys (subject, key, action, input_hash, lead_id, at, result) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (subject, key, use.action, use.input_hash, use.lead_id, use.at, json.dumps(use.result)),
        )

    def key_use(self, subject: str, key: str) -> KeyUse | None:
        rows = self.db.query(
            "SELECT action, input_hash, lead_id, at, result FROM jg_lead_keys "
            "WHERE subject = ? AND key = ?",
            (subject, key),
        )
        if not rows:
            return None
        action, digest, lead_id, at, result = rows[0]
        return KeyUse(str(action), str(digest), str(lead_id), float(at), json.loads(str(result)))

    def claim_overdue(self, now: float) -> list[str]:
        """Mark every major lead newly overdue at ``now`` as claimed, and return their ids:
        one atomic UPDATE, so that of replicas sweeping together each lead goes to one."""
        rows = self.db.query(
            "UPDATE jg_leads SET overdue_claimed_at = ? WHERE major = 1 "
            "AND acknowledged_at IS NULL AND major_deadline IS NOT NULL AND major_deadline < ? "
            "AND overdue_claimed_at IS NULL RETURNING id",
            (now, now),
        )
        return sorted(str(r[0]) for r in rows)

    def overdue_count(self, now: float) -> int:
        rows = self.db.query(
            "SELECT count(*) FROM jg_leads WHERE major = 1 AND acknowledged_at IS NULL "
            "AND major_deadline IS NOT NULL AND major_deadline < ?",
            (now,),
        )
        return int(rows[0][0])

    # -- reading -----------------------------------------------------------------------------

    def get(self, lead_id: str) -> Stored | None:
        found = self.read(" WHERE id = ?", (lead_id,))
        return found[0] if found else None

    def lead_of_case(self, number: str) -> str | None:
        """The id of the lead case ``number`` (canonical) was opened from; None: none was."""
        rows = self.db.query("SELECT id FROM jg_leads WHERE case_number = ?", (number,))
        return str(rows[0][0]) if rows else None

    def read(self, where: str, params: Sequence[object]) -> list[Stored]:
        """Leads matching ``where`` (built from this package's constants; values are
        parameters), newest first, with their subjects and feedback."""
        rows = self.db.query(
            f"SELECT {_LEAD_COLUMNS} FROM jg_leads{where} "  # noqa: S608
            "ORDER BY submitted_at DESC, id DESC",
            params,
        )
        if not rows:
            return []
        ids = [str(r[0]) for r in rows]
        subjects: dict[str, list[LeadSubject]] = {}
        feedback: dict[str, list[Feedback]] = {}
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" for _ in chunk)
            for lead_id, kind, identifier in self.db.query(
                "SELECT lead_id, kind, identifier FROM jg_lead_subjects "  # noqa: S608
                f"WHERE lead_id IN ({marks}) ORDER BY lead_id, position",
                chunk,
            ):
                named = LeadSubject(str(kind), str(identifier))
                subjects.setdefault(str(lead_id), []).append(named)
            for fid, lead_id, note, by, agency, at in self.db.query(
                "SELECT id, lead_id, note, by_subject, by_agency, at FROM jg_lead_feedback "  # noqa: S608
                f"WHERE lead_id IN ({marks}) ORDER BY at, id",
                chunk,
            ):
                feedback.setdefault(str(lead_id), []).append(
                    Feedback(str(fid), str(note), str(by), str(agency), float(at))
                )
        return [_stored(r, subjects.get(str(r[0]), []), feedback.get(str(r[0]), [])) for r in rows]

    def facts(self, where: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """The columns policies decide on, of the leads matching ``where``, newest first:
        (id, source_agency, submitted_by, state, category, major, verified_by_agency,
        referred_to, case_number, submitted_at)."""
        return self.db.query(
            "SELECT id, source_agency, submitted_by, state, category, major, "  # noqa: S608
            "verified_by_agency, referred_to, case_number, submitted_at FROM jg_leads"
            f"{where} ORDER BY submitted_at DESC, id DESC",
            params,
        )

    def history(self, lead_id: str) -> list[tuple[Any, ...]]:
        """(version, action, before, after, by, agency, at) of every transition, in order."""
        return self.db.query(
            "SELECT version, action, before_state, after_state, by_subject, by_agency, at "
            "FROM jg_lead_history WHERE lead_id = ? ORDER BY version",
            (lead_id,),
        )

    def earlier_amounts(
        self, identifiers: Sequence[str], since: float, before: float
    ) -> dict[str, float]:
        """The amounts earlier leads naming any of ``identifiers`` reported, by lead id,
        submitted from ``since`` until ``before``."""
        if not identifiers:
            return {}
        marks = ", ".join("?" for _ in identifiers)
        rows = self.db.query(
            "SELECT l.id, l.amount FROM jg_leads l WHERE l.amount IS NOT NULL "  # noqa: S608
            "AND l.submitted_at >= ? AND l.submitted_at < ? AND EXISTS (SELECT 1 FROM "
            f"jg_lead_subjects s WHERE s.lead_id = l.id AND s.identifier IN ({marks}))",
            (since, before, *identifiers),
        )
        return {str(lead_id): float(amount) for lead_id, amount in rows}


def history_row(
    lead_id: str,
    version: int,
    action: str,
    before: LeadState | None,
    after: LeadState,
    by: str,
    agency: str,
    at: float,
) -> Statement:
    return (
        "INSERT INTO jg_lead_history (lead_id, version, action, before_state, after_state, "
        "by_subject, by_agency, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (lead_id, version, action, None if before is None else before.value, after.value, by,
         agency, at),
    )  # fmt: skip


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _f(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _s(value: object) -> str | None:
    return None if value is None else str(value)


def _stored(row: tuple[Any, ...], subjects: list[LeadSubject], notes: list[Feedback]) -> Stored:
    (lead_id, state, category, source, submitted_by, submitted_at, updated_at, region,
     description, amount, victims, attachments, version, verified_by, verified_by_agency,
     verified_at, findings, referred_to, receiving_unit, referral_note, referred_by,
     referred_by_agency, referred_at, case_number, major, major_reasons, major_deadline,
     acknowledged_at, acknowledged_by, overdue_claimed_at, verified_outcome, case_team,
     closing_note) = row  # fmt: skip
    verification = None
    if verified_at is not None:
        verification = Verification(
            outcome=LeadState(verified_outcome or LeadState.VERIFIED),
            findings=str(findings or ""),
            by=str(verified_by),
            by_agency=str(verified_by_agency),
            at=float(verified_at),
        )
    referral = None
    if referred_at is not None:
        referral = Referral(
            to_agency=str(referred_to),
            receiving_unit=str(receiving_unit or ""),
            note=str(referral_note or ""),
            by=str(referred_by),
            by_agency=str(referred_by_agency),
            at=float(referred_at),
        )
    lead = Lead(
        id=str(lead_id),
        state=LeadState(state),
        category=LeadCategory(category),
        source_agency=str(source),
        submitted_by=str(submitted_by),
        submitted_at=float(submitted_at),
        updated_at=float(updated_at),
        region=str(region),
        description=str(description),
        amount=_f(amount),
        victims=None if victims is None else int(victims),
        attachments=tuple(json.loads(str(attachments))),
        subjects=tuple(subjects),
        verification=verification,
        referral=referral,
        feedback=tuple(notes),
        case_number=_s(case_number),
        major=bool(major),
        major_reasons=tuple(json.loads(str(major_reasons))) if major_reasons else (),
        major_deadline=_f(major_deadline),
        major_acknowledged_at=_f(acknowledged_at),
        major_acknowledged_by=_s(acknowledged_by),
    )
    return Stored(
        lead, int(version), _s(referred_to), _f(overdue_claimed_at), _s(case_team),
        _s(closing_note),
    )  # fmt: skip
