"""Leads and cases (``/console/leads``): the joint office's leads and the cases opened from
them, read through the gateway's pipeline with the official's own token and declared purpose
(``console.web.graphql``): the office's desk decides which leads exist for them, the field
policies what they see of them, and the API records the read. Refusals are shown with their
code; the console adds nothing and records nothing of its own here (the API does)."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.i18n import messages
from console.web import Page, graphql, official, page, render
from gateway.governance import Official
from kernel.identifiers import InvalidIdentifier, check_case_id
from kernel.types import Purpose

PAGE = Page("leads", "leads.title", (), 70)
PAGE_SIZE = 50
# a default purpose by role: the one the workflow serves for it (docs/workflows.md)
DEFAULT_PURPOSE = (
    ("auditor", Purpose.AUDIT),
    ("investigator", Purpose.INVESTIGATION),
    ("analyst", Purpose.RISK_MONITORING),
    ("regulator", Purpose.RISK_MONITORING),
    ("officer", Purpose.SUPERVISION),
    ("case-admin", Purpose.SUPERVISION),
)
LIST = """query ConsoleLeads($first: Int!) {
  leads(first: $first) {
    totalCount
    nodes {
      id state category sourceAgency region submittedAt major majorDeadline overdue caseNumber
    }
  }
  cases(first: $first) { totalCount nodes { number state title agency leadId openedAt closedAt } }
}"""
DETAIL = """query ConsoleLead($id: ID!) {
  lead(id: $id) {
    id state category sourceAgency submittedBy submittedAt updatedAt region description
    amount victims major majorReasons majorDeadline majorAcknowledgedAt overdue caseNumber
    subjects { kind identifier }
    verification { outcome findings by byAgency at }
    referral { toAgency receivingUnit note by byAgency at }
    feedback { note by byAgency at }
  }
}"""
LEAD_ID = re.compile(r"[A-Za-z0-9-]{1,40}")

messages(
    {
        "leads.title": ("线索与案件", "Leads and cases"),
        "leads.intro": (
            "通过网关以您本人的身份和声明的目的读取：您能看到哪些线索、看到哪些字段，由联合办公室的规则决定，并记入审计。",
            "Read through the gateway as you, with the purpose you declare: which leads you see,"
            " and which of their fields, the joint office's rules decide; the API records it.",
        ),
        "leads.declare": ("声明", "Declaration"),
        "leads.purpose": ("目的（X-Purpose）", "Purpose (X-Purpose)"),
        "leads.case": ("案件编号（X-Case-Id，可选）", "Case number (X-Case-Id, optional)"),
        "leads.read": ("读取", "Read"),
        "leads.leads": ("线索（共 {n} 条）", "Leads ({n} in all)"),
        "leads.cases": ("由线索立案的案件（共 {n} 件）", "Cases opened from leads ({n} in all)"),
        "leads.none": ("没有您可读取的线索。", "No lead you may read."),
        "leads.no_cases": ("没有您可读取的案件。", "No case you may read."),
        "leads.id": ("编号", "Id"),
        "leads.state": ("状态", "State"),
        "leads.category": ("类别", "Category"),
        "leads.source": ("报送单位", "Reported by"),
        "leads.region": ("地区", "Region"),
        "leads.submitted": ("报送时间", "Submitted"),
        "leads.deadline": ("重大事件报告期限", "Major-event deadline"),
        "leads.overdue": ("已逾期", "OVERDUE"),
        "leads.case_number": ("案件", "Case"),
        "leads.number": ("案件编号", "Case number"),
        "leads.title_col": ("名称", "Title"),
        "leads.agency": ("单位", "Agency"),
        "leads.lead": ("线索", "Lead"),
        "leads.opened": ("立案时间", "Opened"),
        "leads.closed": ("结案时间", "Closed"),
        "leads.refused": ("网关拒绝：{code}", "Refused by the gateway: {code}"),
        "leads.partial": ("部分内容未返回：", "Parts were not returned:"),
        "leads.detail": ("线索 {id}", "Lead {id}"),
        "leads.field": ("项", "Field"),
        "leads.value": ("内容", "Value"),
        "leads.back": ("返回线索列表", "Back to the leads"),
        "leads.bad_case": ("案件编号无效。", "That is not a valid case number."),
        "leads.bad_id": ("线索编号无效。", "That is not a lead id."),
        "leads.bad_purpose": ("未知的目的。", "Unknown purpose."),
    }
)


def default_purpose(who: Official) -> str:
    for role, purpose in DEFAULT_PURPOSE:
        if role in who.roles:
            return purpose.value
    return Purpose.SUPERVISION.value


def _declaration(request: Request) -> tuple[str, str, str | None]:
    """(purpose, case number or "", the error key) from the query string."""
    who = official(request)
    assert who is not None
    purpose = request.query_params.get("purpose") or default_purpose(who)
    if purpose not in {p.value for p in Purpose}:
        return default_purpose(who), "", "leads.bad_purpose"
    given = request.query_params.get("case", "").strip()
    if not given:
        return purpose, "", None
    try:
        return purpose, check_case_id(given), None
    except InvalidIdentifier:
        return purpose, "", "leads.bad_case"


def _headers(purpose: str, case: str) -> dict[str, str]:
    headers = {"x-purpose": purpose}
    if case:
        headers["x-case-id"] = case
    return headers


def _refusals(status: int, body: dict[str, Any]) -> list[dict[str, str]]:
    """Each error of the answer: its code and where (never its data)."""
    return [
        {"code": str((e.get("extensions") or {}).get("code", status)),
         "path": ".".join(str(p) for p in e.get("path") or ()),
         "message": str(e.get("message", ""))}
        for e in body.get("errors") or ()
    ]  # fmt: skip


def _context(request: Request, purpose: str, case: str, problem: str | None) -> dict[str, Any]:
    return {
        "purpose": purpose, "case": case, "problem": problem,
        "purposes": [p.value for p in Purpose],
    }  # fmt: skip


@page(PAGE)
async def leads(request: Request) -> Response:
    purpose, case, problem = _declaration(request)
    context = _context(request, purpose, case, problem)
    if problem:
        return render(request, "leads.html", 400, data=None, errors=[], **context)
    status, body = await graphql(request, LIST, {"first": PAGE_SIZE}, _headers(purpose, case))
    data = body.get("data") or None
    return render(request, "leads.html", data=data, errors=_refusals(status, body), **context)


@page(PAGE)
async def lead(request: Request) -> Response:
    purpose, case, problem = _declaration(request)
    context = _context(request, purpose, case, problem)
    lead_id = request.path_params["id"]
    if not LEAD_ID.fullmatch(lead_id):
        problem = "leads.bad_id"
    if problem:
        context["problem"] = problem
        return render(
            request, "leads_detail.html", 400, lead=None, errors=[], lead_id="", **context
        )
    status, body = await graphql(request, DETAIL, {"id": lead_id}, _headers(purpose, case))
    found = (body.get("data") or {}).get("lead")
    return render(
        request, "leads_detail.html", lead=found, errors=_refusals(status, body), lead_id=lead_id,
        **context,
    )  # fmt: skip


ROUTES = [Route("/leads", leads), Route("/leads/{id}", lead)]
