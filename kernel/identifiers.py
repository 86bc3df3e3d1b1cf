"""Identifier checks for the domain's keys, shared by the schema scalars and the sandbox.

Each ``check_*`` function returns the normalised identifier or raises :class:`InvalidIdentifier`
whose message says which check failed (length, alphabet, date, checksum ...). The ``*_check_char``
helpers compute check characters so that the synthetic world only produces valid identifiers.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

__all__ = [
    "CASE_ID_FORMS",
    "USCC_ALPHABET",
    "InvalidIdentifier",
    "check_account_number",
    "check_case_id",
    "check_court_case_number",
    "check_police_case_number",
    "check_resident_id",
    "check_uscc",
    "luhn_check_digit",
    "normalize_case_id",
    "normalize_identifier",
    "resident_id_check_char",
    "uscc_check_char",
]


class InvalidIdentifier(ValueError):
    """An identifier failed validation; ``kind`` names the identifier, ``reason`` the check."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"invalid {kind}: {reason}")
        self.kind = kind
        self.reason = reason


# GB 32100-2015: 31 characters, no I, O, Z, S, V.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_DIGITS = re.compile(r"[0-9]+")


def _nfkc(value: str) -> str:
    """``value`` NFKC-normalised, so that full-width parentheses, digits, letters and hyphens (as
    Chinese input methods type them) become their ASCII forms; surrounding white space removed.
    Digits of other scripts (Arabic-Indic ...) stay what they are, and are refused by the checks,
    which take ASCII digits only."""
    return unicodedata.normalize("NFKC", value).strip()


def _ascii(kind: str, value: str) -> str:
    """``value`` without surrounding blanks, if it is ASCII: other scripts' digits (Arabic-Indic,
    full-width ...) would pass ``str.isdigit``, ``\\d`` and ``int()``, and ``str.upper`` turns
    some letters into several (``ﬁ`` into ``FI``)."""
    if not value.isascii():
        raise InvalidIdentifier(kind, "must be ASCII letters and digits only")
    return value.strip(" \t")


def _shown(char: str) -> str:
    """An ASCII character as a message may show it: itself if visible, else its code point
    (``U+0000``), never raw."""
    return char if char.isprintable() and char != " " else f"U+{ord(char):04X}"


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str:
    kind = "unified social credit code"
    code = _ascii(kind, value).upper()
    if len(code) != 18:
        raise InvalidIdentifier(kind, f"must be 18 characters, got {len(code)}")
    bad = sorted({c for c in code if c not in _USCC_VALUE})
    if bad:
        shown = ", ".join(_shown(c) for c in bad)
        raise InvalidIdentifier(kind, f"characters not allowed: {shown} (no I, O, S, V, Z)")
    if not _DIGITS.fullmatch(code[2:8]):
        raise InvalidIdentifier(kind, "characters 3-8 must be the 6-digit region code")
    if uscc_check_char(code[:17]) != code[17]:
        raise InvalidIdentifier(kind, "check character does not match (GB 32100-2015)")
    return code


# GB 11643-1999, ISO 7064 MOD 11-2.
_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


