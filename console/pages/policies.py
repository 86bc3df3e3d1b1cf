"""The Policies page (``/console/policies``): the Cedar policy set in force, a draft edited,
validated, tested and previewed against recorded queries, proposed, approved by a second
policy administrator (dual control), and the history of every version, rolled back by proposal.

Everything goes through the modules ``jointgate policy`` uses (policies/proposals.py,
policies/reload.py, policies/testcases.py, policies/impact.py) and is recorded as the command
line records it: reads as ``console.policies.*``, changes as ``policy.propose`` / ``approve`` /
``reject`` / ``rollback``. Policy administrators edit and decide; auditors read.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console import i18n
from console.cedar import listing
from console.i18n import messages
from console.web import (
    Page,
    change,
    console,
    governed,
    language,
    official,
    page,
    record,
    render,
)
from gateway.analyze import Analyzer
from gateway.app import Gateway
from gateway.governance import AUDITOR, POLICY_ADMIN, NotRecorded, Official
from kernel.errors import GatewayError
from kernel.types import Principal
from policies.db import Database
from policies.engine import SCHEMA_FILE, DecisionContext, PolicyEngine, PolicyError, load_bundle
from policies.impact import field_changes
from policies.proposals import HistoryEntry, PolicyProposals, Proposal, ProposalError
from policies.reload import PolicyStore, PolicyVersions, load_files
from policies.testcases import CaseResult, run_tests
from sandbox.issuer import DEMO_USERS
from schema.catalog import FieldResource

PAGE = Page("policies", "policies.title", (POLICY_ADMIN, AUDITOR), order=10)

#: how many of the trail's latest query records the impact preview replays
IMPACT_RECORDS = 2000
#: how far back it looks for them
IMPACT_WINDOW_S = 30 * 86400
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_REFUSED = (ProposalError, PolicyError, ValueError)

messages(
    {
        "policies.title": ("访问策略", "Policies"),
        "policies.in_force": ("生效中的版本 {version}", "Version {version} in force"),
        "policies.source.files": (
            "本网关从文件读取策略（policy.shared 未开启）：没有双人控制，此处只能查看。",
            "This gateway reads its policies from files (policy.shared is off): there is no"
            " dual control, so this page only shows them.",
        ),
        "policies.files": ("策略文件", "Policy files"),
        "policies.file": ("文件", "File"),
        "policies.show": ("显示", "Show"),
        "policies.pending": ("待批准的提案", "Pending proposals"),
        "policies.none_pending": ("没有待批准的提案。", "No proposal is pending."),
        "policies.id": ("编号", "Id"),
        "policies.kind": ("类型", "Kind"),
        "policies.version": ("版本", "Version"),
        "policies.base": ("基于", "Against"),
        "policies.by": ("提出人", "Proposed by"),
        "policies.when": ("时间", "When"),
        "policies.why": ("理由", "Why"),
        "policies.decide": ("决定", "Decide"),
        "policies.note": ("备注", "Note"),
        "policies.note_optional": ("备注（可选）", "Note (optional)"),
        "policies.note_required": ("驳回理由（必填）", "Why rejected (required)"),
        "policies.approve": ("批准并生效", "Approve and put in force"),
        "policies.reject": ("驳回", "Reject"),
        "policies.own": (
            "这是您提出的：须由另一位策略管理员批准（双人控制）。",
            "You proposed this: another policy administrator approves it (dual control).",
        ),
        "policies.links": ("操作", "Actions"),
        "policies.to_draft": ("编辑草稿", "Edit a draft"),
        "policies.to_history": ("版本历史", "Version history"),
        "policies.to_view": ("生效中的策略", "The policies in force"),
        "policies.done.proposed": (
            "已提出版本 {version}，编号 {id}；另一位策略管理员批准后才会生效。",
            "Proposed version {version} as {id}; it is not in force until another policy"
            " administrator approves it.",
        ),
        "policies.done.approved": (
            "已批准 {id}：版本 {version} 已在本副本生效，并已通知其他副本。",
            "Approved {id}: version {version} is in force on this replica, and the others are"
            " told.",
        ),
        "policies.done.approved_later": (
            "已批准 {id}：版本 {version} 已生效；其他副本将在下次检查时载入。",
            "Approved {id}: version {version} is in force; the other replicas load it at their"
            " next check.",
        ),
        "policies.done.rejected": ("已驳回 {id}。", "Rejected {id}."),
        "policies.error": ("未执行：{reason}", "Not done: {reason}"),
        "policies.unrecorded": (
            "审计链无法写入记录，未做任何更改",
            "the audit trail cannot take the record, so nothing was changed",
        ),
        "policies.bad_id": ("提案编号无效。", "That is not a proposal id."),
        "policies.bad_file": (
            "没有此策略文件：草稿只能修改生效版本中的文件。",
            "No such policy file: a draft changes the files of the version in force.",
        ),
        "policies.bad_version": ("版本号无效。", "That is not a version."),
        "policies.need_why": (
            "请说明理由：理由会保存在策略历史中。",
            "Say why: the reason is kept in the policy history.",
        ),
        "policies.admins_only": (
            "只有策略管理员（policy-admin）可以执行此操作。",
            "Only a policy administrator (policy-admin) may do this.",
        ),
        # the draft
        "policies.draft.title": ("策略草稿", "Policy draft"),
        "policies.draft.intro": (
            "草稿保存在您的会话中，直到提出或放弃。验证、测试和影响预览都针对整套策略（生效中的"
            "文件加上草稿的修改）。",
            "The draft is kept in your session until proposed or discarded. Validation, tests"
            " and the impact preview use the whole set: the files in force with the draft's"
            " changes.",
        ),
        "policies.draft.choose": ("选择文件", "Choose a file"),
        "policies.draft.open": ("打开", "Open"),
        "policies.draft.text": ("{file} 的内容", "Text of {file}"),
        "policies.draft.changed": ("草稿中已修改的文件：{files}", "Changed in the draft: {files}"),
        "policies.draft.unchanged": ("草稿与生效版本相同。", "The draft is the version in force."),
        "policies.draft.save": ("保存草稿", "Save draft"),
        "policies.draft.validate": ("验证", "Validate"),
        "policies.draft.test": ("运行测试", "Run tests"),
        "policies.draft.preview": ("影响预览", "Impact preview"),
        "policies.draft.propose": ("提出", "Propose"),
        "policies.draft.discard": ("放弃草稿", "Discard draft"),
        "policies.draft.why": ("提出理由（提出时必填）", "Why (required to propose)"),
        "policies.draft.valid": (
            "草稿有效：{count} 条策略，版本 {version}。",
            "The draft is valid: {count} policies, version {version}.",
        ),
        "policies.draft.invalid": ("草稿无效：", "The draft does not validate:"),
        "policies.draft.listing": ("{file}（错误行已标出）", "{file} (lines with errors marked)"),
        "policies.draft.same": (
            "草稿与生效版本相同，没有可提出的内容。",
            "The draft is the version in force: there is nothing to propose.",
        ),
        "policies.draft.saved": ("草稿已保存。", "Draft saved."),
        "policies.draft.discarded": ("草稿已放弃。", "Draft discarded."),
        "policies.tests.title": ("策略测试", "Policy tests"),
        "policies.tests.summary": (
            "{passed} 项通过，{failed} 项失败",
            "{passed} passed, {failed} failed",
        ),
        "policies.tests.none": ("没有策略测试。", "There are no policy tests."),
        "policies.tests.name": ("测试", "Test"),
        "policies.tests.expected": ("预期", "Expected"),
        "policies.tests.got": ("结果", "Got"),
        "policies.tests.pass": ("通过", "pass"),
        "policies.tests.fail": ("失败", "FAIL"),
        "policies.impact.title": ("影响预览", "Impact preview"),
        "policies.impact.basis": (
            "依据审计链中最近 {records} 条查询记录（{shapes} 种查询形态，{users} 位用户）。",
            "From the trail's latest {records} query records ({shapes} query shapes,"
            " {users} users).",
        ),
        "policies.impact.approx": (
            "近似之处：审计记录不含安全等级，按用户目录（演示用户）取得，未知用户按 0；"
            "联合专案组成员身份按当前成员关系，而非查询时的；查询形态由记录的查询文本重新分析得到，"
            "无法重新分析的 {skipped} 条记录未计入。",
            "Approximated: the records carry no clearance, so it is taken from the user"
            " directory (the demo users), 0 for anyone else; joint-team membership is today's,"
            " not the one at the time of the query; the query shapes are the recorded query"
            " texts analysed again, and {skipped} record(s) that could not be were left out.",
        ),
        "policies.impact.none": (
            "对这些记录中的用户和字段，草稿不改变任何决定。",
            "For these users and fields the draft changes no decision.",
        ),
        "policies.impact.user": ("用户", "User"),
        "policies.impact.purpose": ("目的", "Purpose"),
        "policies.impact.field": ("字段", "Field"),
        "policies.impact.before": ("生效版本", "In force"),
        "policies.impact.after": ("草稿", "Draft"),
        "policies.impact.count": ("记录数", "Records"),
        "policies.impact.unavailable": (
            "无法读取审计链：影响预览不可用。",
            "The audit trail cannot be read: no impact preview.",
        ),
        # the history
        "policies.history.title": ("策略版本历史", "Policy version history"),
        "policies.history.decided": ("决定", "Decided"),
        "policies.history.active": ("生效期间", "In force"),
        "policies.history.state": ("状态", "State"),
        "policies.history.in_force": ("生效中", "in force"),
        "policies.history.published": (
            "双人控制之前发布，发布人 {by}",
            "published by {by} before dual control",
        ),
        "policies.history.since": ("{start} 起", "from {start}"),
        "policies.history.span": ("{start} 至 {end}", "{start} to {end}"),
        "policies.history.rollback": ("回滚到此版本", "Roll back to this version"),
        "policies.history.rollback_why": ("回滚理由（必填）", "Why roll back (required)"),
        "policies.history.none": ("还没有版本。", "No version yet."),
        "policies.state.pending": ("待批准", "pending"),
        "policies.state.approved": ("已批准", "approved"),
        "policies.state.rejected": ("已驳回", "rejected"),
    }
)


# --- reading -------------------------------------------------------------------------------------


def _gateway(request: Request) -> Gateway:
    return console(request).gateway


def _store(request: Request) -> PolicyStore | None:
    policies = _gateway(request).policies
    return policies if isinstance(policies, PolicyStore) else None


def _in_force(request: Request) -> dict[str, str]:
    """The files of the version in force: the governance database's (shared), else the
    directory's."""
    store = _store(request)
    gateway = _gateway(request)
    if store is not None and store.versions is not None:
        db = Database(gateway.settings.governance_url)
        try:
            versions = PolicyVersions(db)
            active = versions.active()
            if active is not None:
                return versions.files(active.version)
        finally:
            db.close()
    directory = store.directory if store is not None else None
    if directory is None:
        return {}
    paths = sorted([*directory.glob("*.cedar"), directory / SCHEMA_FILE])
    return {p.name: p.read_text() for p in paths if p.is_file()}


