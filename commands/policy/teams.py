"""``jointgate teams`` and ``jointgate review``: joint investigation teams, and the break-glass
accesses awaiting review, in the governance database."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from commands.policy.governance import announce_to_replicas, open_governance
from policies.review import ReviewError, ReviewQueue
from policies.teams import TeamError, TeamStore


def run(args: argparse.Namespace) -> int:
    try:
        if args.command == "teams":
            return _teams(args)
        return _review(args)
    except (TeamError, ReviewError, ValueError) as exc:
        print(f"jointgate {args.command}: {exc}", file=sys.stderr)
        return 1


def _teams(args: argparse.Namespace) -> int:
    db, notify = open_governance(args)
    try:
        store = TeamStore(db)
        command = args.teams_command
        if command == "create":
            team = store.create(
                args.team, args.case, name=args.name, valid_from=_when(args.valid_from),
                valid_until=_when(args.valid_until), created_by="cli",
            )  # fmt: skip
            print(f"created team {team.id} for cases {', '.join(team.cases)}")
        elif command == "add-member":
            team = store.add_member(
                args.team, args.user, valid_from=_when(args.valid_from),
                valid_until=_when(args.valid_until), by="cli",
            )  # fmt: skip
            (member,) = [m for m in team.memberships if m.subject == args.user]
            until = _iso(member.valid_until) or "the team ends"
            print(f"{args.user} is now a member of {args.team}, from {_iso(member.valid_from)}"
                  f" until {until}")  # fmt: skip
        elif command == "remove-member":
            store.remove_member(args.team, args.user, by="cli")
            print(f"{args.user} is no longer a member of {args.team}")
        elif command == "close":
            store.close(args.team, by="cli")
            print(f"team {args.team} is closed")
        else:
            _print_teams(store, args.json)
            return 0
    finally:
        db.close()
    announce_to_replicas(notify, "teams")
    return 0


def _print_teams(store: TeamStore, as_json: bool) -> None:
    now = dt.datetime.now(dt.UTC).timestamp()
    for team in store.list():
        row = {
            "team": team.id, "name": team.name, "cases": list(team.cases),
            "members": list(team.members), "active": team.active(now),
            "memberships": [
                {"member": m.subject, "valid_from": _iso(m.valid_from),
                 "valid_until": _iso(m.valid_until), "active": team.member_active(m.subject, now)}
                for m in team.memberships
            ],
            "valid_from": _iso(team.valid_from), "valid_until": _iso(team.valid_until),
            "closed_at": _iso(team.closed_at),
        }  # fmt: skip
        if as_json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            state = "active" if row["active"] else ("closed" if team.closed_at else "inactive")
            members = ", ".join(team.members) or "-"
            print(
                f"{team.id:<16} {state:<8} cases: {', '.join(team.cases)}; "
                f"members: {members}; until {row['valid_until'] or '-'}"
            )


def _review(args: argparse.Namespace) -> int:
    db, _ = open_governance(args)
    try:
        queue = ReviewQueue(db)
        if args.review_command == "sign-off":
            access = queue.sign_off(args.id, args.reviewer, args.note)
            print(f"{access.id} signed off by {access.reviewed_by}")
            return 0
        for access in queue.pending():
            if args.json:
                print(json.dumps(_access(access), ensure_ascii=False))
            else:
                print(f"{access.id}  {_iso(access.at)}  {access.subject} ({access.agency})  "
                      f"{access.purpose} {access.case_id or '-'}  reason: {access.reason}  "
                      f"fields: {len(access.fields)}  request {access.request_id}")  # fmt: skip
    finally:
        db.close()
    return 0


def _access(access: Any) -> dict[str, Any]:
    return {
        "id": access.id, "request_id": access.request_id, "subject": access.subject,
        "agency": access.agency, "purpose": access.purpose, "case_id": access.case_id,
        "reason": access.reason, "fields": list(access.fields), "at": _iso(access.at),
    }  # fmt: skip


def _when(text: str | None) -> float | None:
    if text is None:
        return None
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC).isoformat(timespec="seconds")
