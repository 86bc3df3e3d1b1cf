"""``jointgate policy explain``: why a user gets each field of a query, and which records.

Fields are decided by the ``read`` policies (allow, mask, deny); records, before any of their
fields, by the ``readRecord`` policies (40-records.cedar) on their labels: a hidden record is left
out whole, so an explanation that stopped at the fields would call a field "masked" that the user
never sees. ``policy diff`` compares both between two policy sets. The reckoning itself is
:mod:`gateway.explain` (the console's simulator shows the same); this module reads the options.
"""

from __future__ import annotations

import argparse
from typing import Any

from commands.policy.governance import config_database, database_exists, policy_source
from gateway.explain import (
    HANDLING_CODES,
    RECORD_LABELS,
    RecordSpec,
    describe_labels,
    explain,
    hidden_records,
    record_option,
    record_outcome,
    targets,
)
from kernel.identifiers import InvalidIdentifier, check_case_id
from kernel.types import Principal
from policies.db import Database
from policies.engine import (
    DEFAULT_DIR,
    DecisionContext,
    PolicyEngine,
    RecordDecision,
    RecordLabels,
    load_bundle,
)
from policies.impact import decide_paths
from policies.reload import PolicyVersions, load_files
from policies.teams import TeamDirectory, TeamStore
from policies.testcases import principal_for
from schema.catalog import FieldResource

# the reckoning lives in gateway/explain.py (the console's simulator uses it too); these names
# stay importable from here for ``policy diff`` and older callers
__all__ = [
    "HANDLING_CODES",
    "RECORD_LABELS",
    "RecordSpec",
    "decide_paths",
    "describe_labels",
    "explain",
    "hidden_records",
    "record_option",
    "record_outcome",
    "run_explain",
    "targets",
]


def run_explain(args: argparse.Namespace, catalog: Any) -> int:
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
        print(f"  {path:<{width}}  {shown:<22} {', '.join(policies)}{_decided_as(resource)}")
    for labels, decision in records.values():
        print(f"  record {describe_labels(labels)}: {record_outcome(decision)}")
    if record is None:
        for agency in agencies:
            hidden = hidden_records(engine, principal, context, agency)
            if hidden:
                print(f"  records of {agency} hidden: {hidden}")
    return 0


def _decided_as(resource: FieldResource) -> str:
    """For a field of a personal-data category, which ``Person`` field decided it (the engine
    asks the policies about that one: ``PolicyEngine.deciding``); "" for any other field."""
    if resource.decided_as is None:
        return ""
    return f"; decided as {'.'.join(resource.decided_as)} (category {resource.personal})"


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
        url = config_database(args.config)
    elif args.data_dir is not None:
        url = f"sqlite:///{args.data_dir / 'governance.sqlite3'}"
    else:
        raise ValueError(
            f"whether {principal.subject} is in a joint team for case {args.case} decides the"
            " answer: name the gateway's governance database (--data-dir DIR, --database URL or"
            " --config jointgate.toml), or assume it with --in-team or --no-in-team"
        )
    if not database_exists(url):
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


def _explained_engine(args: argparse.Namespace, catalog: Any) -> PolicyEngine:
    """``--dir``; else the set in force for ``--config``'s gateways (the one published in
    their governance database when they share it, else their policy directory); else the
    shipped set."""
    if args.dir is not None or args.config is None:
        return PolicyEngine(load_bundle(args.dir or DEFAULT_DIR, catalog), catalog)
    shared, directory = policy_source(args.config)
    url = config_database(args.config)
    if shared and database_exists(url):
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
