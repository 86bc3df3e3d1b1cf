"""The police (公安) system: REST/JSON under ``/api/v1``, page-number paging.

Errors are ``{"error": {"code": "BAD_REQUEST" | "NOT_FOUND" | "INTERNAL", "message": ...}}`` with
the matching HTTP status; lists are ``{"data": [...], "page": 1, "page_size": 100, "total": N}``.
See docs/sandbox.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kernel.identifiers import check_police_case_number, check_resident_id, check_uscc
from sandbox.faults import Faults
from sandbox.fields import RecordShape
from sandbox.http import ApiError, build_app, check_keys, json_response, query_int, query_values
from sandbox.paging import page_slice
from sandbox.world import Record, World

__all__ = ["CASE", "PERSON", "create_app", "render_error"]

PERSON = RecordShape(
    "person",
    "id_number",
    dict.fromkeys(("name", "gender", "birth_date", "ethnicity", "household_address", "phone")),
)
CASE = RecordShape(
    "case",
    "case_number",
    {
        **dict.fromkeys(
            (
                "charge",
                "status",
                "filed_on",
                "amount_involved",
                "victims",
                "handling_unit",
                "summary",
                "suspect_ids",
                "enterprise_ids",
            )
        ),
        "frozen_assets": ("measure", "asset_type", "account_number", "amount", "date"),
    },
)

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500

_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND"}


def render_error(status: int, message: str) -> Response:
    """The police error format."""
    code = "INTERNAL" if status >= 500 else _CODES.get(status, "BAD_REQUEST")
    return json_response({"error": {"code": code, "message": message}}, status)


def _paged(request: Request, shape: RecordShape, records: Sequence[Record]) -> Response:
    """One page of ``records``, projected on the requested fields."""
    select = shape.select(
        query_values(request, "fields") if "fields" in request.query_params else None
    )
    page = query_int(request, "page", 1, 1, 1_000_000)
    page_size = query_int(request, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return json_response(
        {
            "data": [select(r) for r in page_slice(records, page, page_size)],
            "page": page,
            "page_size": page_size,
            "total": len(records),
        }
    )


def create_app(world: World, faults: Faults | None = None) -> Starlette:
    """The police system's ASGI app over ``world``."""

    async def persons(request: Request) -> Response:
        ids = check_keys(query_values(request, "id_number"), check_resident_id)
        if not ids:
            raise ApiError(400, "give at least one id_number")
        return _paged(request, PERSON, [world.persons[i] for i in ids if i in world.persons])

    # Each way to look cases up: (query parameter, key check, case numbers for one key).
    lookups: dict[str, tuple[Callable[[str], str], Callable[[str], Sequence[str]]]] = {
        "case_number": (check_police_case_number, lambda n: (n,)),
        "suspect_id": (check_resident_id, lambda i: world.police_cases_by_suspect.get(i, ())),
        "enterprise_uscc": (check_uscc, lambda u: world.police_cases_by_enterprise.get(u, ())),
    }

    async def cases(request: Request) -> Response:
        given = [name for name in lookups if name in request.query_params]
        if len(given) != 1:
            raise ApiError(400, f"give exactly one of {', '.join(lookups)}")
        check, case_numbers = lookups[given[0]]
        found: dict[str, Record] = {}
        for key in check_keys(query_values(request, given[0]), check):
            for number in case_numbers(key):
                if number in world.police_cases:
                    found[number] = world.police_cases[number]
        records = list(found.values())
        if given[0] != "case_number":  # newest first when searching
            records.sort(key=lambda c: (c["filed_on"], c["case_number"]), reverse=True)
        return _paged(request, CASE, records)

    return build_app(
        [Route("/api/v1/persons", persons), Route("/api/v1/cases", cases)], render_error, faults
    )