def _proposals(request: Request) -> tuple[list[Proposal], list[HistoryEntry]]:
    db = Database(_gateway(request).settings.governance_url)
    try:
        proposals = PolicyProposals(PolicyVersions(db))
        return proposals.pending(), proposals.history()
    finally:
        db.close()


def _shared(request: Request) -> bool:
    store = _store(request)
    return store is not None and store.versions is not None


def _is_admin(who: Official | None) -> bool:
    return who is not None and POLICY_ADMIN in who.roles


def when(value: float | None) -> str:
    if value is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))


@page(PAGE)
async def view(request: Request) -> Response:
    files = await asyncio.to_thread(_in_force, request)
    chosen = request.query_params.get("file", "")
    if chosen not in files:
        chosen = next((n for n in files if n.endswith(".cedar")), next(iter(files), ""))
    store = _gateway(request).policies
    version = store.engine.version
    shared = _shared(request)
    pending, _ = await asyncio.to_thread(_proposals, request) if shared else ([], [])
    await record(
        request,
        "console.policies.view",
        {"version": version, "file": chosen, "pending": len(pending)},
    )
    return render(
        request,
        "policies.html",
        version=version,
        shared=shared,
        files=list(files),
        chosen=chosen,
        text=listing(files.get(chosen, "")),
        pending=pending,
        when=when,
        admin=_is_admin(official(request)),
        flash=_flash_text(request),
    )


