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
import time
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console import i18n
from console import policy_drafts as drafts
from console.cedar import listing
from console.i18n import messages
from console.web import (
    Page,
    change,
    console,
    flashed,
    governed,
    language,
    official,
    page,
    record,
    redirect,
    render,
)
from gateway.app import Gateway
from gateway.governance import AUDITOR, POLICY_ADMIN, NotRecorded, Official
from policies.db import Database
from policies.engine import SCHEMA_FILE, PolicyEngine, PolicyError
from policies.proposals import HistoryEntry, PolicyProposals, Proposal, ProposalError
from policies.reload import PolicyStore, PolicyVersions, load_files
from policies.testcases import CaseResult, run_tests

PAGE = Page("policies", "policies.title", (POLICY_ADMIN, AUDITOR), order=10)

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
    q = flashed(request)
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
    checked = await asyncio.to_thread(drafts.load_draft, whole, _gateway(request))
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
    checked: drafts.Checked,
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
    return redirect(request, "/console/policies", proposed=proposal.id, version=proposal.version)


async def _preview(
    request: Request,
    files: dict[str, str],
    chosen: str,
    engine: PolicyEngine,
    held: dict[str, str],
    shown: dict[str, Any],
) -> Response:
    await record(
        request,
        "console.policies.preview",
        {"draft": sorted(held), "records": drafts.IMPACT_RECORDS},
    )  # it reads the trail: recorded before it is shown
    found = await asyncio.to_thread(drafts.impact, _gateway(request), engine)
    return _draft_page(request, files, chosen, impact=found, **shown)


# --- deciding ----------------------------------------------------------------------------------


def _back(request: Request, path: str, **flash: str) -> RedirectResponse:
    return redirect(request, f"/console/{path}", **flash)


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
        return _back(request, "policies", error=str(exc))
    if what == "reject":
        return _back(request, "policies", rejected=decided.id, version=decided.version)
    told = await _after_approval(request)
    key = "approved" if told else "approved_later"
    return _back(request, "policies", **{key: decided.id, "version": decided.version})


def _unrecorded(request: Request) -> Response:
    """The trail could not take the record: nothing was changed, and nothing is shown."""
    reason = _text(request, "policies.unrecorded")
    message = i18n.text("app.unavailable", language(request), reason=reason)
    return render(request, "error.html", 503, message=message)


def _page_error(request: Request, path: str, key: str) -> Response:
    return _back(request, path, error=_text(request, key))


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
        return _back(request, "policies/history", error=str(exc))
    return _back(request, "policies", proposed=proposal.id, version=proposal.version)


ROUTES = [
    Route("/policies", view),
    Route("/policies/history", history),
    Route("/policies/draft", draft),
    Route("/policies/draft", draft_post, methods=["POST"]),
    Route("/policies/approve", approve, methods=["POST"]),
    Route("/policies/reject", reject, methods=["POST"]),
    Route("/policies/rollback", rollback, methods=["POST"]),
]
