"""The ``jointgate policy``, ``teams``, ``cases`` and ``review`` command lines (argparse only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kernel.types import Purpose


def add_commands(commands: Any) -> None:
    """Add the policy, teams, cases and review command groups to ``jointgate``'s sub-parsers."""
    policy = commands.add_parser("policy", help="validate, explain, test and compare policies")
    sub = policy.add_subparsers(dest="policy_command", required=True, metavar="SUBCOMMAND")
    validate = sub.add_parser("validate", help="check a policy directory; errors name file:line")
    validate.add_argument("dir", nargs="?", type=Path, help="default: the shipped set")

    explain = sub.add_parser("explain", help="the decision per field and the policies behind it")
    explain.add_argument("target", help="Type.field, or a GraphQL query")
    explain.add_argument("--user", required=True, help="a demo user, or any subject with --agency")
    explain.add_argument("--agency", help="the user's agency (for users that are not demo users)")
    explain.add_argument("--role", action="append", default=[], help="a role (repeatable)")
    explain.add_argument("--clearance", type=int, help="the user's clearance (0-3)")
    _context_options(explain)
    explain.add_argument(
        "--record", metavar="LABELS",
        help="explain for a record with these labels: handling=H0..H3, sensitivity=0..3,"
        " linked (to the case), agency=NAME (default: each field's own agency)",
    )  # fmt: skip
    explain.add_argument(
        "--dir", type=Path,
        help="policy directory (default: the set in force for --config's gateways, else the"
        " shipped set)",
    )  # fmt: skip
    explain.add_argument(
        "--data-dir", type=Path, help="the gateway's data dir, for its teams (governance database)"
    )
    explain.add_argument("--database", help="the governance database URL, for teams")
    explain.add_argument(
        "--config", type=Path,
        help="the gateway's jointgate.toml: its governance database and its policy set",
    )  # fmt: skip

    test = sub.add_parser("test", help="run the policy tests kept next to the policies")
    test.add_argument("dir", nargs="?", type=Path, help="default: the shipped set")

    _change_commands(sub)

    diff = sub.add_parser("diff", help="fields whose outcome changes between two policy versions")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.add_argument("--queries", type=Path, required=True, help='JSON: [{"name", "query"}]')
    diff.add_argument(
        "--principals",
        type=Path,
        help='JSON: [{"user", "agency", "roles", "clearance"}] (default: the demo users)',
    )
    diff.add_argument(
        "--fail-on-change", action="store_true", help="exit 1 if any outcome changes (for CI)"
    )

    teams = commands.add_parser("teams", help="joint investigation teams")
    tsub = teams.add_subparsers(dest="teams_command", required=True, metavar="SUBCOMMAND")
    create = tsub.add_parser("create", help="create a team for one or more cases")
    create.add_argument("team")
    create.add_argument(
        "--case", action="append", required=True,
        help="a case id, as X-Case-Id takes it (repeatable; docs/purposes.md)",
    )  # fmt: skip
    create.add_argument("--name", default="")
    create.add_argument("--from", dest="valid_from", help="ISO date-time (default now)")
    create.add_argument("--until", dest="valid_until", help="ISO date-time (default: until closed)")
    add = tsub.add_parser("add-member", help="add a member, for a window of its own")
    add.add_argument("team")
    add.add_argument("user", help="the member's subject, as their token names them")
    add.add_argument("--valid-from", help="ISO date-time (default now)")
    add.add_argument("--valid-until", help="ISO date-time (default: until the team ends)")
    remove = tsub.add_parser("remove-member", help="remove a member")
    remove.add_argument("team")
    remove.add_argument("user")
    listing = tsub.add_parser("list", help="list teams")
    listing.add_argument("--json", action="store_true")
    close = tsub.add_parser("close", help="close a team: its memberships stop counting")
    close.add_argument("team")
    for parser in tsub.choices.values():
        _database_options(parser)

    _case_commands(commands)

    review = commands.add_parser("review", help="break-glass accesses awaiting review")
    rsub = review.add_subparsers(dest="review_command", required=True, metavar="SUBCOMMAND")
    pending = rsub.add_parser(
        "pending", help="accesses not yet signed off, by deadline (governance.review_deadline_h)"
    )
    pending.add_argument("--json", action="store_true")
    pending.add_argument(
        "--overdue", action="store_true", help="only those past their review deadline"
    )
    sign = rsub.add_parser(
        "sign-off", help="sign off one access, as the token's official (role reviewer)"
    )
    sign.add_argument("id")
    sign.add_argument("--note", default="")
    for parser in rsub.choices.values():
        _database_options(parser)