def _flash_text(request: Request) -> dict[str, str]:
    q = request.query_params
    if q.get("error"):
        return {"kind": "error", "key": "policies.error", "reason": q["error"][:500]}
    for key in ("proposed", "approved", "approved_later", "rejected"):
        if q.get(key):
            return {"kind": "ok", "key": f"policies.done.{key}", "id": q[key][:100],
                    "version": q.get("version", "")[:100]}  # fmt: skip
    return {}


@page(PAGE)
async def history(request: Request) -> Response:
    shared = _shared(request)
    entries = (await asyncio.to_thread(_proposals, request))[1] if shared else []
    await record(request, "console.policies.history", {"versions": len(entries)})
    return render(
        request,
        "policies_history.html",
        entries=entries,
        shared=shared,
        when=when,
        admin=_is_admin(official(request)),
        flash=_flash_text(request),
    )


# --- the draft -----------------------------------------------------------------------------------


def _draft(request: Request) -> dict[str, str]:
    held = request.scope["session"].get("policy_draft")
    return dict(held) if isinstance(held, dict) else {}


def _keep_draft(request: Request, draft: dict[str, str]) -> None:
    if draft:
        request.scope["session"]["policy_draft"] = draft
    else:
        request.scope["session"].pop("policy_draft", None)


@dataclass
class Checked:
    """A draft set loaded: its engine, or the problems by file (line numbers)."""

    engine: PolicyEngine | None
    problems: list[tuple[str, int, str]]
    version: str = ""
    count: int = 0

    def bad_lines(self, name: str) -> set[int]:
        return {line for file, line, _ in self.problems if file == name}


