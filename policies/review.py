"""Break-glass review: every access that relied on a break-glass permit waits for sign-off.

The gateway records the access (who, when, which case and purpose, the stated reason, which
fields) in the same transaction-safe store as the teams, before the response leaves; reviewers
list what is pending (``jointgate review pending``, with each access's deadline:
``governance.review_deadline_h`` after it was made) and sign it off (``jointgate review
sign-off``, as the verified official of their token: never the user who made the access).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from policies.db import Conflict, Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS jg_break_glass (
    id TEXT PRIMARY KEY, request_id TEXT NOT NULL, subject TEXT NOT NULL, agency TEXT NOT NULL,
    purpose TEXT NOT NULL, case_id TEXT, reason TEXT NOT NULL, fields TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, reviewed_by TEXT, reviewed_at DOUBLE PRECISION, note TEXT)
"""


class ReviewError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class BreakGlassAccess:
    id: str
    request_id: str
    subject: str
    agency: str
    purpose: str
    case_id: str | None
    reason: str
    fields: tuple[str, ...]
    at: float
    reviewed_by: str | None
    reviewed_at: float | None
    note: str | None


_COLUMNS = (
    "id, request_id, subject, agency, purpose, case_id, reason, fields, at, "
    "reviewed_by, reviewed_at, note"
)


class ReviewQueue:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.script(SCHEMA)

    def record(
        self,
        *,
        request_id: str,
        subject: str,
        agency: str,
        purpose: str,
        case_id: str | None,
        reason: str,
        fields: list[str],
    ) -> str:
        access_id = uuid.uuid4().hex[:12]
        self.db.query(
            f"INSERT INTO jg_break_glass ({_COLUMNS}) "  # noqa: S608 - a constant, no input
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
            (access_id, request_id, subject, agency, purpose, case_id, reason,
             json.dumps(sorted(fields)), time.time()),
            landed=("SELECT 1 FROM jg_break_glass WHERE id = ?", (access_id,)),
        )  # fmt: skip
        return access_id

    def pending(self) -> list[BreakGlassAccess]:
        """Not yet signed off, oldest first: by deadline, since every access has the same term
        (``governance.review_deadline_h`` after it was made)."""
        return self._select("WHERE reviewed_at IS NULL ORDER BY at")

    def all(self) -> list[BreakGlassAccess]:
        return self._select("ORDER BY at")

    def sign_off(self, access_id: str, reviewer: str, note: str = "") -> BreakGlassAccess:
        found = self._select("WHERE id = ?", (access_id,))
        if not found:
            raise ReviewError(f"no break-glass access {access_id}")
        if found[0].reviewed_at is not None:
            raise ReviewError(f"{access_id} was signed off by {found[0].reviewed_by} already")
        if reviewer == found[0].subject:
            raise ReviewError("an access cannot be signed off by the user who made it")
        # one transaction, so that a caller's record of the sign-off is written before it
        # commits (Database.witnessed); never over another reviewer's sign-off
        try:
            self.db.transaction(
                [
                    (
                        "UPDATE jg_break_glass SET reviewed_by = ?, reviewed_at = ?, note = ? "
                        "WHERE id = ? AND reviewed_at IS NULL",
                        (reviewer, time.time(), note, access_id),
                    )
                ],
                guarded=[0],
            )
        except Conflict:
            now = self._select("WHERE id = ?", (access_id,))[0]
            raise ReviewError(
                f"{access_id} was signed off by {now.reviewed_by} meanwhile: nothing changed"
            ) from None
        return self._select("WHERE id = ?", (access_id,))[0]

    def overdue(self, deadline_s: float, now: float | None = None) -> int:
        """How many accesses are still unreviewed ``deadline_s`` after they were made."""
        cutoff = (time.time() if now is None else now) - deadline_s
        rows = self.db.query(
            "SELECT count(*) FROM jg_break_glass WHERE reviewed_at IS NULL AND at <= ?", (cutoff,)
        )
        return int(rows[0][0]) if rows else 0

    def _select(self, where: str, params: tuple[object, ...] = ()) -> list[BreakGlassAccess]:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM jg_break_glass {where}", params)  # noqa: S608
        return [
            BreakGlassAccess(
                id=str(r[0]),
                request_id=str(r[1]),
                subject=str(r[2]),
                agency=str(r[3]),
                purpose=str(r[4]),
                case_id=None if r[5] is None else str(r[5]),
                reason=str(r[6]),
                fields=tuple(json.loads(str(r[7]))),
                at=float(r[8]),
                reviewed_by=None if r[9] is None else str(r[9]),
                reviewed_at=None if r[10] is None else float(r[10]),
                note=None if r[11] is None else str(r[11]),
            )
            for r in rows
        ]
