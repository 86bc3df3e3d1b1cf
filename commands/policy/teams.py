"""``jointgate teams`` and ``jointgate review``: joint investigation teams, and the break-glass
accesses awaiting review, in the governance database. Each command is run by a verified
official with the role it needs, and recorded in the audit trail (commands/official.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from typing import Any

from commands.official import acting, governed, record_governance
from commands.policy.governance import announce_to_replicas, iso, open_governance, review_deadline_s
from gateway.governance import AUDITOR, CASE_ADMIN, REVIEWER
from policies.review import ReviewError, ReviewQueue
from policies.teams import Membership, TeamError, TeamStore

#: who may list teams and pending reviews: those who change them, and auditors (docs/cli.md)
TEAM_READERS = (CASE_ADMIN, AUDITOR)
REVIEW_READERS = (REVIEWER, AUDITOR)
_REFUSED = (TeamError, ReviewError, ValueError)


def run(args: argparse.Namespace) -> int:
    try:
        if args.command == "teams":
            return _teams(args)
        return _review(args)
    except (TeamError, ReviewError, ValueError) as exc:
        print(f"jointgate {args.command}: {exc}", file=sys.stderr)
        return 1


def _teams(args: argparse.Namespace) -> int:
    command = args.teams_command
    if command == "list":
        official = acting(args, TEAM_READERS, "team.list")
    else:
        official = acting(args, CASE_ADMIN, f"team.{command}")
    db, notify = open_governance(args)
    try:
        store = TeamStore(db)
        if command == "list":
            record_governance(args, official, "team.list", {})  # before anything is shown
            _print_teams(store, args.json)
            return 0
        details = _team_details(args)
        with governed(args, official, f"team.{command}", details, db, _REFUSED):
            if command == "create":
                team = store.create(
                    args.team, args.case, name=args.name, valid_from=_when(args.valid_from),
                    valid_until=_when(args.valid_until), created_by=official.subject,
                )  # fmt: skip
            elif command == "add-member":
                team = store.add_member(
                    args.team, args.user, valid_from=_when(args.valid_from),
                    valid_until=_when(args.valid_until), by=official.subject,
                )  # fmt: skip
            elif command == "remove-member":
                store.remove_member(args.team, args.user, by=official.subject)
            else:
                store.close(args.team, by=official.subject)
        if command == "create":
            print(f"created team {team.id} for cases {', '.join(team.cases)}")
        elif command == "add-member":
            (member,) = [m for m in team.memberships if m.subject == args.user]
            until = iso(member.valid_until) or "the team ends"
            print(f"{args.user} is now a member of {args.team}, from {iso(member.valid_from)}"
                  f" until {until}")  # fmt: skip
        elif command == "remove-member":
            print(f"{args.user} is no longer a member of {args.team}")
        else:
            print(f"team {args.team} is closed")
    finally:
        db.close()
    announce_to_replicas(notify, "teams")
    return 0


def _team_details(args: argparse.Namespace) -> dict[str, Any]:
    """What a team change's governance record holds: the team, the member, the window."""
    details: dict[str, Any] = {"team": args.team}
    for key in ("case", "name", "valid_from", "valid_until", "user"):
        value = getattr(args, key, None)
        if value:
            details[key] = value
    return details


def _print_teams(store: TeamStore, as_json: bool) -> None:
    now = dt.datetime.now(dt.UTC).timestamp()
    for team in store.list():
        row = {
            "team": team.id, "name": team.name, "cases": list(team.cases),
            "members": list(team.members), "active": team.active(now),
            "memberships": [
                {"member": m.subject, "valid_from": iso(m.valid_from),
                 "valid_until": iso(m.valid_until), "active": team.member_active(m.subject, now)}
                for m in team.memberships
            ],
            "valid_from": iso(team.valid_from), "valid_until": iso(team.valid_until),
            "closed_at": iso(team.closed_at),
        }  # fmt: skip
        if as_json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            state = "active" if row["active"] else ("closed" if team.closed_at else "inactive")
            members = ", ".join(_member(m, now) for m in team.memberships) or "-"
            print(
                f"{team.id:<16} {state:<8} cases: {', '.join(team.cases)}; "
                f"members: {members}; until {row['valid_until'] or '-'}"
            )


def _member(membership: Membership, now: float) -> str:
    """A member as the list shows them: their name, and their own window when it is not open now
    (the team's state is shown beside)."""
    if membership.active(now):
        return membership.subject
    if membership.valid_from > now:
        return f"{membership.subject} (from {iso(membership.valid_from)}, not yet)"
    if membership.valid_until is not None and membership.valid_until <= now:
        return f"{membership.subject} (until {iso(membership.valid_until)}, ended)"
    return f"{membership.subject} (not active)"


def _review(args: argparse.Namespace) -> int:
    action = f"review.{args.review_command}"
    official = acting(args, REVIEWER if args.review_command == "sign-off" else REVIEW_READERS,
                      action)  # fmt: skip
    deadline_s = review_deadline_s(args)
    db, _ = open_governance(args)
    try:
        queue = ReviewQueue(db)
        if args.review_command == "sign-off":
            details = {"access": args.id, "note": args.note}
            with governed(args, official, action, details, db, _REFUSED):
                access = queue.sign_off(args.id, official.subject, args.note)
            print(f"{access.id} signed off by {access.reviewed_by}")
            return 0
        now = time.time()
        pending = queue.pending()
        if args.overdue:
            pending = [a for a in pending if a.at + deadline_s <= now]
        record_governance(args, official, action, {"overdue_only": args.overdue or None,
                                                   "listed": len(pending)})  # fmt: skip
        for access in pending:  # oldest first: by deadline, since every one has the same term
            due = access.at + deadline_s
            if args.json:
                print(json.dumps(_access(access, due, now), ensure_ascii=False))
            else:
                late = "  OVERDUE" if due <= now else ""
                print(f"{access.id}  due {iso(due)}{late}  at {iso(access.at)}  "
                      f"{access.subject} ({access.agency})  {access.purpose} "
                      f"{access.case_id or '-'}  reason: {access.reason}  "
                      f"fields: {len(access.fields)}  request {access.request_id}")  # fmt: skip
    finally:
        db.close()
    return 0


def _access(access: Any, due: float, now: float) -> dict[str, Any]:
    return {
        "id": access.id, "request_id": access.request_id, "subject": access.subject,
        "agency": access.agency, "purpose": access.purpose, "case_id": access.case_id,
        "reason": access.reason, "fields": list(access.fields), "at": iso(access.at),
        "due": iso(due), "overdue": due <= now,
    }  # fmt: skip


def _when(text: str | None) -> float | None:
    if text is None:
        return None
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()
