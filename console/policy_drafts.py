"""The Policies page's work on a draft (console/pages/policies.py): the whole set loaded and
validated against the gateway's catalog, and the impact preview: the trail's recorded queries
replayed under the set in force and under the draft, the fields whose outcome changes listed.

What the records do not carry is approximated, and the page says so: the clearance (taken from
the user directory, the demo users; 0 for anyone else), joint-team membership (today's), the
fields asked for (the recorded query text analysed again). Record-level rules are not replayed.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.reader import SearchFilter
from console.i18n import messages
from gateway.analyze import Analyzer
from gateway.app import Gateway
from kernel.errors import GatewayError
from kernel.types import Principal
from policies.engine import DecisionContext, PolicyEngine, PolicyError, load_bundle
from policies.impact import field_changes
from sandbox.issuer import DEMO_USERS
from schema.catalog import FieldResource

#: how many of the trail's latest query records the impact preview replays
IMPACT_RECORDS = 2000
#: how far back it looks for them
IMPACT_WINDOW_S = 30 * 86400

messages(
    {
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
    }
)


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
