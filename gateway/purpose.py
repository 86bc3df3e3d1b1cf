"""Stage 4, purpose: the caller's declaration of purpose (``X-Purpose``, ``X-Case-Id``, ...).

Every request states why it asks. Purposes that concern a specific case need its id; the
justification is free text kept in the audit record. Codes are listed in docs/purposes.md.

Header values are ASCII, so other text (a justification in Chinese, a court case number) is sent
percent-encoded as UTF-8, and decoded strictly: a value with raw non-ASCII bytes, an invalid
``%XX`` escape, bytes that are not UTF-8, or (once decoded) a control or invisible format
character (kernel/text.py) is refused, never stored half-decoded. A case id must then be one
of the documented forms (police or court case number, joint-team case id) and is taken in its one
canonical form (``kernel.identifiers.check_case_id``: full-width forms become ASCII, letters upper
case), which is what policies, joint teams, the audit record and its search all see: so
``（2026）京0102执1901号`` and ``(2026)京0102执1901号`` are one case, ``jit-2026-001`` is
``JIT-2026-001``, and nothing else that looks like it is accepted.

A well-formed case id is not yet a case: :class:`Purposes` (what the pipeline calls) then asks
the case registry (``policies/cases.py``, in memory) whether it names an open registered case
the caller is assigned to, directly or through an active joint-team membership, and refuses
anything else with 403 ``CASE_NOT_ASSIGNED`` before analysis and before any agency is asked:
unknown, closed and not assigned alike, with one message, so that the answer tells nobody which
cases exist. This holds for every purpose that sends ``X-Case-Id``, break-glass included
(break-glass widens the fields a case may see, never the cases).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

from kernel.errors import CaseNotAssigned, PurposeRequired
from kernel.identifiers import InvalidIdentifier, check_case_id
from kernel.text import unprintable
from kernel.types import PURPOSE_DESCRIPTIONS, Declaration, Principal, Purpose, RequestContext
from policies.cases import CaseDirectory
from policies.teams import TeamDirectory

PURPOSE = "x-purpose"
CASE_ID = "x-case-id"
JUSTIFICATION = "x-justification"
BREAK_GLASS = "x-break-glass"

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
MAX_TEXT = 500


NOT_ASSIGNED = (
    "X-Case-Id does not name an open case you are assigned to, directly or through an active"
    " joint team; ask the joint office to assign you to the case."
)


class Purposes:
    """Stage 4 as the pipeline runs it: the declaration, recorded, then the case it names checked
    against the registry. Never waits for the database: both directories are in memory."""

    def __init__(self, cases: CaseDirectory, teams: TeamDirectory | None = None) -> None:
        self.cases = cases
        self.teams = teams

    def declare(
        self, headers: Mapping[str, str], principal: Principal, ctx: RequestContext
    ) -> Declaration:
        """The declaration (into ``ctx`` and its audit record, refused or not), and, when a case
        is declared through a team only, the case's subjects into ``ctx.case_subjects``."""
        declaration = ctx.declaration = declare(headers)
        record = ctx.audit
        record.purpose, record.case_id = declaration.purpose.value, declaration.case_id
        record.justification = declaration.justification or declaration.break_glass
        record.break_glass = declaration.break_glass is not None
        if declaration.case_id is None:
            return declaration
        teams = self.teams.memberships(principal.subject) if self.teams is not None else []
        access = self.cases.access(
            principal.subject, declaration.case_id, {c for t in teams for c in t.cases}
        )
        if access is None:  # unknown, closed, not assigned: one answer
            raise CaseNotAssigned(NOT_ASSIGNED)
        ctx.case_subjects = access.case.identifiers if access.team_only else None
        return declaration


def declare(headers: Mapping[str, str]) -> Declaration:
    _once(headers)
    raw = (headers.get(PURPOSE) or "").strip()
    if not raw:
        raise PurposeRequired(f"Declare a purpose in the X-Purpose header: one of {_codes()}.")
    try:
        purpose = Purpose(raw.lower())
    except ValueError:
        raise PurposeRequired(f"Unknown purpose; X-Purpose must be one of {_codes()}.") from None
    case_id = _case_id(_decoded(headers.get(CASE_ID), "X-Case-Id"))
    if purpose.needs_case and case_id is None:
        raise PurposeRequired(f"Purpose '{purpose}' needs the case it concerns in X-Case-Id.")
    return Declaration(
        purpose=purpose,
        case_id=case_id,
        justification=_text(headers.get(JUSTIFICATION), "X-Justification"),
        break_glass=_text(headers.get(BREAK_GLASS), "X-Break-Glass"),
    )


def _once(headers: Mapping[str, str]) -> None:
    """Each declaration header at most once: sent twice, the gateway would read the first and a
    proxy or log on the way perhaps the last, so that what was declared and what was decided on
    could differ (joined with a comma they are refused anyway)."""
    getlist = getattr(headers, "getlist", None)  # Starlette's Headers; a plain mapping has one
    if getlist is None:
        return
    for name in (PURPOSE, CASE_ID, JUSTIFICATION, BREAK_GLASS):
        if len(getlist(name)) > 1:
            raise PurposeRequired(f"{name.title()} is sent more than once: send it once.")


def _case_id(text: str) -> str | None:
    if not text.strip():
        return None
    try:
        return check_case_id(text)
    except InvalidIdentifier as exc:  # the reason names the accepted forms
        raise PurposeRequired(f"X-Case-Id is not a valid case id: {exc.reason}.") from None


def _text(value: str | None, header: str) -> str | None:
    text = _decoded(value, header).strip()
    if len(text) > MAX_TEXT:
        raise PurposeRequired(f"{header} is longer than {MAX_TEXT} characters.")
    return text or None


def _decoded(value: str | None, header: str) -> str:
    """The text a header value percent-encodes, decoded strictly; refused if anything is off."""
    value = value or ""
    if not value.isascii():
        raise PurposeRequired(
            f"{header} must be ASCII: send other text percent-encoded as UTF-8 (涉 is %E6%B6%89)."
        )
    if _BAD_ESCAPE.search(value):
        raise PurposeRequired(
            f"{header} has an invalid percent-encoding: '%' must start an escape such as %E6"
            " (a '%' itself is %25)."
        )
    try:
        text = unquote_to_bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise PurposeRequired(f"{header} does not percent-encode UTF-8 text.") from None
    if unprintable(text):
        raise PurposeRequired(
            f"{header} may not contain control characters, line breaks, characters that show as"
            " nothing or over other text, unassigned or private-use characters (docs/purposes.md)."
        )
    return text


def _codes() -> str:
    return ", ".join(p.value for p in PURPOSE_DESCRIPTIONS)