def load_draft(files: dict[str, str], gateway: Gateway) -> Checked:
    """The whole draft set loaded and validated as ``jointgate policy validate`` does, against
    this gateway's catalog (in a worker thread: Cedar validation takes a moment)."""
    with tempfile.TemporaryDirectory(prefix="jointgate-draft-") as scratch:
        for name, text in files.items():
            (Path(scratch) / name).write_text(text)
        try:
            bundle = load_bundle(Path(scratch), gateway.schema.catalog)
        except PolicyError as exc:
            return Checked(None, [(Path(p.file).name, p.line, p.message) for p in exc.problems])
    engine = PolicyEngine(bundle, gateway.schema.catalog)
    return Checked(engine, [], bundle.version, len(bundle.policies))


def _admin_only(request: Request) -> Response | None:
    if _is_admin(official(request)):
        return None
    return render(request, "forbidden.html", 403, needs=POLICY_ADMIN)


async def _refuse(request: Request, what: str) -> Response:
    await record(request, what, {}, "refused", f"{what} needs the role {POLICY_ADMIN}")
    return render(request, "forbidden.html", 403, needs=POLICY_ADMIN)


@page(PAGE)
async def draft(request: Request) -> Response:
    if not _is_admin(official(request)):
        return await _refuse(request, "console.policies.draft")
    files = await asyncio.to_thread(_in_force, request)
    chosen = request.query_params.get("file", "")
    if chosen not in files:
        chosen = next((n for n in files if n.endswith(".cedar")), "")
    await record(request, "console.policies.draft", {"file": chosen})
    q = request.query_params
    notice = "policies.draft.saved" if q.get("saved") else ""
    notice = "policies.draft.discarded" if q.get("discarded") else notice
    return _draft_page(request, files, chosen, notice=notice)


def _draft_page(
    request: Request, files: dict[str, str], chosen: str, status: int = 200, **extra: Any
) -> Response:
    held = _draft(request)
    context: dict[str, Any] = {
        "files": list(files),
        "chosen": chosen,
        "text": held.get(chosen, files.get(chosen, "")),
        "changed": sorted(held),
        "checked": None,
        "listing": None,
        "tests": None,
        "impact": None,
        "why": "",
        "notice": "",
        "error": "",
        "refused": "",
    }
    context.update(extra)
    return render(request, "policies_draft.html", status, **context)


