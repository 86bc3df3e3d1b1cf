"""Custom scalars for the domain's identifiers; each rejects malformed or bad-checksum input.

The check that failed reaches the client as a ``BAD_USER_INPUT`` error (see ``gateway/respond.py``),
never the value itself.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from kernel import identifiers

USCC = NewType("USCC", str)
ResidentID = NewType("ResidentID", str)
AccountNumber = NewType("AccountNumber", str)
CourtCaseNumber = NewType("CourtCaseNumber", str)
PoliceCaseNumber = NewType("PoliceCaseNumber", str)
Date = NewType("Date", str)


def check_date(value: str) -> str:
    """An ISO calendar date, ``2026-05-01`` (a date range's end: schema/banking.py)."""
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or len(value) != 10:
        raise identifiers.InvalidIdentifier("Date", "must be an ISO date, YYYY-MM-DD")
    return day.isoformat()


def _scalar(name: str, description: str, check: Callable[[str], str]) -> ScalarDefinition:
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise identifiers.InvalidIdentifier(name, "must be a string")
        return check(value)

    return strawberry.scalar(name=name, description=description, serialize=str, parse_value=parse)


SCALARS: dict[object, ScalarDefinition] = {
    USCC: _scalar(
        "USCC",
        "Unified social credit code (GB 32100-2015), 18 characters with a check.",
        identifiers.check_uscc,
    ),
    ResidentID: _scalar(
        "ResidentID",
        "Resident identity number (GB 11643-1999), 17 digits and an ISO 7064 check.",
        identifiers.check_resident_id,
    ),
    AccountNumber: _scalar(
        "AccountNumber",
        "Bank card or account number, 16-19 digits with a Luhn check digit.",
        identifiers.check_account_number,
    ),
    CourtCaseNumber: _scalar(
        "CourtCaseNumber",
        "Court case number (案号), e.g. (2024)京01民初123号.",
        identifiers.check_court_case_number,
    ),
    Date: _scalar("Date", "A calendar date, ISO 8601: YYYY-MM-DD.", check_date),
    PoliceCaseNumber: _scalar(
        "PoliceCaseNumber",
        "Police case number: J + 6-digit region + 4-digit year + 6-digit sequence.",
        identifiers.check_police_case_number,
    ),
}
