"""Break-glass review (``/console/review``): the emergency accesses awaiting sign-off, each with
what it disclosed and its deadline (``governance.review_deadline_h`` after it was made; overdue
marked), as ``jointgate review pending`` lists them; a reviewer signs one off with a note
(``review.sign-off``, as ``jointgate review sign-off``: never their own access). Reads are
recorded (``console.review.view``) before they are shown."""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from audit.reader import AuditReader, SearchFilter
from console.i18n import messages
from console.reading import NoReader, read_governance, read_trail, when
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
from gateway.governance import AUDITOR, REVIEWER
from policies.db import Database
from policies.review import BreakGlassAccess, ReviewError, ReviewQueue

PAGE = Page("review", "review.title", (REVIEWER, AUDITOR), 45)
ACCESS_ID = re.compile(r"[0-9a-f]{12}")  # policies/review.py: uuid4().hex[:12]
MAX_NOTE = 2000

messages(
    {
        "review.title": ("紧急访问复核", "Break-glass review"),
        "review.intro": (
            "每次紧急访问（X-Break-Glass）须在 {hours} 小时内由复核人员签核"
            "（不能签核本人的访问）。",
            "Every break-glass access (X-Break-Glass) is to be signed off by a reviewer within"
            " {hours} hours (never by the official who made it).",
        ),
        "review.none": ("没有待复核的紧急访问。", "No break-glass access awaits review."),
        "review.pending": ("待复核：{n} 项，其中逾期 {late} 项", "Pending: {n}, overdue: {late}"),
        "review.access": ("访问 {id}", "Access {id}"),
        "review.who": ("访问人", "Who"),
        "review.at": ("时间", "When"),
        "review.purpose": ("目的与案件", "Purpose and case"),
        "review.reason": ("紧急事由", "Justification"),
        "review.fields": ("披露的字段", "Fields disclosed"),
        "review.entities": ("披露的记录", "Records disclosed"),
        "review.entities_unavailable": (
            "（审计链在此不可读取，无法列出）",
            "(the audit trail cannot be read here)",
        ),
        "review.request": ("请求编号", "Request id"),
        "review.due": ("复核期限", "Review due"),
        "review.overdue": ("已逾期", "OVERDUE"),
        "review.note": ("复核意见", "Review note"),
        "review.sign_off": ("签核", "Sign off"),
        "review.own": (
            "这是您本人的访问，须由其他复核人员签核。",
            "This is your own access: another reviewer signs it off.",
        ),
        "review.read_only": (
            "您可以查看；签核需要复核人员（reviewer）角色。",
            "You may read; signing off needs the reviewer role.",
        ),
        "review.done": ("已签核 {id}。", "{id} is signed off."),
        "review.bad": ("无法签核：{reason}", "Not signed off: {reason}"),
        "review.bad_id": ("访问编号无效。", "That is not a break-glass access id."),
        "review.back": ("返回复核队列", "Back to the queue"),
    }
)


def _disclosed(reader: AuditReader, accesses: list[BreakGlassAccess]) -> dict[str, list[str]]:
    """Each access's records as its audit record lists them (type: keys)."""
    found: dict[str, list[str]] = {}
    for access in accesses:
        for row in reader.search(SearchFilter(request_id=access.request_id), limit=1):
            returned = row.get("records_returned")
            if isinstance(returned, dict):
                found[access.id] = [
                    f"{kind}: {', '.join(map(str, keys)) if isinstance(keys, list) else keys}"
                    for kind, keys in sorted(returned.items())
                ]
    return found


@page(PAGE)
async def queue(request: Request) -> Response:
    deadline_s = console(request).gateway.settings.review_deadline_h * 3600
    pending = await read_governance(request, lambda db: ReviewQueue(db).pending())
    now = time.time()
    await record(request, "console.review.view", {"listed": len(pending)})  # before shown
    try:
        disclosed: dict[str, list[str]] | None = await read_trail(
            request, lambda reader: _disclosed(reader, pending)
        )
    except NoReader:
        disclosed = None
    who = official(request)
    rows: list[dict[str, Any]] = [
        {"access": a, "due": when(a.at + deadline_s), "overdue": a.at + deadline_s <= now,
         "own": who is not None and a.subject == who.subject}
        for a in pending
    ]  # fmt: skip
    return render(
        request, "review.html", rows=rows, disclosed=disclosed, when=when,
        hours=f"{deadline_s / 3600:g}", late=sum(1 for r in rows if r["overdue"]),
        may_sign=who is not None and REVIEWER in who.roles,
        done=flashed(request).get("done", ""),
    )  # fmt: skip


@change(PAGE)
async def sign_off(request: Request, form: FormData) -> Response:
    who = official(request)
    assert who is not None
    if REVIEWER not in who.roles:  # auditors read the queue; only reviewers sign off
        await record(request, "review.sign-off", {}, "refused", f"needs the role {REVIEWER}")
        return render(request, "forbidden.html", 403, needs=REVIEWER)
    access_id = request.path_params["access"]
    if not ACCESS_ID.fullmatch(access_id):
        return render(request, "review_error.html", 400, reason="", bad_id=True)
    note = str(form.get("note", "")).strip()[:MAX_NOTE]
    details = {"access": access_id, "note": note}

    def make(db: Database) -> BreakGlassAccess:
        return ReviewQueue(db).sign_off(access_id, who.subject, note)

    try:
        await governed(request, "review.sign-off", details, make, (ReviewError, ValueError))
    except (ReviewError, ValueError) as exc:
        return render(request, "review_error.html", 400, reason=str(exc), bad_id=False)
    return redirect(request, "/console/review", done=access_id)


ROUTES = [
    Route("/review", queue),
    Route("/review/{access}/sign-off", sign_off, methods=["POST"]),
]