@change(PAGE)
async def draft_post(request: Request, form: FormData) -> Response:
    if not _is_admin(official(request)):
        return await _refuse(request, "console.policies.draft")
    files = await asyncio.to_thread(_in_force, request)
    chosen = str(form.get("file", ""))
    if chosen not in files:
        return _draft_page(request, files, "", 400, error="policies.bad_file")
    held = _draft(request)
    text = form.get("text")
    if isinstance(text, str):
        text = text.replace("\r\n", "\n")
        if text == files[chosen]:
            held.pop(chosen, None)
        else:
            held[chosen] = text
    do = str(form.get("do", "save"))
    if do == "discard":
        _keep_draft(request, {})
        return RedirectResponse(f"/console/policies/draft?file={quote(chosen)}&discarded=1", 303)
    _keep_draft(request, held)
    if do == "save":
        return RedirectResponse(f"/console/policies/draft?file={quote(chosen)}&saved=1", 303)
    whole = files | held
    checked = await asyncio.to_thread(load_draft, whole, _gateway(request))
    shown: dict[str, Any] = {
        "checked": checked,
        "listing": listing(whole[chosen], checked.bad_lines(chosen)) if checked.problems else None,
        "why": str(form.get("why", "")),
    }
    if do == "validate":
        await record(
            request,
            "console.policies.validate",
            {"draft": sorted(held), "problems": len(checked.problems)},
        )
        return _draft_page(request, files, chosen, **shown)
    if checked.engine is None:
        return _draft_page(request, files, chosen, 422, **shown)
    if do == "test":
        results = await asyncio.to_thread(_tests, request, checked.engine)
        failed = sum(not r.passed for r in results)
        await record(request, "console.policies.test", {"draft": sorted(held), "failed": failed})
        return _draft_page(request, files, chosen, tests=results, **shown)
    if do == "preview":
        return await _preview(request, files, chosen, checked.engine, held, shown)
    if do == "propose":
        return await _propose(request, files, chosen, whole, held, checked, shown)
    return _draft_page(request, files, chosen, 400, **shown)


def _tests(request: Request, engine: PolicyEngine) -> list[CaseResult]:
    store = _store(request)
    return run_tests(store.directory, engine) if store is not None else []


async def _propose(
    request: Request,
    files: dict[str, str],
    chosen: str,
    whole: dict[str, str],
    held: dict[str, str],
    checked: Checked,
    shown: dict[str, Any],
) -> Response:
    why = str(shown["why"]).strip()
    if not why:
        return _draft_page(request, files, chosen, 422, error="policies.need_why", **shown)
    if not held:
        return _draft_page(request, files, chosen, 422, error="policies.draft.same", **shown)
    if not _shared(request):
        return _draft_page(request, files, chosen, 409, error="policies.source.files", **shown)
    who = official(request)
    assert who is not None
    details: dict[str, Any] = {"why": why, "version": checked.version, "draft": sorted(held)}
    catalog = _gateway(request).schema.catalog

    def make(db: Database) -> Proposal:
        load_files(whole, checked.version, catalog)  # refused here if it does not validate
        return PolicyProposals(PolicyVersions(db, create=False)).propose(
            whole, checked.version, who.subject, why
        )

    try:
        proposal = await governed(request, "policy.propose", details, make, _REFUSED)
    except NotRecorded:
        return _unrecorded(request)
    except _REFUSED as exc:
        return _draft_page(request, files, chosen, 409, refused=str(exc), **shown)
    _keep_draft(request, {})
    return RedirectResponse(
        f"/console/policies?proposed={quote(proposal.id)}&version={quote(proposal.version)}", 303
    )


# --- the impact preview ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shape:
    """One recorded query as the preview replays it: who, in which context, what it touched."""

    principal: Principal
    context: DecisionContext
    fields: tuple[tuple[str, FieldResource], ...]


@dataclass
class Impact:
    records: int = 0
    skipped: int = 0
    shapes: int = 0
    users: int = 0
    rows: list[tuple[str, str, str, str, str, int]] | None = None  # user, purpose, field, before,
    # after, records
    unavailable: bool = False


