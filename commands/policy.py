"""Administrators' commands: ``jointgate policy``, ``jointgate teams``, ``jointgate review``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from commands.explain import (
    RECORD_LABELS,
    decide_paths,
    describe_labels,
    explain,
    hidden_records,
    record_option,
    record_outcome,
    targets,
)
from gateway.notify import NotifySettings, announce, where
from kernel.identifiers import InvalidIdentifier, check_case_id
from kernel.types import Outcome, Principal, Purpose
from policies.db import Database
from policies.engine import (
    DEFAULT_DIR,
    DecisionContext,
    PolicyEngine,
    PolicyError,
    RecordDecision,
    RecordLabels,
    load_bundle,
)
from policies.reload import PolicyVersions, load_files, publish
from policies.review import ReviewError, ReviewQueue
from policies.teams import TeamDirectory, TeamError, TeamStore

TESTS_DIR = "tests"


def add_commands(commands: Any) -> None:
    """Add the policy, teams and review command groups to ``jointgate``'s sub-parsers."""
    policy = commands.add_parser("policy", help="validate, explain, test and compare policies")
    sub = policy.add_subparsers(dest="policy_command", required=True, metavar="SUBCOMMAND")
    validate = sub.add_parser("validate", help="check a policy directory; errors name file:line")
    validate.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR)

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
    test.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR)

    publish = sub.add_parser(
        "publish", help="validate DIR and put it in force on every replica ([policy] shared)"
    )
    publish.add_argument("dir", type=Path)
    _database_options(publish)

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
    for name, text in (("add-member", "add a member"), ("remove-member", "remove a member")):
        member = tsub.add_parser(name, help=text)
        member.add_argument("team")
        member.add_argument("user")
    listing = tsub.add_parser("list", help="list teams")
    listing.add_argument("--json", action="store_true")
    close = tsub.add_parser("close", help="close a team: its memberships stop counting")
    close.add_argument("team")
    for parser in tsub.choices.values():
        _database_options(parser)

    review = commands.add_parser("review", help="break-glass accesses awaiting review")
    rsub = review.add_subparsers(dest="review_command", required=True, metavar="SUBCOMMAND")
    pending = rsub.add_parser("pending", help="list accesses not yet signed off")
    pending.add_argument("--json", action="store_true")
    sign = rsub.add_parser("sign-off", help="sign off one access")
    sign.add_argument("id")
    sign.add_argument("--reviewer", required=True)
    sign.add_argument("--note", default="")
    for parser in rsub.choices.values():
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


def _governance(args: argparse.Namespace) -> tuple[Database, NotifySettings | None]:
    """The governance database and where to announce changes, from the options."""
    from gateway.ratelimit import RateLimits
    from gateway.settings import load_governance
    from kernel.config import ConfigError

    url = f"sqlite:///{args.data_dir / 'governance.sqlite3'}"
    notify: NotifySettings | None = NotifySettings().resolved(RateLimits())  # as a default gateway
    if args.config is not None:
        try:
            url, notify = load_governance(args.config)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    if args.notify is not None:
        notify = replace(notify or NotifySettings(), redis_url=args.notify)
    return Database(args.database or url), notify


