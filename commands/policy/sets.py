"""``jointgate policy validate``, ``test``, ``diff`` (and ``explain``, in
:mod:`commands.policy.explain`; the changes under dual control, ``propose``, ``approve`` ...,
in :mod:`commands.policy.changes`): policy sets checked, tested, compared and put in force."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from commands.policy.changes import run_change
from commands.policy.explain import RECORD_LABELS, describe_labels, explain, run_explain
from kernel.types import Principal, Purpose
from policies.engine import DEFAULT_DIR, DecisionContext, PolicyEngine, PolicyError, load_bundle
from policies.impact import compare
from policies.proposals import ProposalError
from policies.review import ReviewError
from policies.teams import TeamError
from policies.testcases import TESTS_DIR, case_files, principal_for, run_tests
from sandbox.issuer import DEMO_USERS
from schema.unified import build_schema


def run(args: argparse.Namespace) -> int:
    try:
        return _policy(args)
    except (PolicyError, TeamError, ReviewError, ProposalError, ValueError) as exc:
        print(f"jointgate {args.command}: {exc}", file=sys.stderr)
        return 1


def _policy(args: argparse.Namespace) -> int:
    catalog = build_schema().catalog
    if args.policy_command in ("validate", "test") and args.dir is None:
        args.dir = DEFAULT_DIR  # the shipped set
    if args.policy_command == "validate":
        bundle = load_bundle(args.dir, catalog)
        print(f"ok: {len(bundle.policies)} policies in {args.dir}, version {bundle.version}")
        return 0
    if args.policy_command == "explain":
        return run_explain(args, catalog)
    if args.policy_command == "test":
        return _run_tests(args.dir, PolicyEngine(load_bundle(args.dir, catalog), catalog))
    if args.policy_command == "diff":
        return _diff(args, catalog)
    return run_change(args, catalog)


def _run_tests(directory: Path, engine: PolicyEngine) -> int:
    if not case_files(directory):
        print(f"jointgate policy test: no tests in {directory / TESTS_DIR}", file=sys.stderr)
        return 1
    results = run_tests(directory, engine)
    failures = [r for r in results if not r.passed]
    for r in failures:
        print(f"FAIL {r.file}: {r.name}: expected {r.expected}, got {r.got}")
    print(f"{len(results) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


def _diff(args: argparse.Namespace, catalog: Any) -> int:
    old = PolicyEngine(load_bundle(args.old, catalog), catalog)
    new = PolicyEngine(load_bundle(args.new, catalog), catalog)
    queries = json.loads(args.queries.read_text())
    principals = _principals(args.principals)
    fields = records = 0
    print(f"policy diff {old.version} -> {new.version}")
    for principal in principals:
        for context in _contexts():
            where = f"{principal.subject} {_describe(context)}"
            for query in queries:
                before = explain(old, principal, context, query["query"])
                after = explain(new, principal, context, query["query"])
                for change in compare(before, after):
                    fields += 1
                    print(
                        f"  {query['name']}: {where}: {change.path}: "
                        f"{change.before} -> {change.after} ({', '.join(change.policies)})"
                    )
            seen_before = old.decide_records(principal, context, RECORD_LABELS)
            seen_after = new.decide_records(principal, context, RECORD_LABELS)
            for labels, r1, r2 in zip(RECORD_LABELS, seen_before, seen_after, strict=True):
                if r1.visible != r2.visible:
                    records += 1
                    shown = {True: "visible", False: "hidden"}
                    print(
                        f"  records: {where}: {describe_labels(labels)}: "
                        f"{shown[r1.visible]} -> {shown[r2.visible]} ({', '.join(r2.policies)})"
                    )
    print(f"{fields} field outcome(s) and {records} record label set(s) change")
    return 1 if args.fail_on_change and fields + records else 0


def _principals(path: Path | None) -> list[Principal]:
    if path is None:
        return [principal_for(user) for user in DEMO_USERS]
    entries = json.loads(path.read_text())
    return [
        principal_for(e["user"], e.get("agency"), e.get("roles", ()), e.get("clearance"))
        for e in entries
    ]


def _contexts() -> Iterable[DecisionContext]:
    """Every purpose; for case-bound ones also inside a team, and breaking the glass."""
    for purpose in Purpose:
        case = "JIT-2026-001" if purpose.needs_case else ""
        yield DecisionContext(purpose=purpose.value, case_id=case)
        if purpose.needs_case:
            yield DecisionContext(purpose.value, case, in_team=True, teams=("JIT-2026-001",))
            yield DecisionContext(purpose.value, case, justification="-", break_glass=True)


def _describe(context: DecisionContext) -> str:
    extra = " in team" if context.in_team else " break-glass" if context.break_glass else ""
    return context.purpose + extra
