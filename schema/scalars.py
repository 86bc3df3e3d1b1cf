"""Custom scalars for the domain's identifiers; each rejects malformed or bad-checksum input.

The check that failed reaches the client as a ``BAD_USER_INPUT`` error (see ``gateway/shape.py``),
never the value itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from schema import identifiers

USCC = NewType("USCC", str)
ResidentID = NewType("ResidentID", str)
AccountNumber = NewType("AccountNumber", str)
CourtCaseNumber = NewType("CourtCaseNumber", str)
PoliceCaseNumber = NewType("PoliceCaseNumber", str)


def _parser(check: Callable[[str], str]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise identifiers.InvalidIdentifier(
                check.__name__.removeprefix("check_").replace("_", " "), "must be a string"
            )
        return check(value)

    return parse


SCALARS: dict[object, ScalarDefinition] = {
    USCC: strawberry.scalar(
        name="USCC",
        description="Unified social credit code (GB 32100-2015), 18 characters with a check.",
        serialize=str,
        parse_value=_parser(identifiers.check_uscc),
    ),
    ResidentID: strawberry.scalar(
        name="ResidentID",
        description="Resident identity number (GB 11643-1999), 17 digits and an ISO 7064 check.",
        serialize=str,
        parse_value=_parser(identifiers.check_resident_id),
    ),
    AccountNumber: strawberry.scalar(
        name="AccountNumber",
        description="Bank card or account number, 16-19 digits with a Luhn check digit.",
        serialize=str,
        parse_value=_parser(identifiers.check_account_number),
    ),
    CourtCaseNumber: strawberry.scalar(
        name="CourtCaseNumber",
        description="Court case number (案号), e.g. (2024)京01民初123号.",
        serialize=str,
        parse_value=_parser(identifiers.check_court_case_number),
    ),
    PoliceCaseNumber: strawberry.scalar(
        name="PoliceCaseNumber",
        description="Police case number: J + 6-digit region + 4-digit year + 6-digit sequence.",
        serialize=str,
        parse_value=_parser(identifiers.check_police_case_number),
    ),
}