def resident_id_check_char(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def check_resident_id(value: str) -> str:
    kind = "resident identity number"
    number = _ascii(kind, value).upper()
    if len(number) != 18:
        raise InvalidIdentifier(kind, f"must be 18 characters, got {len(number)}")
    if not _ID_SHAPE.fullmatch(number):
        raise InvalidIdentifier(kind, "must be 17 digits followed by a digit or X")
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdentifier(kind, "characters 7-14 are not a valid birth date") from None
    if born.year < 1900 or born > dt.date.today():
        raise InvalidIdentifier(kind, "birth date is out of range")
    if resident_id_check_char(number[:17]) != number[17]:
        raise InvalidIdentifier(kind, "check character does not match (ISO 7064 MOD 11-2)")
    return number


def luhn_check_digit(payload: str) -> str:
    total = 0
    for i, c in enumerate(reversed(payload)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def check_account_number(value: str) -> str:
    kind = "bank account number"
    number = _ascii(kind, value).replace(" ", "")
    if not _DIGITS.fullmatch(number):
        raise InvalidIdentifier(kind, "must contain digits only")
    if not 16 <= len(number) <= 19:
        raise InvalidIdentifier(kind, f"must be 16 to 19 digits, got {len(number)}")
    if luhn_check_digit(number[:-1]) != number[-1]:
        raise InvalidIdentifier(kind, "check digit does not match (Luhn)")
    return number


_PROVINCES = "京津沪渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤琼川贵云陕甘青蒙桂藏宁新兵"
COURT_CASE_TYPES = (
    "民初",
    "民终",
    "民再",
    "民特",
    "刑初",
    "刑终",
    "行初",
    "行终",
    "执恢",
    "执保",
    "执异",
    "执",
    "破",
)
_COURT_CASE = re.compile(
    r"\((?P<year>[0-9]{4})\)(?P<court>[" + _PROVINCES + r"][0-9]{2,4})"
    r"(?P<type>" + "|".join(COURT_CASE_TYPES) + r")(?P<seq>[0-9]{1,6})号"
)


def check_court_case_number(value: str) -> str:
    """``(year)court-code type-code sequence 号``, e.g. ``(2024)京01民初123号``.

    Normalised first (NFKC): full-width parentheses and digits are accepted and become ASCII
    ones; digits of other scripts are refused.
    """
    kind = "court case number"
    number = _nfkc(value)
    m = _COURT_CASE.fullmatch(number)
    if not m:
        raise InvalidIdentifier(
            kind, "expected (year)court-code + type-code + sequence + 号, e.g. (2024)京01民初123号"
        )
    year = int(m["year"])
    if not 1990 <= year <= dt.date.today().year + 1:
        raise InvalidIdentifier(kind, f"year {year} is out of range")
    return f"({m['year']}){m['court']}{m['type']}{m['seq']}号"


# Police case numbers are agency-internal; JointGate documents one format for its members:
# "J" + 6-digit region code + 4-digit year + 6-digit sequence, e.g. J1101052026000123.
_POLICE_CASE = re.compile(r"J(?P<region>[0-9]{6})(?P<year>[0-9]{4})(?P<seq>[0-9]{6})")


def check_police_case_number(value: str) -> str:
    kind = "police case number"
    number = _ascii(kind, value).upper()
    m = _POLICE_CASE.fullmatch(number)
    if not m:
        raise InvalidIdentifier(
            kind, "expected J + 6-digit region code + 4-digit year + 6-digit sequence"
        )
    _year(kind, m["year"])
    return number


_CHECKS = (
    check_court_case_number,
    check_police_case_number,
    check_resident_id,
    check_uscc,
    check_account_number,
)
_SHORTEST, _LONGEST = 12, 64  # (2024)京01执1号 .. an account number typed in groups, padded


def normalize_identifier(value: str) -> str:
    """A string as the audit trail records and searches it: an identifier in the form its
    scalar gives it (``6212 2661 6399 5120 011`` is ``6212266163995120011``, a full-width case
    number its ASCII form, a resident ID's ``x`` an ``X``); any other text as it is.

    One function for both sides, so that what a caller typed and what an auditor types find
    each other: ``audit.record`` indexes looked-up strings with it, ``audit.reader`` searches
    with it. A value several checks accept normalises alike under each (strip, upper case;
    only an account number also loses inner blanks), so the order of the checks is moot."""
    if not _SHORTEST <= len(value) <= _LONGEST:
        return value
    for check in _CHECKS:
        try:
            return check(value)
        except InvalidIdentifier:
            continue
    return value


def _year(kind: str, year: str) -> None:
    if not 1990 <= int(year) <= dt.date.today().year + 1:
        raise InvalidIdentifier(kind, f"year {year} is out of range")


# Joint investigation teams' own cases: "JIT-" + 4-digit year + "-" + 3-digit sequence.
_JOINT_CASE = re.compile(r"JIT-(?P<year>[0-9]{4})-[0-9]{3}")


#: The case ids :func:`check_case_id` accepts, as messages name them.
CASE_ID_FORMS = (
    "a police case number (J + 6-digit region code + 4-digit year + 6-digit sequence, e.g."
    " J1101052026000123), a court case number (e.g. (2024)京01民初123号, in a header"
    " percent-encoded as UTF-8) or a joint-team case id (JIT-YYYY-NNN, e.g. JIT-2026-001)"
)


def check_case_id(value: str) -> str:
    """A case id as the gateway takes it (``X-Case-Id``), joint teams cover it, the audit trail
    records it and ``audit search --case`` finds it: one of :data:`CASE_ID_FORMS`, in its one
    canonical form. NFKC first (full-width forms become ASCII: ``ＪＩＴ－２０２６－００１`` is
    ``JIT-2026-001``), then ASCII letters upper-cased, so that ``jit-2026-001`` is that case too;
    anything else (other scripts' digits or look-alike letters, ``JIT一2026一001``) is refused,
    so that no two ids that look alike can mean two cases, or one id two things."""
    case_id = _nfkc(value)
    if case_id.isascii():
        case_id = case_id.upper()
    for form in (_POLICE_CASE, _JOINT_CASE, _COURT_CASE):
        m = form.fullmatch(case_id)
        if m:
            _year("case id", m["year"])
            return case_id
    raise InvalidIdentifier("case id", f"expected {CASE_ID_FORMS}")


def normalize_case_id(value: str) -> str:
    """A case id in the form it is recorded and searched: :func:`check_case_id`'s canonical form,
    or, for a value that is no case id (a search for one recorded before the formats were
    enforced), the value NFKC-normalised and trimmed. Never raises."""
    try:
        return check_case_id(value)
    except InvalidIdentifier:
        return _nfkc(value)