def _case_commands(commands: Any) -> None:
    cases = commands.add_parser("cases", help="the case registry: cases X-Case-Id may name")
    csub = cases.add_subparsers(dest="cases_command", required=True, metavar="SUBCOMMAND")
    case_help = "the case number, as X-Case-Id takes it (docs/purposes.md)"
    register = csub.add_parser("register", help="register an open case")
    register.add_argument("case", help=case_help)
    register.add_argument("--agency", required=True, help="owning agency: police, courts, ...")
    register.add_argument("--title", required=True)
    register.add_argument(
        "--subject", action="append", default=[], metavar="[KIND=]ID",
        help="a USCC, resident ID or account number the case is about (repeatable); KIND"
        " (uscc, resident-id, account) where the number alone does not tell",
    )  # fmt: skip
    register.add_argument(
        "--official", action="append", default=[], metavar="USER",
        help="an official to assign (repeatable): the subject of their token",
    )  # fmt: skip
    for name, text in (("assign", "assign an official"), ("unassign", "end an assignment")):
        assign = csub.add_parser(name, help=text)
        assign.add_argument("case", help=case_help)
        assign.add_argument("user", help="the official's subject, as their token names them")
    for name, text in (("add-subject", "add a subject"), ("remove-subject", "remove a subject")):
        subject = csub.add_parser(name, help=text)
        subject.add_argument("case", help=case_help)
        subject.add_argument("identifier", help="a USCC, resident ID or account number")
        subject.add_argument("--kind", choices=["uscc", "resident-id", "account"])
    close = csub.add_parser("close", help="close a case: X-Case-Id no longer names it")
    close.add_argument("case", help=case_help)
    listing = csub.add_parser("list", help="list open cases")
    listing.add_argument("--all", action="store_true", help="closed cases too")
    listing.add_argument("--json", action="store_true")
    show = csub.add_parser("show", help="one case: subjects, officials and their history")
    show.add_argument("case", help=case_help)
    show.add_argument("--json", action="store_true")
    show.set_defaults(all=True)
    for parser in csub.choices.values():
        _database_options(parser)


def _change_commands(sub: Any) -> None:
    """Dual control: one policy administrator proposes, another approves (docs/policies.md)."""
    propose = sub.add_parser(
        "propose", help="validate DIR and propose it; in force once another admin approves"
    )
    propose.add_argument("dir", type=Path)
    propose.add_argument("--why", required=True, help="the reason, kept in the history")
    approve = sub.add_parser(
        "approve", help="approve another administrator's proposal: in force on every replica"
    )
    approve.add_argument("id", help="the proposal (jointgate policy proposals)")
    approve.add_argument("--note", default="")
    reject = sub.add_parser("reject", help="reject a pending proposal")
    reject.add_argument("id")
    reject.add_argument("--why", required=True)
    rollback = sub.add_parser(
        "rollback", help="propose an earlier version again (approved like any proposal)"
    )
    rollback.add_argument("version", help="a version of jointgate policy history")
    rollback.add_argument("--why", required=True)
    proposals = sub.add_parser("proposals", help="proposals awaiting approval")
    proposals.add_argument("--json", action="store_true")
    history = sub.add_parser(
        "history", help="every version: proposed, approved, activated, superseded; by whom, why"
    )
    history.add_argument("--json", action="store_true")
    publish = sub.add_parser("publish", help="gone: use propose, then approve (dual control)")
    publish.add_argument("dir", type=Path, nargs="?")
    for parser in (propose, approve, reject, rollback, proposals, history, publish):
        _database_options(parser)


def _context_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--purpose", required=True, choices=[p.value for p in Purpose])
    parser.add_argument(
        "--case", default="", help="the X-Case-Id, in any form the gateway takes (docs/purposes.md)"
    )
    parser.add_argument("--justification", default="")
    parser.add_argument("--break-glass", default="", help="the X-Break-Glass reason")
    parser.add_argument(
        "--in-team", action=argparse.BooleanOptionalAction, default=None,
        help="assume an active team covers the case, or not (default: ask the governance"
        " database of --data-dir, --database or --config)",
    )  # fmt: skip


def _database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token", metavar="TOKEN",
        help="the acting official's access token (default: $JOINTGATE_TOKEN; a demo one:"
        " `jointgate token USER`); its subject is who acts, its roles what they may do",
    )  # fmt: skip
    parser.add_argument("--data-dir", type=Path, default=Path(".jointgate"))
    parser.add_argument("--database", help="governance database URL (default: in --data-dir)")
    parser.add_argument(
        "--config", type=Path,
        help="the gateway's jointgate.toml: its governance database and change notifications",
    )  # fmt: skip
    parser.add_argument(
        "--notify", metavar="REDIS_URL",
        help='announce the change to the replicas on this Redis ("": do not; default: from'
        " --config, else the default redis://127.0.0.1:6379/0)",
    )  # fmt: skip