def _recorded(gateway: Gateway, limit: int) -> list[dict[str, Any]]:
    """The latest ``limit`` query records of the trail, as the auditor's view (personal fields
    opened: the case id, whether a justification was given, the query text)."""
    audit: Any = gateway.audit
    if hasattr(audit, "reader"):
        from audit.reader import SearchFilter

        reader = audit.reader()
        try:
            since = int((time.time() - IMPACT_WINDOW_S) * 1e6)
            latest: deque[dict[str, Any]] = deque(maxlen=limit)
            for view in reader.iter_search(SearchFilter(since_us=since)):
                if view.get("operation_type") == "query":
                    latest.append(view)
            texts: dict[str, str | None] = {}
            out = []
            for view in latest:
                mac = view.get("query_hash")
                if mac and mac not in texts:
                    texts[mac] = reader.query_text(mac)
                out.append({**view, "query_text": texts.get(mac) if mac else None})
            return out
        finally:
            reader.store.close()
    kept = [r for r in getattr(audit, "records", ()) if r.operation_type == "query"]
    return [
        {
            "subject": r.subject, "agency": r.agency, "roles": list(r.roles),
            "purpose": r.purpose, "case_id": r.case_id, "justification": r.justification,
            "break_glass": r.break_glass, "query_text": r.query_text,
            "operation_name": r.operation_name,
        }
        for r in kept[-limit:]
    ]  # fmt: skip


def shapes(gateway: Gateway, views: Iterable[dict[str, Any]]) -> tuple[Counter[Shape], int]:
    """The recorded queries as shapes (with how many records each), and how many records could
    not be made one (no subject, no purpose, or a query text that does not analyse)."""
    analyzer = Analyzer(gateway.schema)
    counted: Counter[Shape] = Counter()
    skipped = 0
    touched: dict[tuple[str, str | None], tuple[tuple[str, FieldResource], ...] | None] = {}
    for view in views:
        subject, purpose, text = view.get("subject"), view.get("purpose"), view.get("query_text")
        if not subject or not purpose or not isinstance(text, str):
            skipped += 1
            continue
        key = (text, view.get("operation_name"))
        if key not in touched:
            try:
                operation = analyzer.analyze(text, view.get("operation_name"))
                fields = {t.resource.path: t.resource for t in operation.touched}
                touched[key] = tuple(sorted(fields.items()))
            except GatewayError:
                touched[key] = None
        found = touched[key]
        if not found:
            skipped += 1
            continue
        demo = DEMO_USERS.get(subject)
        principal = Principal(
            subject=subject,
            agency=str(view.get("agency") or ""),
            roles=frozenset(view.get("roles") or ()),
            clearance=demo.clearance if demo is not None else 0,  # not recorded: see the page
        )
        case = view.get("case_id") or ""
        case = case if isinstance(case, str) and case != "<sealed>" else ""
        teams = gateway.teams.memberships(subject) if gateway.teams is not None else []
        context = DecisionContext(
            purpose=purpose,
            case_id=case,
            justification="-" if view.get("justification") or view.get("break_glass") else "",
            in_team=bool(case) and any(case in t.cases for t in teams),
            teams=tuple(t.id for t in teams),
            break_glass=bool(view.get("break_glass")),
        )
        counted[Shape(principal, context, found)] += 1
    return counted, skipped


def impact(gateway: Gateway, draft: PolicyEngine, limit: int = IMPACT_RECORDS) -> Impact:
    """Every (user, purpose, field) of the recorded queries whose outcome the draft changes,
    with how many records asked for it."""
    try:
        views = _recorded(gateway, limit)
    except Exception:  # the trail's store away: said on the page, nothing else shown
        return Impact(unavailable=True)
    counted, skipped = shapes(gateway, views)
    live = gateway.policies.engine
    if not isinstance(live, PolicyEngine):
        return Impact(unavailable=True)
    changed: Counter[tuple[str, str, str, str, str]] = Counter()
    for shape, n in counted.items():
        for c in field_changes(live, draft, shape.principal, shape.context, shape.fields):
            key = (shape.principal.subject, shape.context.purpose, c.path, c.before, c.after)
            changed[key] += n
    rows = [(*key, n) for key, n in sorted(changed.items())]
    users = len({s.principal.subject for s in counted})
    return Impact(len(views), skipped, len(counted), users, rows)


async def _preview(
    request: Request,
    files: dict[str, str],
    chosen: str,
    engine: PolicyEngine,
    held: dict[str, str],
    shown: dict[str, Any],
) -> Response:
    await record(
        request, "console.policies.preview", {"draft": sorted(held), "records": IMPACT_RECORDS}
    )  # it reads the trail: recorded before it is shown
    found = await asyncio.to_thread(impact, _gateway(request), engine)
    return _draft_page(request, files, chosen, impact=found, **shown)


# --- deciding ----------------------------------------------------------------------------------