def _announce(notify: NotifySettings | None, topic: str) -> None:
    if notify is not None and notify.redis_url and announce(notify, topic):
        print(f"announced to the replicas on {where(notify.redis_url)}")
    else:
        poll = notify.poll_s if notify is not None else NotifySettings().poll_s
        recheck = notify.recheck_s if notify is not None else NotifySettings().recheck_s
        print(f"not announced: replicas see it at their next check (within {recheck:g} s,"
              f" {poll:g} s while they cannot reach Redis)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        if args.command == "policy":
            return _policy(args)
        if args.command == "teams":
            return _teams(args)
        return _review(args)
    except (PolicyError, TeamError, ReviewError, ValueError) as exc:
        print(f"jointgate {args.command}: {exc}", file=sys.stderr)
        return 1


def _catalog() -> Any:
    from schema.unified import build_schema

    return build_schema().catalog


def _policy(args: argparse.Namespace) -> int:
    catalog = _catalog()
    if args.policy_command == "validate":
        bundle = load_bundle(args.dir, catalog)
        print(f"ok: {len(bundle.policies)} policies in {args.dir}, version {bundle.version}")
        return 0
    if args.policy_command == "explain":
        return _explain(args, catalog)
    if args.policy_command == "test":
        return _run_tests(args.dir, PolicyEngine(load_bundle(args.dir, catalog), catalog))
    if args.policy_command == "publish":
        return _publish(args, catalog)
    return _diff(args, catalog)


def _publish(args: argparse.Namespace, catalog: Any) -> int:
    """Validate, store and activate a set; a set that does not validate is not stored. Refused
    when no gateway would read it: "published" must mean in force."""
    if args.config is not None:
        shared, directory = _policy_source(args.config)
        if not shared:
            raise ValueError(
                f"the gateways of {args.config} read their policies from files, not from the"
                " governance database (policy.shared is off), so publishing would change"
                f" nothing. To change their policies, edit the *.cedar files in"
                f" {directory or DEFAULT_DIR} on every gateway (check them first with"
                " `jointgate policy validate DIR`): each reloads them within policy.reload_s,"
                " or at once on SIGHUP. To have replicas share one published set instead, set"
                f" policy.shared = true in {args.config}."
            )
    elif not _exists(_database_url(args)):
        raise ValueError(_nobody_reads(_database_url(args)))
    db, notify = _governance(args)
    try:
        if args.config is None and not PolicyVersions.in_use(db):
            raise ValueError(_nobody_reads(db.url))
        versions = PolicyVersions(db)
        before = versions.active()
        version = publish(args.dir, catalog, versions, by="cli")
    finally:
        db.close()
    if before is not None and before.version == version:
        print(f"version {version} is in force already")
        return 0
    print(f"published policy version {version} from {args.dir}")
    _announce(notify, "policy")
    return 0


def _nobody_reads(url: str) -> str:
    return (
        f"no gateway reads its policies from {where(url)}: gateways that share their policies"
        " (policy.shared) publish their own set there when the first of them starts, and none"
        " has. Give --config with the gateways' jointgate.toml: publish then puts the set in"
        " force if they read it from the database, and says what to do if they read files."
    )


def _policy_source(config: Path) -> tuple[bool, Path | None]:
    from gateway.settings import load_policy_source
    from kernel.config import ConfigError

    try:
        return load_policy_source(config)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _database_url(args: argparse.Namespace) -> str:
    """The governance database the options name, without a config file."""
    return str(args.database or f"sqlite:///{args.data_dir / 'governance.sqlite3'}")


def _exists(url: str) -> bool:
    """False for a SQLite database that is not there (opening it would create it)."""
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file()


def principal_for(user: str, agency: str | None = None, roles: Sequence[str] = (),
                  clearance: int | None = None) -> Principal:  # fmt: skip
    """A demo user by name, or any principal described by agency, roles and clearance."""
    from sandbox.issuer import DEMO_USERS

    demo = DEMO_USERS.get(user)
    if demo is None and agency is None:
        raise ValueError(f"'{user}' is not a demo user; give --agency, --role and --clearance")
    return Principal(
        subject=user,
        agency=agency or (demo.agency if demo else ""),
        roles=frozenset(roles or (demo.roles if demo else ())),
        clearance=clearance if clearance is not None else (demo.clearance if demo else 0),
    )


def _explain(args: argparse.Namespace, catalog: Any) -> int:
    args.case = _case_id(args.case)
    principal = principal_for(args.user, args.agency, args.role, args.clearance)
    record = record_option(args.record, catalog) if args.record is not None else None
    in_team, teams = _membership(args, principal)
    engine = _explained_engine(args, catalog)
    context = DecisionContext(
        purpose=args.purpose,
        case_id=args.case,
        justification=args.justification or args.break_glass,
        in_team=in_team,
        teams=teams,
        break_glass=bool(args.break_glass),
    )
    paths = targets(catalog, args.target)
    rows = decide_paths(engine, principal, context, paths)
    agencies = sorted({r.agency for _, r in paths})
    roles = ", ".join(sorted(principal.roles)) or "-"
    print(
        f"user {principal.subject} ({principal.agency}, roles {roles}, clearance "
        f"{principal.clearance}); purpose {context.purpose}; case {context.case_id or '-'}; "
        f"in team: {'yes' if context.in_team else 'no'}; policy version {engine.version}"
    )
    records: dict[str, tuple[RecordLabels, RecordDecision]] = {}
    if record is not None:
        asked = [record.labels(agency) for agency in agencies]
        decided = engine.decide_records(principal, context, asked)
        records = {lab.agency: (lab, d) for lab, d in zip(asked, decided, strict=True)}
    width = max(len(r[0]) for r in rows)
    for (path, outcome, mask, policies), (_, resource) in zip(rows, paths, strict=True):
        shown = f"{outcome}({mask})" if mask else outcome
        hiding = records.get(resource.agency)
        if hiding is not None and not hiding[1].visible:
            shown, policies = "hidden(record)", hiding[1].policies or ("default-deny",)
        print(f"  {path:<{width}}  {shown:<22} {', '.join(policies)}")
    for labels, decision in records.values():
        print(f"  record {describe_labels(labels)}: {record_outcome(decision)}")
    if record is None:
        for agency in agencies:
            hidden = hidden_records(engine, principal, context, agency)
            if hidden:
                print(f"  records of {agency} hidden: {hidden}")
    return 0


def _case_id(text: str) -> str:
    """``--case`` as the gateway takes ``X-Case-Id`` (``kernel.identifiers.check_case_id``), so
    that the explanation is about the case a request would declare; "" for none."""
    if not text.strip():
        return ""
    try:
        return check_case_id(text)
    except InvalidIdentifier as exc:
        raise ValueError(f"--case is not a valid case id: {exc.reason}") from None


def _membership(args: argparse.Namespace, principal: Principal) -> tuple[bool, tuple[str, ...]]:
    """Whether the principal is in an active team for the declared case, and its teams: as
    assumed (``--in-team`` / ``--no-in-team``), else from the governance database named by the
    options. Without one the answer would be a guess, so it is refused; nothing is created."""
    if args.in_team is not None:
        return bool(args.in_team), ()
    if not args.case:
        return False, ()
    if args.database:
        url = args.database
    elif args.config is not None:
        url = _config_database(args.config)
    elif args.data_dir is not None:
        url = f"sqlite:///{args.data_dir / 'governance.sqlite3'}"
    else:
        raise ValueError(
            f"whether {principal.subject} is in a joint team for case {args.case} decides the"
            " answer: name the gateway's governance database (--data-dir DIR, --database URL or"
            " --config jointgate.toml), or assume it with --in-team or --no-in-team"
        )
    if not _exists(url):
        raise ValueError(
            f"no governance database at {url.removeprefix('sqlite:///')}: give the gateway's"
            " --data-dir, --database or --config (or --in-team / --no-in-team)"
        )
    db = Database(url)
    try:
        active = TeamDirectory(TeamStore(db)).memberships(principal.subject)
    finally:
        db.close()
    return any(args.case in t.cases for t in active), tuple(t.id for t in active)


def _config_database(config: Path) -> str:
    from gateway.settings import load_governance
    from kernel.config import ConfigError

    try:
        return load_governance(config)[0]
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _explained_engine(args: argparse.Namespace, catalog: Any) -> PolicyEngine:
    """``--dir``; else the set in force for ``--config``'s gateways (the one published in
    their governance database when they share it, else their policy directory); else the
    shipped set."""
    if args.dir is not None or args.config is None:
        return PolicyEngine(load_bundle(args.dir or DEFAULT_DIR, catalog), catalog)
    shared, directory = _policy_source(args.config)
    url = _config_database(args.config)
    if shared and _exists(url):
        db = Database(url)
        try:
            if PolicyVersions.in_use(db):
                versions = PolicyVersions(db)
                active = versions.active()
                if active is not None:
                    return load_files(versions.files(active.version), active.version, catalog)
        finally:
            db.close()
    # files, or shared before the first gateway started (it will publish its directory)
    return PolicyEngine(load_bundle(directory or DEFAULT_DIR, catalog), catalog)


def _run_tests(directory: Path, engine: PolicyEngine) -> int:
    files = sorted((directory / TESTS_DIR).glob("*.json"))
    if not files:
        print(f"jointgate policy test: no tests in {directory / TESTS_DIR}", file=sys.stderr)
        return 1
    failures = total = 0
    for path in files:
        for case in json.loads(path.read_text())["cases"]:
            total += 1
            got = run_case(engine, case)
            if got != case["expect"]:
                failures += 1
                print(f"FAIL {path.name}: {case['name']}: expected {case['expect']}, got {got}")
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures else 0


def run_case(engine: PolicyEngine, case: dict[str, Any]) -> str:
    """The outcome of one policy test case: allow / mask / deny, or visible / hidden."""
    who = case["principal"]
    principal = principal_for(
        who.get("user", "test-user"), who.get("agency"), who.get("roles", ()), who.get("clearance")
    )
    ctx = case.get("context", {})
    context = DecisionContext(
        purpose=ctx["purpose"], case_id=ctx.get("case_id", ""),
        justification=ctx.get("justification", ""), in_team=ctx.get("in_team", False),
        teams=tuple(ctx.get("teams", ())), break_glass=ctx.get("break_glass", False),
    )  # fmt: skip
    if "record" in case:
        labels = RecordLabels(**case["record"])
        decision = engine.decide_records(principal, context, [labels])[0]
        return "visible" if decision.visible else "hidden"
    type_name, _, field_name = case["field"].partition(".")
    resource = engine.catalog[(type_name, field_name)]
    return engine.decide(principal, context, [resource])[0].outcome.value


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
                for (path, o1, m1, _), (_, o2, m2, p2) in zip(before, after, strict=True):
                    if (o1, m1) != (o2, m2):
                        fields += 1
                        print(
                            f"  {query['name']}: {where}: {path}: "
                            f"{_shown(o1, m1)} -> {_shown(o2, m2)} ({', '.join(p2)})"
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
    from sandbox.issuer import DEMO_USERS

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


def _shown(outcome: str, mask: str | None) -> str:
    return f"{outcome}({mask})" if outcome == Outcome.MASK.value and mask else outcome


def _teams(args: argparse.Namespace) -> int:
    db, notify = _governance(args)
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
            store.add_member(args.team, args.user)
            print(f"{args.user} is now a member of {args.team}")
        elif command == "remove-member":
            store.remove_member(args.team, args.user)
            print(f"{args.user} is no longer a member of {args.team}")
        elif command == "close":
            store.close(args.team)
            print(f"team {args.team} is closed")
        else:
            _print_teams(store, args.json)
            return 0
    finally:
        db.close()
    _announce(notify, "teams")
    return 0


def _print_teams(store: TeamStore, as_json: bool) -> None:
    now = dt.datetime.now(dt.UTC).timestamp()
    for team in store.list():
        row = {
            "team": team.id, "name": team.name, "cases": list(team.cases),
            "members": list(team.members), "active": team.active(now),
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
    db, _ = _governance(args)
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
