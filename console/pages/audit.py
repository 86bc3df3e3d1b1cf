"""Audit (``/console/audit``), for auditors: who saw an identifier (``jointgate audit search
--entity``), a subject report (``audit subject-report``), one record in full (``audit search
--request-id``), the export of a search (``audit export``, JSON lines or CSV) and the trail's
verification against its witnesses (``audit verify``, audit/inspection.py: run in a worker
thread, its last result shown). Every read is recorded (``console.audit.<what>``, with what was
searched for) before anything is shown; without a readable trail (a memory log) the page says
the trail is unavailable."""

from __future__ import annotations

import asyncio
import io
import re
import time
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from audit.inspection import Verification, verify_trail
from audit.reader import AuditReader, SearchFilter
from audit.tabular import dumps, write_csv, write_jsonl
from audit.trail import AuditTrail
from console.i18n import messages
from console.reading import NoReader, read_trail, when
from console.web import PAGE_HEADERS, Page, change, console, page, record, render
from gateway.governance import AUDITOR
from kernel.identifiers import (
    InvalidIdentifier,
    check_account_number,
    check_case_id,
    check_resident_id,
    check_uscc,
)
from schema.audit import field_entities, field_identities

PAGE = Page("audit", "audit.title", (AUDITOR,), 50)
MAX_SHOWN = 200  # records a search shows; the export has them all
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
VERIFICATION = "audit.verification"  # where the last verification is kept (Console.extras)
FORMATS = {"json": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}

messages(
    {
        "audit.title": ("审计", "Audit"),
        "audit.who_saw": ("谁查看过", "Who saw"),
        "audit.who_saw.help": (
            "统一社会信用代码、身份证号、账号或案件编号（校验位会被检查）",
            "A USCC, resident ID, account or case number (its check digit is checked)",
        ),
        "audit.identifier": ("标识", "Identifier"),
        "audit.search": ("查询", "Search"),
        "audit.subject": ("主体报告", "Subject report"),
        "audit.report": ("生成报告", "Report"),
        "audit.show": ("查看记录", "A record"),
        "audit.request_id": ("请求编号", "Request id"),
        "audit.open": ("打开", "Open"),
        "audit.unavailable": (
            "审计链在此不可读取（网关未使用可读取的审计链）。",
            "The audit trail is unavailable here (the gateway writes no readable trail).",
        ),
        "audit.bad_identifier": (
            "“{value}”不是有效的统一社会信用代码、身份证号、账号或案件编号：{reason}",
            "“{value}” is not a valid USCC, resident ID, account or case number: {reason}",
        ),
        "audit.bad_identifier_short": (
            "这不是有效的统一社会信用代码、身份证号、账号或案件编号。",
            "That is not a valid USCC, resident ID, account or case number.",
        ),
        "audit.bad_request_id": ("请求编号无效。", "That is not a request id."),
        "audit.results": ("{value}：{n} 条记录", "{value}: {n} record(s)"),
        "audit.more": (
            "仅显示前 {n} 条；导出包含全部。",
            "The first {n} are shown; the export has them all.",
        ),
        "audit.export_json": ("导出 JSON", "Export JSON"),
        "audit.export_csv": ("导出 CSV", "Export CSV"),
        "audit.received": ("时间", "Received"),
        "audit.user": ("人员", "Official"),
        "audit.agency": ("单位", "Agency"),
        "audit.purpose": ("目的", "Purpose"),
        "audit.case": ("案件", "Case"),
        "audit.operation": ("操作", "Operation"),
        "audit.outcome": ("结果", "Outcome"),
        "audit.fields": ("字段", "Fields"),
        "audit.break_glass": ("紧急访问", "break-glass"),
        "audit.record": ("记录 {id}", "Record {id}"),
        "audit.no_record": ("没有此请求编号的记录。", "No record has this request id."),
        "audit.field": ("项", "Field"),
        "audit.value": ("内容", "Value"),
        "audit.verify": ("审计链校验", "Verification of the trail"),
        "audit.verify.run": ("立即校验", "Verify now"),
        "audit.verify.running": (
            "校验进行中（开始于 {at}）。",
            "A verification is running (started {at}).",
        ),
        "audit.verify.never": ("本次启动以来尚未校验。", "Not verified since the console started."),
        "audit.verify.ok": ("校验通过（{at}）", "Verified: no problem found ({at})"),
        "audit.verify.failed": ("校验发现问题（{at}）", "Verification FOUND PROBLEMS ({at})"),
        "audit.verify.error": (
            "校验未能完成（{at}）。",
            "The verification could not finish ({at}).",
        ),
        "audit.verify.started": ("已开始校验。", "The verification has started."),
        "audit.log": ("日志", "Log"),
        "audit.records": ("记录数", "Records"),
        "audit.checkpoints": ("检查点", "Checkpoints"),
        "audit.witnessed": ("见证的检查点", "Witnessed"),
        "audit.root": ("根哈希", "Root"),
        "audit.problems": ("问题", "Problems"),
        "audit.witness": ("见证方", "Witnesses"),
        "audit.witness.off": (
            "未配置见证方（audit.witnesses = []）：恢复的备份或回滚的日志也能通过校验。",
            "No witness is configured (audit.witnesses = []): a restored backup or a rolled-back"
            " log would verify.",
        ),
        "audit.witness.name": ("见证方", "Witness"),
        "audit.witness.state": ("状态", "State"),
        "audit.witness.size": ("已见证记录数", "Witnessed size"),
        "audit.witness.at": ("见证时间", "Witnessed at"),
        "audit.witness.unreadable": (
            "无法读取的见证方：{names}",
            "Witnesses that could not be read: {names}",
        ),
        "audit.witness.unwitnessed": (
            "一个覆盖前 {n} 条记录的检查点尚待发布给见证方（已见证的部分见上表）。",
            "A checkpoint of the trail's first {n} records awaits publication to the witnesses"
            " (what they hold already is in the table above).",
        ),
    }
)


