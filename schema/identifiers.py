"""Identifier checks for the domain's keys, shared by the schema scalars and the sandbox.

Each ``check_*`` function returns the normalised identifier or raises :class:`InvalidIdentifier`
whose message says which check failed (length, alphabet, date, checksum ...). The ``*_check_char``
helpers compute check characters so that the synthetic world only produces valid identifiers.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = [
    "USCC_ALPHABET",
    "InvalidIdentifier",
    "check_account_number",
    "check_court_case_number",
    "check_police_case_number",
    "check_resident_id",
    "check_uscc",
    "luhn_check_digit",
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


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str:
    kind = "unified social credit code"
    code = value.strip().upper()
    if len(code) != 18:
        raise InvalidIdentifier(kind, f"must be 18 characters, got {len(code)}")
    bad = sorted({c for c in code if c not in _USCC_VALUE})
    if bad:
        raise InvalidIdentifier(kind, f"characters not allowed: {''.join(bad)} (no I, O, S, V, Z)")
    if not code[2:8].isdigit():
        raise InvalidIdentifier(kind, "characters 3-8 must be the 6-digit region code")
    if uscc_check_char(code[:17]) != code[17]:
        raise InvalidIdentifier(kind, "check character does not match (GB 32100-2015)")
    return code


# GB 11643-1999, ISO 7064 MOD 11-2.
_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")


def resident_id_check_char(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def check_resident_id(value: str) -> str:
    kind = "resident identity number"
    number = value.strip().upper()
    if len(number) != 18:
        raise InvalidIdentifier(kind, f"must be 18 characters, got {len(number)}")
    if not _ID_SHAPE.match(number):
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
    number = value.replace(" ", "").strip()
    if not number.isdigit() or not number.isascii():
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
    r"^[(（](?P<year>\d{4})[)）](?P<court>[" + _PROVINCES + r"]\d{2,4})"
    r"(?P<type>" + "|".join(COURT_CASE_TYPES) + r")(?P<seq>\d{1,6})号$"
)


def check_court_case_number(value: str) -> str:
    """``(year)court-code type-code sequence 号``, e.g. ``(2024)京01民初123号``.

    Full-width parentheses are accepted and normalised to ASCII ones.
    """
    kind = "court case number"
    number = value.strip()
    m = _COURT_CASE.match(number)
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
_POLICE_CASE = re.compile(r"^J(?P<region>\d{6})(?P<year>\d{4})(?P<seq>\d{6})$")


def check_police_case_number(value: str) -> str:
    kind = "police case number"
    number = value.strip().upper()
    m = _POLICE_CASE.match(number)
    if not m:
        raise InvalidIdentifier(
            kind, "expected J + 6-digit region code + 4-digit year + 6-digit sequence"
        )
    if not 1990 <= int(m["year"]) <= dt.date.today().year + 1:
        raise InvalidIdentifier(kind, f"year {m['year']} is out of range")
    return number
