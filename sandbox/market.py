"""The market-regulation (市场监管) registry: REST/JSON under ``/registry/v2``, cursor paging.

Errors are RFC 7807 ``application/problem+json``; lists are
``{"items": [...], "next_cursor": "..." | null}`` ordered by USCC, and a name search also returns
``"total"``. See docs/sandbox.md.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kernel.identifiers import check_resident_id, check_uscc
from sandbox.faults import Faults
from sandbox.fields import RecordShape
from sandbox.http import ApiError, build_app, check_keys, json_response, query_int, query_values
from sandbox.paging import decode_token, encode_token, keyset_page
from sandbox.world import World

__all__ = ["ENTERPRISE", "create_app", "render_error"]

ENTERPRISE = RecordShape(
    "enterprise",
    "uscc",
    {
        **dict.fromkeys(
            (
                "name",
                "legal_rep_id",
                "legal_rep_name",
                "registered_capital",
                "established_on",
                "business_scope",
                "status",
                "address",
                "region_code",
                "industry",
            )
        ),
        "shareholders": ("holder_id", "holder_name", "holder_type", "share_pct"),
        "abnormal_operations": ("listed_on", "reason", "authority", "removed_on"),
        "serious_violation": None,
        "penalties": ("decision_number", "decided_on", "violation", "amount", "authority"),
    },
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
LOOKUPS = ("uscc", "legal_rep_id", "name_contains")


def render_error(status: int, message: str) -> Response:
    """The market registry's error format: an RFC 7807 problem document."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return json_response(
        {"type": "about:blank", "title": title, "status": status, "detail": message},
        status,
        media_type="application/problem+json",
    )


def create_app(world: World, faults: Faults | None = None) -> Starlette:
    """The market registry's ASGI app over ``world``."""

    def matching(request: Request, lookup: str) -> list[str]:
        """USCCs of the enterprises the request asks for, in USCC order."""
        if lookup == "uscc":
            keys = check_keys(query_values(request, "uscc"), check_uscc)
            return sorted(u for u in keys if u in world.enterprises)
        if lookup == "legal_rep_id":
            ids = check_keys(query_values(request, "legal_rep_id"), check_resident_id)
            return sorted({u for i in ids for u in world.enterprises_by_legal_rep.get(i, ())})
        needle = request.query_params["name_contains"].strip()
        if not needle:
            raise ApiError(400, "name_contains must not be empty")
        return [u for u in world.enterprise_usccs_sorted if needle in world.enterprises[u]["name"]]

    async def enterprises(request: Request) -> Response:
        given = [name for name in LOOKUPS if name in request.query_params]
        if len(given) != 1:
            raise ApiError(400, f"give exactly one of {', '.join(LOOKUPS)}")
        params = request.query_params
        select = ENTERPRISE.select(query_values(request, "fields") if "fields" in params else None)
        limit = query_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        after = None
        if "cursor" in params:
            after = decode_token(params["cursor"]).get("after")
            if not isinstance(after, str):
                raise ApiError(400, "invalid cursor")
        usccs = matching(request, given[0])
        page, last = keyset_page(usccs, after, limit)
        body: dict[str, Any] = {
            "items": [select(world.enterprises[u]) for u in page],
            "next_cursor": encode_token({"after": last}) if last else None,
        }
        if given[0] == "name_contains":
            body["total"] = len(usccs)
        return json_response(body)

    return build_app([Route("/registry/v2/enterprises", enterprises)], render_error, faults)