def _identifier(value: str) -> str:
    """An identifier as a who-saw search takes it, if one of the kinds passes its check: USCC,
    resident ID, account (Luhn) or case number; else InvalidIdentifier (each kind's reason)."""
    if not value:
        raise InvalidIdentifier("identifier", "none given")
    reasons = []
    for check in (check_uscc, check_resident_id, check_account_number, check_case_id):
        try:
            return check(value)
        except InvalidIdentifier as exc:
            reasons.append(f"{exc.kind}: {exc.reason}")
    raise InvalidIdentifier("identifier", "; ".join(reasons))


async def _identifier_of(request: Request, form: FormData) -> str | Response:
    """The form's identifier, checked (check digits and all); else the audit page, 400, saying
    why (who-saw, the subject report and the export take it alike)."""
    given = str(form.get("identifier", "")).strip()
    try:
        return _identifier(given)
    except InvalidIdentifier as exc:
        shown = given if given.isprintable() and len(given) <= 60 else ""
        return await _home(request, 400, bad_identifier=shown, reason=exc.reason)


@page(PAGE)
async def home(request: Request) -> Response:
    return await _home(request)


async def _home(
    request: Request, status: int = 200, bad_identifier: str | None = None, reason: str = "",
    bad_request_id: bool = False,
) -> Response:  # fmt: skip
    trail = console(request).gateway.audit
    witness = trail.witness_status() if isinstance(trail, AuditTrail) else None
    await record(request, "console.audit.status", {})
    last = console(request).extras.get(VERIFICATION)
    return render(
        request, "audit.html", status, witness=witness, last=last, when=when,
        readable=isinstance(trail, AuditTrail), bad_identifier=bad_identifier, reason=reason,
        bad_request_id=bad_request_id, verifying=request.query_params.get("verifying") == "1",
    )  # fmt: skip


@change(PAGE)  # a POST: the identifier searched for never goes into a URL (nor a log line)
async def who_saw(request: Request, form: FormData) -> Response:
    identifier = await _identifier_of(request, form)
    if isinstance(identifier, Response):
        return identifier
    await record(request, "console.audit.who-saw", {"entity": identifier})
    try:
        rows = await read_trail(
            request, lambda r: r.search(SearchFilter(entity=identifier), MAX_SHOWN + 1)
        )
    except NoReader:
        return render(request, "audit_unavailable.html", 503)
    return render(
        request, "audit_results.html", rows=rows[:MAX_SHOWN], more=len(rows) > MAX_SHOWN,
        identifier=identifier, shown_max=MAX_SHOWN,
    )  # fmt: skip


