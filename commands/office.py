"""``jointgate leads list|show`` and ``jointgate indicators``: the joint office's record from the
command line, read as a verified official (``--token`` / ``JOINTGATE_TOKEN``, like ``jointgate
cases``), through the same :class:`office.desk.OfficeDesk` and the same Cedar policies as the
gateway: one sees exactly the leads the policies let one read, and of them what the field
policies (61-workflow-fields.cedar) let one see under the declared purpose: a masked subject
masked, a withheld note ``(withheld)``; the indicators only if ``Query.indicators`` is one's.
Each command is recorded in the audit trail as a governance record (``leads.list``,
``leads.show``, ``indicators``).

The policies are those the gateways enforce: the set in force in the governance database when
the gateways share it (``policy.shared``), else ``policy.dir`` of ``--config``, else the
shipped set.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import json
import sys
from collections.abc import Callable
from typing import Any

from commands.official import NotPermitted, acting, record_governance
from commands.policy.governance import iso, open_governance, policy_source
from kernel import masks
from kernel.types import Declaration, FieldDecision, Outcome, Principal, Purpose
from kernel.workflow import (
    Grouping,
    IndicatorRow,
    Lead,
    LeadFilter,
    LeadState,
    Period,
    WorkflowError,
)
from office.desk import OfficeDesk
from office.settings import OfficeSettings
from policies.cases import CaseStore
from policies.db import Database
from policies.engine import DEFAULT_DIR, DecisionContext, PolicyEngine, load_bundle
from policies.reload import PolicyVersions, load_files
from policies.teams import TeamStore

#: every role a member's official may hold: reading is decided by the policies, not by a role
ANY_OFFICIAL = ("investigator", "officer", "analyst", "regulator", "clerk", "case-admin",
                "auditor", "jit-member", "emergency", "reviewer", "policy-admin")  # fmt: skip
MAX_LIST = 1000
WITHHELD = "(withheld)"


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except WorkflowError as exc:
        print(f"jointgate {args.command}: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    except (NotPermitted, ValueError) as exc:
        print(f"jointgate {args.command}: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    action = "indicators" if args.command == "indicators" else f"leads.{args.leads_command}"
    official = acting(args, ANY_OFFICIAL, action)
    actor = Principal(
        official.subject, official.agency, official.roles, official.clearance, official.name
    )
    declaration = Declaration(Purpose(args.purpose), args.case)
    db, _ = open_governance(args)
    try:
        engine = _engine(args, db)
        desk = OfficeDesk(db, CaseStore(db), TeamStore(db), lambda: engine, OfficeSettings())
        decide = _decider(engine, actor, declaration)
        if args.command == "indicators" and decide("Query.indicators").outcome != Outcome.ALLOW:
            reason = "the indicators are not available to you (FORBIDDEN_FIELD)"
            record_governance(args, official, action, _details(args), "refused", reason)
            raise NotPermitted(reason)
        record_governance(args, official, action, _details(args))  # before anything is shown
        if args.command == "indicators":
            return _indicators(args, desk, actor, declaration)
        if args.leads_command == "show":
            lead = asyncio.run(desk.lead(actor, declaration, args.id))
            _show(_as_shown(lead, decide), args.json)
            return 0
        return _list(args, desk, actor, declaration, decide)
    finally:
        db.close()


def _engine(args: argparse.Namespace, db: Database) -> PolicyEngine:
    from schema.unified import build_schema  # start-up: the schema only for these commands

    catalog = build_schema().catalog
    shared, directory = (
        policy_source(args.config) if args.config is not None else (PolicyVersions.in_use(db), None)
    )
    if shared:
        versions = PolicyVersions(db)
        active = versions.active()
        if active is not None:
            return load_files(versions.files(active.version), active.version, catalog)
    return PolicyEngine(load_bundle(directory or DEFAULT_DIR, catalog), catalog)


def _decider(
    engine: PolicyEngine, actor: Principal, declaration: Declaration
) -> Callable[[str], FieldDecision]:
    """The field decision for ``Type.field``, as the gateway makes it for this declaration."""
    context = DecisionContext(purpose=declaration.purpose.value, case_id=declaration.case_id or "")

    def decide(path: str) -> FieldDecision:
        type_name, _, field = path.partition(".")
        return engine.decide(actor, context, [engine.catalog[(type_name, field)]])[0]

    return decide


def _as_shown(lead: Lead, decide: Callable[[str], FieldDecision]) -> Lead:
    """``lead`` as the field policies let the caller see it: masked, or withheld."""

    def shown(path: str, value: Any, stated: Any = None) -> Any:
        decision = decide(path)
        if decision.outcome is Outcome.ALLOW or value is None:
            return value
        if decision.outcome is Outcome.MASK and decision.mask is not None:
            return masks.apply(decision.mask, value, stated)
        return None if isinstance(value, int | float) else WITHHELD

    v, r = lead.verification, lead.referral
    return dataclasses.replace(
        lead,
        description=shown("Lead.description", lead.description),
        amount=shown("Lead.amount", lead.amount),
        victims=shown("Lead.victims", lead.victims),
        attachments=tuple(shown("Lead.attachments", a) for a in lead.attachments),
        subjects=tuple(
            dataclasses.replace(s, identifier=shown("LeadSubject.identifier", s.identifier, s.kind))
            for s in lead.subjects
        ),
        verification=v
        and dataclasses.replace(v, findings=shown("Verification.findings", v.findings)),
        referral=r and dataclasses.replace(r, note=shown("Referral.note", r.note)),
        feedback=tuple(
            dataclasses.replace(f, note=shown("Feedback.note", f.note)) for f in lead.feedback
        ),
    )


def _details(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("purpose", "case", "state", "overdue", "major", "id", "period", "start", "end", "by")
    return {k: v for k in keys if (v := getattr(args, k, None)) not in (None, [], False)}


def _list(
    args: argparse.Namespace,
    desk: OfficeDesk,
    actor: Principal,
    declaration: Declaration,
    decide: Callable[[str], FieldDecision],
) -> int:
    if not 1 <= args.limit <= MAX_LIST:
        raise ValueError(f"--limit is from 1 to {MAX_LIST}")
    where = LeadFilter(
        states=tuple(LeadState(s) for s in args.state),
        major=True if args.major else None,
        overdue=True if args.overdue else None,
    )

    async def collect() -> tuple[list[Lead], int]:
        found: list[Lead] = []
        cursor: str | None = None
        total = 0
        while len(found) < args.limit:
            page = await desk.leads(actor, declaration, where, min(100, args.limit), cursor)
            found += page.items
            total, cursor = page.total, page.next_cursor
            if cursor is None:
                break
        return found[: args.limit], total

    leads, total = asyncio.run(collect())
    now = desk.clock()
    if args.json:
        shown = [_json(_as_shown(lead, decide), now) for lead in leads]
        print(json.dumps(shown, ensure_ascii=False, indent=2))
        return 0
    for lead in leads:
        flags = ("MAJOR" if lead.major else "") + (" OVERDUE" if lead.overdue(now) else "")
        print(f"{lead.id}  {lead.state.value:<11}  {lead.category.value:<19}  {lead.region}  "
              f"{lead.source_agency:<8}  {iso(lead.submitted_at)}  {flags.strip()}")  # fmt: skip
    print(f"{len(leads)} of {total} leads you may read")
    return 0


def _show(lead: Lead, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_json(lead, None), ensure_ascii=False, indent=2))
        return
    print(f"{lead.id}  {lead.state.value}  {lead.category.value}  region {lead.region}")
    print(f"  submitted {iso(lead.submitted_at)} by {lead.submitted_by} ({lead.source_agency})")
    if lead.amount is not None or lead.victims is not None:
        print(f"  amount {lead.amount if lead.amount is not None else '-'} CNY,"
              f" victims {lead.victims if lead.victims is not None else '-'}")  # fmt: skip
    print(f"  {lead.description}")
    for subject in lead.subjects:
        print(f"  subject {subject.kind} {subject.identifier}")
    if lead.major:
        acknowledged = (
            f"acknowledged {iso(lead.major_acknowledged_at)} by {lead.major_acknowledged_by}"
            if lead.major_acknowledged_at is not None
            else "not acknowledged"
        )
        print(f"  MAJOR ({', '.join(lead.major_reasons)}): deadline"
              f" {iso(lead.major_deadline)}, {acknowledged}")  # fmt: skip
    if lead.verification is not None:
        v = lead.verification
        print(f"  {v.outcome.value.lower()} {iso(v.at)} by {v.by} ({v.by_agency}): {v.findings}")
    if lead.referral is not None:
        r = lead.referral
        print(f"  referred {iso(r.at)} by {r.by} to {r.to_agency} ({r.receiving_unit}) {r.note}")
    if lead.case_number is not None:
        print(f"  case {lead.case_number}")
    for note in lead.feedback:
        print(f"  feedback {iso(note.at)} by {note.by} ({note.by_agency}): {note.note}")


def _json(lead: Lead, now: float | None) -> dict[str, Any]:
    data = dataclasses.asdict(lead)
    if now is not None:
        data["overdue"] = lead.overdue(now)
    return data


def _indicators(
    args: argparse.Namespace, desk: OfficeDesk, actor: Principal, declaration: Declaration
) -> int:
    period: Period = "MONTH" if args.period == "month" else "QUARTER"
    by: list[Grouping] = ["REGION" if b == "region" else "CATEGORY" for b in dict.fromkeys(args.by)]
    rows = asyncio.run(desk.indicators(actor, declaration, period, args.start, args.end, by))
    fields = [f.name for f in dataclasses.fields(IndicatorRow)]
    if args.json:
        print(json.dumps([_row(r) for r in rows], ensure_ascii=False, indent=2))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_row(r) for r in rows)
    else:
        print("  ".join(f"{name:>12}" for name in fields))
        for r in rows:
            print("  ".join(f"{'' if v is None else v!s:>12}" for v in _row(r).values()))
    return 0


def _row(row: IndicatorRow) -> dict[str, Any]:
    data = dataclasses.asdict(row)
    data["category"] = row.category.value if row.category is not None else None
    return data
