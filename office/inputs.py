"""What a caller gives the office, checked: every refusal a :class:`WorkflowError` with code
``BAD_USER_INPUT`` and a message naming the field (and which subject), never echoing text."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from kernel.identifiers import InvalidIdentifier, check_case_id, check_police_case_number
from kernel.text import unfit_name, unprintable
from kernel.workflow import LeadState, LeadSubject, WorkflowError
from policies.cases import SUBJECT_KINDS, CaseError, subject_identifier

MAX_DESCRIPTION = 4_000
MAX_NOTE = 2_000
MAX_UNIT = 200
MAX_TITLE = 200
MAX_SUBJECTS = 50
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT = 500
MAX_KEY = 200
MAX_PAGE = 100
# Beyond any real case, and far enough below overflow that the indicators' sums over every lead of
# a period stay finite (amount) and within GraphQL's 32-bit Int (victims, for 200 such leads).
MAX_AMOUNT = 1e15  # CNY
MAX_VICTIMS = 10_000_000
_REGION = re.compile(r"[1-9][0-9]{5}")
_LEAD_ID = re.compile(r"L-[0-9]{4}-[0-9]{6}")


def bad(message: str, **details: Any) -> WorkflowError:
    return WorkflowError("BAD_USER_INPUT", message, **details)


def text(value: str, field: str, limit: int, *, required: bool = True) -> str:
    """Text in NFC, trimmed, at most ``limit`` characters, lines without control or invisible
    characters."""
    if not isinstance(value, str):
        raise bad(f"{field} must be text", field=field)
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n")).strip()
    if required and not value:
        raise bad(f"{field} must not be empty", field=field)
    if len(value) > limit:
        raise bad(f"{field} is longer than {limit} characters", field=field)
    if any(unprintable(line) for line in value.split("\n")):
        raise bad(f"{field} holds control or invisible characters", field=field)
    return value


def idempotency_key(key: str) -> str:
    if (
        not isinstance(key, str)
        or not 1 <= len(key) <= MAX_KEY
        or not key.isascii()
        or (not key.isprintable())
    ):
        raise bad(
            f"the idempotency key is 1 to {MAX_KEY} printable ASCII characters (a UUID will do)",
            field="idempotencyKey",
        )
    return key


def subjects(values: Sequence[str]) -> tuple[LeadSubject, ...]:
    """Identifiers as typed, each checked (kind detected, or given as ``kind:identifier`` or
    ``kind=identifier`` where one value passes several checks); refusals name the subject by
    position."""
    if len(values) > MAX_SUBJECTS:
        raise bad(f"a lead names at most {MAX_SUBJECTS} subjects", field="subjects")
    found: list[LeadSubject] = []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise bad(f"subjects[{i}] must be text", field="subjects", index=i)
        kind, sep, rest = value.partition("=" if "=" in value[:12] else ":")
        try:
            if sep and kind in SUBJECT_KINDS:
                subject = subject_identifier(rest, kind)
            else:
                subject = subject_identifier(value)
        except CaseError as exc:
            reason = str(exc).replace("with --kind", "as KIND:IDENTIFIER (uscc, resident-id,"
                                      " account)")  # fmt: skip
            raise bad(f"subjects[{i}]: {reason}", field="subjects", index=i) from None
        if all(s.identifier != subject.identifier for s in found):
            found.append(LeadSubject(subject.kind, subject.identifier))
    return tuple(found)


def region(value: str | None, named: Sequence[LeadSubject]) -> str:
    """The 6-digit administrative division code given, or derived from the first subject
    (a USCC's characters 3-8, a resident ID's first 6)."""
    if value is not None and value != "":
        if not isinstance(value, str) or not _REGION.fullmatch(value):
            raise bad("region is a 6-digit administrative division code", field="region")
        return value
    if named and named[0].kind == "uscc":
        derived = named[0].identifier[2:8]
    elif named and named[0].kind == "resident-id":
        derived = named[0].identifier[:6]
    else:
        raise bad(
            "give the region (a 6-digit code): it cannot be derived from the first subject",
            field="region",
        )
    if not _REGION.fullmatch(derived):
        raise bad("give the region (a 6-digit code): the first subject has none", field="region")
    return derived


def amount(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad("amount is a number of CNY", field="amount")
    if value < 0:
        raise bad("amount must not be negative", field="amount")
    if value > MAX_AMOUNT:
        raise bad(f"amount is at most {MAX_AMOUNT:,.0f} CNY", field="amount")
    return float(value)


def victims(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad("victims is a whole number >= 0", field="victims")
    if value > MAX_VICTIMS:
        raise bad(f"victims is at most {MAX_VICTIMS:,}", field="victims")
    return value


def attachments(values: Sequence[str]) -> tuple[str, ...]:
    if len(values) > MAX_ATTACHMENTS:
        raise bad(f"at most {MAX_ATTACHMENTS} attachments", field="attachments")
    return tuple(text(v, f"attachments[{i}]", MAX_ATTACHMENT) for i, v in enumerate(values))


def lead_id(value: str) -> str:
    if not isinstance(value, str) or not _LEAD_ID.fullmatch(value.strip().upper()):
        raise bad("a lead id looks like L-2026-000001", field="leadId")
    return value.strip().upper()


def police_case(value: str) -> str:
    """A police case number in the one form every case id takes (NFKC, upper-cased:
    ``check_case_id``), so that openCase takes the spellings closeCase and X-Case-Id take."""
    try:
        return check_police_case_number(check_case_id(value))
    except InvalidIdentifier as exc:
        raise bad(f"the case number is not a police case number: {exc.reason}",
                  field="caseNumber") from None  # fmt: skip


def case_id(value: str) -> str:
    try:
        return check_case_id(value)
    except InvalidIdentifier as exc:
        raise bad(f"the case number is not valid: {exc.reason}", field="caseNumber") from None


def officials(values: Sequence[str]) -> tuple[str, ...]:
    for i, value in enumerate(values):
        if unfit_name(value):
            raise bad(f"officials[{i}] is not a subject name", field="officials", index=i)
    return tuple(dict.fromkeys(values))


def outcome(value: LeadState) -> LeadState:
    if value not in (LeadState.VERIFIED, LeadState.UNFOUNDED):
        raise bad("a verification's outcome is VERIFIED or UNFOUNDED", field="outcome")
    return value


def page_size(first: int) -> int:
    if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= MAX_PAGE:
        raise bad(f"first is from 1 to {MAX_PAGE}", field="first")
    return first


def cursor(position: Sequence[object]) -> str:
    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def position(value: str | None) -> tuple[float, str] | None:
    if value is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        at, ident = json.loads(raw)
        return float(at), str(ident)
    except Exception:  # whatever it is, it is not one of ours
        raise bad("after is not a cursor this list gave", field="after") from None


def digest(action: str, *parts: object) -> str:
    """The hash an idempotency key remembers its input by."""
    raw = json.dumps([action, *parts], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()
