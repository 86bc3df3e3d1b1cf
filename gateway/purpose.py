"""Stage 1b: the caller's declaration of purpose (``X-Purpose``, ``X-Case-Id``, ...).

Every request states why it asks. Purposes that concern a specific case need its id; the
justification is free text kept in the audit record. Codes are listed in docs/purposes.md.
Header values are ASCII, so non-ASCII text (a justification in Chinese, a court case number)
is sent percent-encoded as UTF-8.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

from gateway.errors import PurposeRequired
from gateway.types import PURPOSE_DESCRIPTIONS, Declaration, Purpose

PURPOSE = "x-purpose"
CASE_ID = "x-case-id"
JUSTIFICATION = "x-justification"
BREAK_GLASS = "x-break-glass"

_CASE_ID = re.compile(r"^[\w\-()（）\u4e00-\u9fff]{3,64}$")
MAX_TEXT = 500


def declare(headers: Mapping[str, str]) -> Declaration:
    raw = (headers.get(PURPOSE) or "").strip()
    if not raw:
        raise PurposeRequired(f"Declare a purpose in the X-Purpose header: one of {_codes()}.")
    try:
        purpose = Purpose(raw.lower())
    except ValueError:
        raise PurposeRequired(f"Unknown purpose; X-Purpose must be one of {_codes()}.") from None
    case_id = unquote(headers.get(CASE_ID) or "").strip() or None
    if purpose.needs_case and case_id is None:
        raise PurposeRequired(f"Purpose '{purpose}' needs the case it concerns in X-Case-Id.")
    if case_id is not None and not _CASE_ID.match(case_id):
        raise PurposeRequired("X-Case-Id is not a valid case id (3-64 letters, digits, -, ()).")
    return Declaration(
        purpose=purpose,
        case_id=case_id,
        justification=_text(headers.get(JUSTIFICATION), "X-Justification"),
        break_glass=_text(headers.get(BREAK_GLASS), "X-Break-Glass"),
    )


def _text(value: str | None, header: str) -> str | None:
    value = unquote(value or "").strip()  # UTF-8 text arrives percent-encoded
    if len(value) > MAX_TEXT:
        raise PurposeRequired(f"{header} is longer than {MAX_TEXT} characters.")
    return value or None


def _codes() -> str:
    return ", ".join(p.value for p in PURPOSE_DESCRIPTIONS)