@change(PAGE)  # a POST: the identifier searched for never goes into a URL (nor a log line)
async def subject_report(request: Request, form: FormData) -> Response:
    identifier = await _identifier_of(request, form)
    if isinstance(identifier, Response):
        return identifier
    await record(request, "console.audit.subject-report", {"entity": identifier})
    catalog = console(request).gateway.schema.catalog

    def report(reader: AuditReader) -> list[dict[str, Any]]:
        return reader.subject_report(
            identifier, entity_of=field_entities(catalog), identities_of=field_identities(catalog)
        )

    try:
        rows = await read_trail(request, report)
    except NoReader:
        return render(request, "audit_unavailable.html", 503)
    return render(request, "audit_subject.html", rows=rows, identifier=identifier)


@page(PAGE)
async def show(request: Request) -> Response:
    given = request.query_params.get("request_id", "").strip()
    if not REQUEST_ID.fullmatch(given):
        return await _home(request, 400, bad_request_id=True)
    await record(request, "console.audit.show", {"request_id": given})
    try:
        rows = await read_trail(request, lambda r: r.search(SearchFilter(request_id=given), 5))
    except NoReader:
        return render(request, "audit_unavailable.html", 503)
    shown = [[(k, v if isinstance(v, str) else dumps(v)) for k, v in row.items()] for row in rows]
    return render(request, "audit_record.html", records=shown, request_id=given)


@change(PAGE)  # a POST: the identifier searched for never goes into a URL (nor a log line)
async def export(request: Request, form: FormData) -> Response:
    kind = str(form.get("format", "json"))
    identifier = await _identifier_of(request, form)
    if isinstance(identifier, Response):
        return identifier
    if kind not in FORMATS:
        kind = "json"
    f = SearchFilter(entity=identifier)

    def write(reader: AuditReader) -> str:
        out = io.StringIO()
        rows = reader.iter_search(f, None)
        if kind == "csv":
            write_csv(rows, out)
        else:
            write_jsonl(rows, out)
        return out.getvalue()

    try:
        count = await read_trail(request, lambda r: r.count(f))
    except NoReader:
        return render(request, "audit_unavailable.html", 503)
    await record(request, "console.audit.export", {"entity": identifier, "format": kind,
                                                   "records": count})  # fmt: skip
    body = await read_trail(request, write)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"audit-{stamp}.{'csv' if kind == 'csv' else 'jsonl'}"
    headers = {**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=FORMATS[kind], headers=headers)


@change(PAGE)
async def verify(request: Request, form: FormData) -> Response:
    trail = console(request).gateway.audit
    if not isinstance(trail, AuditTrail):
        return render(request, "audit_unavailable.html", 503)
    extras = console(request).extras
    last = extras.get(VERIFICATION)
    if last is not None and last.get("running"):
        return RedirectResponse("/console/audit", 303)
    await record(request, "console.audit.verify", {"logs": "all"})
    config = trail.config
    state: dict[str, Any] = {"running": True, "started": time.time()}
    extras[VERIFICATION] = state

    def run() -> Verification:
        store = config.new_store()
        try:
            store.create_schema()
            return verify_trail(
                store, config.signer.public, config.key, config.archive_dir, config.witnesses
            )
        finally:
            store.close()

    async def background() -> None:
        try:
            found = await asyncio.to_thread(run)
        except Exception:  # the store: shown as "could not finish", never its error text
            extras[VERIFICATION] = {**state, "running": False, "failed": True, "at": time.time()}
            return
        extras[VERIFICATION] = {**state, "running": False, "failed": False,
                                "at": time.time(), "result": found}  # fmt: skip

    task = asyncio.get_running_loop().create_task(background())
    state["task"] = task  # kept: a task nobody holds may be collected before it ends
    return RedirectResponse("/console/audit?verifying=1", 303)


ROUTES = [
    Route("/audit", home),
    Route("/audit/who-saw", who_saw, methods=["POST"]),
    Route("/audit/subject", subject_report, methods=["POST"]),
    Route("/audit/record", show),
    Route("/audit/export", export, methods=["POST"]),
    Route("/audit/verify", verify, methods=["POST"]),
]
