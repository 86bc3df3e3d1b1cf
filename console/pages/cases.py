"""Cases & teams (``/console/cases``): the case registry and the joint teams, as ``jointgate
cases list / show`` and ``jointgate teams list`` show them, for case administrators and
auditors; a case administrator assigns an official to a case (``case.assign``, as ``jointgate
cases assign``). Every read is recorded (``console.cases.view``) before it is shown."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.i18n import messages
from console.reading import read_governance, when
from console.web import (
    Page,
    change,
    console,
    flashed,
    governed,
    official,
    page,
    record,
    redirect,
    render,
)
from gateway.governance import AUDITOR, CASE_ADMIN
from gateway.notify import announce
from policies.cases import TOPIC, Case, CaseError, CaseStore, case_number
from policies.cases import official as official_name
from policies.db import Database
from policies.teams import Team, TeamStore

PAGE = Page("cases", "cases.title", (CASE_ADMIN, AUDITOR), 40)

messages(
    {
        "cases.title": ("案件与联合专班", "Cases & teams"),
        "cases.cases": ("登记的案件", "Registered cases"),
        "cases.teams": ("联合专班", "Joint teams"),
        "cases.show_all": ("包括已结案件", "Include closed cases"),
        "cases.open_only": ("只看在办案件", "Open cases only"),
        "cases.none": ("没有案件。", "No cases."),
        "cases.no_teams": ("没有联合专班。", "No joint teams."),
        "cases.number": ("案件编号", "Case number"),
        "cases.agency": ("主办单位", "Owning agency"),
        "cases.title_col": ("案件名称", "Title"),
        "cases.team": ("专班", "Teams"),
        "cases.subjects": ("涉案主体", "Subjects"),
        "cases.officials": ("承办人员", "Assigned officials"),
        "cases.opened": ("立案时间", "Opened"),
        "cases.closed": ("结案时间", "Closed"),
        "cases.state": ("状态", "State"),
        "cases.open": ("在办", "open"),
        "cases.is_closed": ("已结", "closed"),
        "cases.detail": ("案件 {number}", "Case {number}"),
        "cases.kind": ("类型", "Kind"),
        "cases.identifier": ("标识", "Identifier"),
        "cases.assignments": ("指派记录", "Assignments"),
        "cases.official": ("人员", "Official"),
        "cases.assigned": ("指派时间", "Assigned"),
        "cases.by": ("操作人", "By"),
        "cases.removed": ("撤销时间", "Removed"),
        "cases.registered": (
            "登记：{by}，{at}（来源：{source}）",
            "Registered by {by} at {at} (source: {source})",
        ),
        "cases.back": ("返回案件列表", "Back to the cases"),
        "cases.members": ("成员及有效期", "Members and their validity"),
        "cases.member": ("成员", "Member"),
        "cases.valid_from": ("起始", "Valid from"),
        "cases.valid_until": ("截止", "Valid until"),
        "cases.member_state": ("当前", "Now"),
        "cases.active": ("有效", "active"),
        "cases.inactive": ("无效", "not active"),
        "cases.team_until": ("专班有效期至：{until}", "The team is valid until: {until}"),
        "cases.team_cases": ("覆盖案件：{cases}", "Covers cases: {cases}"),
        "cases.open_ended": ("不限", "open-ended"),
        "cases.assign": ("指派承办人员", "Assign an official"),
        "cases.assign.user": (
            "人员（身份提供方的用户名）",
            "Official (their identity provider name)",
        ),
        "cases.assign.submit": ("指派", "Assign"),
        "cases.assigned_done": ("已指派 {user}。", "{user} is assigned."),
        "cases.bad": ("无法完成：{reason}", "Not done: {reason}"),
    }
)


def _teams_by_case(teams: list[Team]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for team in teams:
        for number in team.cases:
            found.setdefault(number, []).append(team.id)
    return found


def _team_rows(teams: list[Team], now: float) -> list[dict[str, Any]]:
    return [
        {
            "id": team.id, "name": team.name, "cases": ", ".join(team.cases),
            "active": team.active(now), "until": when(team.valid_until),
            "closed": when(team.closed_at) if team.closed_at else "",
            "members": [
                {"subject": m.subject, "valid_from": when(m.valid_from),
                 "valid_until": when(m.valid_until), "active": team.member_active(m.subject, now)}
                for m in team.memberships
            ],
        }
        for team in teams
    ]  # fmt: skip


@page(PAGE)
async def cases(request: Request) -> Response:
    show_all = request.query_params.get("all") == "1"
    await record(request, "console.cases.view", {"all": show_all or None})

    def read(db: Database) -> tuple[list[Case], list[Team]]:
        return CaseStore(db).cases(open_only=not show_all), TeamStore(db).list()

    found, teams = await read_governance(request, read)
    covering = _teams_by_case(teams)
    return render(
        request, "cases.html", cases=found, covering=covering, teams=_team_rows(teams, time.time()),
        when=when, show_all=show_all,
    )  # fmt: skip


@page(PAGE)
async def case_detail(request: Request) -> Response:
    given = request.path_params["number"]
    try:
        number = case_number(given)
    except CaseError as exc:
        return _bad(request, str(exc), 400)
    await record(request, "console.cases.view", {"case": number})

    def read(db: Database) -> tuple[Case, list[Team]]:
        return CaseStore(db).get(number), TeamStore(db).list()

    try:
        case, teams = await read_governance(request, read)
    except CaseError as exc:
        return _bad(request, str(exc), 404)
    who = official(request)
    return render(
        request, "cases_detail.html", case=case, teams=_teams_by_case(teams).get(number, []),
        when=when, may_assign=who is not None and CASE_ADMIN in who.roles,
        done=flashed(request).get("done", ""),
    )  # fmt: skip


@change(PAGE)
async def assign(request: Request, form: FormData) -> Response:
    who = official(request)
    assert who is not None
    if CASE_ADMIN not in who.roles:  # auditors read; only case administrators change
        reason = f"case.assign needs the role {CASE_ADMIN}"
        await record(request, "case.assign", {}, "refused", reason)
        return render(request, "forbidden.html", 403, needs=CASE_ADMIN)
    user = str(form.get("user", "")).strip()
    try:
        number = case_number(request.path_params["number"])
        user = official_name(user)
    except (CaseError, ValueError) as exc:
        return _bad(request, str(exc), 400)
    details = {"case": number, "user": user}
    try:
        await governed(
            request, "case.assign", details,
            lambda db: CaseStore(db).assign(number, user, by=who.subject), (CaseError, ValueError),
        )  # fmt: skip
    except (CaseError, ValueError) as exc:
        return _bad(request, str(exc), 400)
    await _announce(request)
    return redirect(request, f"/console/cases/{quote(number, safe='')}", done=user)


async def _announce(request: Request) -> None:
    """This gateway's registry re-read at once, the other replicas told (as the command line
    tells them: a change notification on topic ``cases``; without Redis they see it at their
    next periodic check)."""
    gateway = console(request).gateway
    if gateway.cases is not None:
        await asyncio.to_thread(gateway.cases.check)
    await asyncio.to_thread(announce, gateway.settings.notifications, TOPIC, origin="console")


def _bad(request: Request, reason: str, status: int) -> Response:
    return render(request, "cases_error.html", status, reason=reason)


ROUTES = [
    Route("/cases", cases),
    Route("/cases/{number}", case_detail),
    Route("/cases/{number}/assign", assign, methods=["POST"]),
]
