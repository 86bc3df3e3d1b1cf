"""``jointgate policy explain``: why a user gets each field of a query, and which records.

Fields are decided by the ``read`` policies (allow, mask, deny); records, before any of their
fields, by the ``readRecord`` policies (40-records.cedar) on their labels: a hidden record is left
out whole, so an explanation that stopped at the fields would call a field "masked" that the user
never sees. ``policy diff`` compares both between two policy sets.
"""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple

from commands.policy.governance import config_database, database_exists, policy_source
from gateway.analyze import Analyzer
from kernel.errors import QueryInvalid
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
from policies.impact import Decided, decide_paths
from policies.reload import PolicyVersions, load_files
from policies.teams import TeamDirectory, TeamStore
from policies.testcases import principal_for
from schema.catalog import FieldResource
from schema.unified import build_schema

HANDLING_CODES = ("H0", "H1", "H2", "H3")


def targets(catalog: Any, target: str) -> list[tuple[str, FieldResource]]:
    """(path or field, resource) of every field a field name or a whole query touches."""
    if target.lstrip().startswith(("{", "query", "fragment")):
        try:
            operation = Analyzer(build_schema()).analyze(target, None)
        except QueryInvalid as exc:  # as the gateway would answer it: no traceback
            raise ValueError(f"the query is not valid: {exc}") from None
        return [(t.path, t.resource) for t in operation.touched]
    type_name, _, field_name = target.partition(".")
    if (type_name, field_name) not in catalog:
        raise ValueError(f"{target} is not a field of the schema (Type.field)")
    return [(target, catalog[(type_name, field_name)])]


def explain(
    engine: PolicyEngine, principal: Principal, context: DecisionContext, target: str
) -> list[Decided]:
    """(path or field, outcome, mask, deciding policies) for a field name or a whole query."""
    return decide_paths(engine, principal, context, targets(engine.catalog, target))


# every label combination a connector can attach, relative to the request's case
RECORD_LABELS = [
    RecordLabels(agency, handling, sensitivity, linked)
    for agency in ("police", "market", "banking", "courts")
    for handling in HANDLING_CODES
    for sensitivity in range(4)
    for linked in (False, True)
]


class RecordSpec(NamedTuple):
    """``--record``: the labels of the record a field is explained for."""

    agency: str | None  # None: each field's own agency
    handling: str = "H0"
    sensitivity: int = 0
    linked: bool = False

    def labels(self, agency: str) -> RecordLabels:
        return RecordLabels(self.agency or agency, self.handling, self.sensitivity, self.linked)


def record_option(text: str, catalog: Any) -> RecordSpec:
    """``handling=H3,sensitivity=2,linked,agency=banking``: any of them, in any order."""
    values: dict[str, Any] = {"agency": None}
    agencies = sorted({r.agency for r in catalog.values()})
    for item in (part.strip() for part in text.split(",") if part.strip()):
        key, sep, value = item.partition("=")
        if key == "linked" and not sep:
            values["linked"] = True
        elif key == "linked" and value in ("true", "false"):
            values["linked"] = value == "true"
        elif key == "handling" and value in HANDLING_CODES:
            values["handling"] = value
        elif key == "sensitivity" and value in ("0", "1", "2", "3"):
            values["sensitivity"] = int(value)
        elif key == "agency" and value in agencies:
            values["agency"] = value
        else:
            raise ValueError(
                f"--record: {item!r} is not a label; give handling=H0..H3, sensitivity=0..3,"
                f" linked, agency={'|'.join(agencies)}"
            )
    return RecordSpec(**values)


def record_outcome(decision: RecordDecision) -> str:
    if decision.visible:
        return f"visible ({', '.join(decision.policies)})"
    if decision.policies:
        return f"hidden (forbidden by {', '.join(decision.policies)})"
    return "hidden: no readRecord policy permits it (default-deny)"


def hidden_records(
    engine: PolicyEngine, principal: Principal, context: DecisionContext, agency: str
) -> str:
    """Which of ``agency``'s records the record rules hide from this principal, in short
    (``H0-H2 with sensitivity >= 2, H3 (default-deny)``); "" if none. A hidden record is left out
    whole, whatever its fields' outcomes say."""
    labels = [lab for lab in RECORD_LABELS if lab.agency == agency]
    decided = engine.decide_records(principal, context, labels)
    hidden = [(lab, d) for lab, d in zip(labels, decided, strict=True) if not d.visible]
    if not hidden:
        return ""
    by_condition: dict[str, list[str]] = {}
    for code in HANDLING_CODES:
        of_code = [lab for lab, _ in hidden if lab.handling == code]
        apart = {lab.sensitivity for lab in of_code if not lab.linked_to_case}
        linked = {lab.sensitivity for lab in of_code if lab.linked_to_case}
        if not apart and not linked:
            continue
        if apart == linked:
            condition = _sensitivities(apart)
        elif not linked:
            condition = f"{_sensitivities(apart)} not linked to the case"
        else:
            condition = (
                f"{_sensitivities(apart)} not linked to the case, {_sensitivities(linked)}"
                " linked to it"
            )
        by_condition.setdefault(condition.strip(), []).append(code)
    parts = [f"{_codes(codes)} {condition}".strip() for condition, codes in by_condition.items()]
    policies = sorted({p for _, d in hidden for p in d.policies}) or ["default-deny"]
    return f"{', '.join(parts)} ({', '.join(policies)})"


def _sensitivities(levels: set[int]) -> str:
    if levels == {0, 1, 2, 3}:
        return ""
    low = min(levels)
    if levels == set(range(low, 4)):
        return f"with sensitivity >= {low}"
    return f"with sensitivity {', '.join(map(str, sorted(levels)))}"


def _codes(codes: list[str]) -> str:
    """H0, H1, H2 -> H0-H2 (consecutive codes as a range)."""
    indexes = [HANDLING_CODES.index(c) for c in codes]
    if len(codes) > 2 and indexes == list(range(indexes[0], indexes[-1] + 1)):
        return f"{codes[0]}-{codes[-1]}"
    return ", ".join(codes)


def describe_labels(labels: RecordLabels) -> str:
    linked = ", linked to the case" if labels.linked_to_case else ""
    return f"{labels.agency} {labels.handling} sensitivity {labels.sensitivity}{linked}"


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