def _back(path: str, **query: str) -> RedirectResponse:
    return RedirectResponse(
        f"/console/{path}?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items()), 303
    )


async def _after_approval(request: Request) -> bool:
    """Put the approved set in force on this replica at once, and tell the others; True if
    they were told."""
    gateway = _gateway(request)
    store = _store(request)
    if store is not None:
        await asyncio.to_thread(store.check)
    # through Redis while the link is up; else the replicas see it at their next check
    if gateway.notifier is not None and gateway.notifier.mode == "redis":
        return await gateway.notifier.publish("policy")
    return False


@change(PAGE)
async def approve(request: Request, form: FormData) -> Response:
    return await _decide(request, form, "approve")


@change(PAGE)
async def reject(request: Request, form: FormData) -> Response:
    return await _decide(request, form, "reject")


async def _decide(request: Request, form: FormData, what: str) -> Response:
    action = f"policy.{what}"
    if not _is_admin(official(request)):
        return await _refuse(request, action)
    if not _shared(request):
        return _page_error(request, "policies", "policies.source.files")
    proposal_id = str(form.get("id", ""))
    note = str(form.get("note", "")).strip()
    if not _ID.fullmatch(proposal_id):
        return _page_error(request, "policies", "policies.bad_id")
    if what == "reject" and not note:
        return _page_error(request, "policies", "policies.need_why")
    who = official(request)
    assert who is not None
    catalog = _gateway(request).schema.catalog
    details: dict[str, Any] = {"proposal": proposal_id}
    if what == "reject":
        details["why"] = note
    elif note:
        details["note"] = note

    def make(db: Database) -> Proposal:
        proposals = PolicyProposals(PolicyVersions(db, create=False))
        if what == "reject":
            return proposals.reject(proposal_id, who.subject, note)

        def check(files: dict[str, str], version: str) -> None:
            load_files(files, version, catalog)  # validated again with this schema

        details["version"] = proposals.get(proposal_id).version
        return proposals.approve(proposal_id, who.subject, note, check)

    try:
        decided = await governed(request, action, details, make, _REFUSED)
    except NotRecorded:
        return _unrecorded(request)
    except _REFUSED as exc:
        return _back("policies", error=str(exc))
    if what == "reject":
        return _back("policies", rejected=decided.id, version=decided.version)
    told = await _after_approval(request)
    key = "approved" if told else "approved_later"
    return _back("policies", **{key: decided.id, "version": decided.version})


def _unrecorded(request: Request) -> Response:
    """The trail could not take the record: nothing was changed, and nothing is shown."""
    reason = _text(request, "policies.unrecorded")
    message = i18n.text("app.unavailable", language(request), reason=reason)
    return render(request, "error.html", 503, message=message)


def _page_error(request: Request, path: str, key: str) -> Response:
    return _back(path, error=_text(request, key))


def _text(request: Request, key: str) -> str:
    return i18n.text(key, language(request))


@change(PAGE)
async def rollback(request: Request, form: FormData) -> Response:
    if not _is_admin(official(request)):
        return await _refuse(request, "policy.rollback")
    if not _shared(request):
        return _page_error(request, "policies/history", "policies.source.files")
    version = str(form.get("version", ""))
    why = str(form.get("why", "")).strip()
    if not _ID.fullmatch(version):
        return _page_error(request, "policies/history", "policies.bad_version")
    if not why:
        return _page_error(request, "policies/history", "policies.need_why")
    who = official(request)
    assert who is not None
    details: dict[str, Any] = {"version": version, "why": why}

    def make(db: Database) -> Proposal:
        return PolicyProposals(PolicyVersions(db, create=False)).rollback(version, who.subject, why)

    try:
        proposal = await governed(request, "policy.rollback", details, make, _REFUSED)
    except NotRecorded:
        return _unrecorded(request)
    except _REFUSED as exc:
        return _back("policies/history", error=str(exc))
    return _back("policies", proposed=proposal.id, version=proposal.version)


ROUTES = [
    Route("/policies", view),
    Route("/policies/history", history),
    Route("/policies/draft", draft),
    Route("/policies/draft", draft_post, methods=["POST"]),
    Route("/policies/approve", approve, methods=["POST"]),
    Route("/policies/reject", reject, methods=["POST"]),
    Route("/policies/rollback", rollback, methods=["POST"]),
]
