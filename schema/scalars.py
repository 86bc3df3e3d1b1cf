"""Custom scalars for the domain's identifiers; each rejects malformed or bad-checksum input.

The check that failed reaches the client as a ``BAD_USER_INPUT`` error (see ``gateway/respond.py``),
never the value itself.
"""

from __future__ import annotations

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
    PoliceCaseNumber: _scalar(
        "PoliceCaseNumber",
        "Police case number: J + 6-digit region + 4-digit year + 6-digit sequence.",
        identifiers.check_police_case_number,
    ),
}
