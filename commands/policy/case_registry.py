"""``jointgate cases``: the case registry (``policies/cases.py``) in the governance database.

A request's ``X-Case-Id`` must name an open case registered here that the caller is assigned to,
directly or through a joint team covering it; these commands register cases, assign and
unassign officials, add and remove subjects, close cases and show them. Each is run by a
verified official (``--token`` / ``JOINTGATE_TOKEN``; role ``case-admin``, or ``auditor`` to list
and show), recorded in the audit trail as a governance record in the same transaction as the
change (commands/official.py), and announced to the replicas like a team change.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from commands.official import acting, governed, record_governance
from commands.policy.governance import announce_to_replicas, iso, open_governance
from gateway.governance import AUDITOR, CASE_ADMIN
from policies.cases import TOPIC, Case, CaseError, CaseStore, Subject, subject_identifier
from policies.teams import TeamStore

#: who may list and show cases: those who change them, and auditors (docs/cli.md)
CASE_READERS = (CASE_ADMIN, AUDITOR)
_REFUSED = (CaseError, ValueError)


def run(args: argparse.Namespace) -> int:
    try:
        return _cases(args)
    except (CaseError, ValueError) as exc:
        print(f"jointgate cases: {exc}", file=sys.stderr)
        return 1


def _cases(args: argparse.Namespace) -> int:
    command = args.cases_command
    reads = command in ("list", "show")
    official = acting(args, CASE_READERS if reads else CASE_ADMIN, f"case.{command}")
    db, notify = open_governance(args)
    try:
        store = CaseStore(db)
        if reads:
            record_governance(args, official, f"case.{command}", _details(args))  # before shown
            cases = store.cases(open_only=not args.all) if command == "list" else []
            if command == "show":
                cases = [store.get(args.case)]
            covering = _teams_by_case(TeamStore(db))
            for case in cases:
                _print(case, covering.get(case.number, []), args.json, full=command == "show")
            return 0
        by = official.subject
        with governed(args, official, f"case.{command}", _details(args), db, _REFUSED):
            case = _change(store, command, args, by)
        _report(case, command, args)
    finally:
        db.close()
    announce_to_replicas(notify, TOPIC)
    return 0


def _details(args: argparse.Namespace) -> dict[str, Any]:
    """What a case command's governance record holds: its arguments."""
    keys = ("case", "agency", "title", "subject", "official", "user", "identifier", "kind", "all")
    return {k: v for k in keys if (v := getattr(args, k, None)) not in (None, [], False)}


def _change(store: CaseStore, command: str, args: argparse.Namespace, by: str) -> Case:
    """Make one change; its governance record goes into the same transaction (governed)."""
    if command == "register":
        return store.register(
            args.case, agency=args.agency, title=args.title, by=by,
            subjects=[_subject(s) for s in args.subject], officials=args.official,
        )  # fmt: skip
    if command == "assign":
        return store.assign(args.case, args.user, by=by)
    if command == "unassign":
        return store.unassign(args.case, args.user, by=by)
    if command == "add-subject":
        return store.add_subject(args.case, subject_identifier(args.identifier, args.kind), by=by)
    if command == "remove-subject":
        subject = subject_identifier(args.identifier, args.kind)
        return store.remove_subject(args.case, subject, by=by)
    return store.close(args.case, by=by)


def _report(case: Case, command: str, args: argparse.Namespace) -> None:
    if command == "register":
        print(f"registered case {case.number} ({case.agency}): {len(case.subjects)} subjects,"
              f" officials: {', '.join(case.officials) or '-'}")  # fmt: skip
    elif command == "assign":
        print(f"{args.user} is assigned to {case.number}")
    elif command == "unassign":
        print(f"{args.user} is no longer assigned to {case.number}")
    elif command in ("add-subject", "remove-subject"):
        subject = subject_identifier(args.identifier, args.kind)
        done = "is" if command == "add-subject" else "is no longer"
        print(f"{subject.kind} {subject.identifier} {done} a subject of {case.number}")
    else:
        print(f"case {case.number} is closed: X-Case-Id {case.number} is refused from now on")


def _subject(text: str) -> Subject:
    """``--subject [KIND=]IDENTIFIER``: the kind where the identifier alone does not tell."""
    kind, sep, value = text.partition("=")
    return subject_identifier(value, kind) if sep else subject_identifier(text)


def _teams_by_case(teams: TeamStore) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for team in teams.list():
        for case in team.cases:
            found.setdefault(case, []).append(team.id)
    return found


def _print(case: Case, teams: list[str], as_json: bool, *, full: bool) -> None:
    row: dict[str, Any] = {
        "case": case.number, "agency": case.agency, "title": case.title, "source": case.source,
        "open": case.open, "opened_at": iso(case.opened_at), "closed_at": iso(case.closed_at),
        "closed_by": case.closed_by, "registered_by": case.registered_by,
        "registered_at": iso(case.registered_at), "teams": teams,
        "officials": list(case.officials),
        "subjects": [{"kind": s.kind, "identifier": s.identifier} for s in case.subjects],
    }  # fmt: skip
    if full:
        row["assignments"] = [
            {"official": a.subject, "assigned_at": iso(a.assigned_at),
             "assigned_by": a.assigned_by, "removed_at": iso(a.removed_at),
             "removed_by": a.removed_by}
            for a in case.assignments
        ]  # fmt: skip
    if as_json:
        print(json.dumps(row, ensure_ascii=False))
        return
    state = "open" if case.open else f"closed {row['closed_at']}"
    print(f"{case.number:<24} {case.agency:<8} {state:<6} {case.title}")
    print(f"    officials: {', '.join(case.officials) or '-'}; teams: {', '.join(teams) or '-'};"
          f" subjects: {len(case.subjects)}")  # fmt: skip
    if full:
        for s in case.subjects:
            print(f"    subject  {s.kind:<12} {s.identifier}")
        for a in case.assignments:
            until = f" until {iso(a.removed_at)} (by {a.removed_by})" if a.removed_at else ""
            print(f"    assigned {a.subject} at {iso(a.assigned_at)} by {a.assigned_by}{until}")
        print(f"    registered by {case.registered_by} at {row['registered_at']}"
              f" (source: {case.source})")  # fmt: skip
