"""``jointgate policy propose``, ``approve``, ``reject``, ``rollback``, ``proposals``,
``history``: the policy set in force changed under dual control (policies/proposals.py).

Every command is run by a verified official (commands/official.py): a policy administrator
(role ``policy-admin``) to propose, approve, reject or roll back; a policy administrator or an
auditor to list proposals and the history. Every one is recorded in the audit trail as a
governance record; a change is committed only once its record is written.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from commands.official import acting, governed, record_governance
from commands.policy.governance import (
    announce_to_replicas,
    database_exists,
    database_url,
    iso,
    nobody_reads,
    open_governance,
    policy_source,
)
from gateway.governance import AUDITOR, POLICY_ADMIN
from policies.db import Database
from policies.engine import DEFAULT_DIR, PolicyError, load_bundle
from policies.proposals import PolicyProposals, Proposal, ProposalError
from policies.reload import PolicyVersions, load_files, policy_files
from schema.catalog import Catalog

#: who may read the proposals and the history: those who make them, and auditors
HISTORY_READERS = (POLICY_ADMIN, AUDITOR)
_REFUSED = (ProposalError, PolicyError, ValueError)


def run_change(args: argparse.Namespace, catalog: Catalog) -> int:
    command = args.policy_command
    if command == "publish":
        raise ValueError(
            "publish is gone: a policy change is proposed by one policy administrator and put"
            " in force by another (dual control). Run `jointgate policy propose DIR --why"
            " TEXT`; a second policy administrator runs `jointgate policy approve ID`"
            " (docs/policies.md)"
        )
    reading = command in ("proposals", "history")
    official = acting(args, HISTORY_READERS if reading else POLICY_ADMIN, f"policy.{command}")
    _check_database_mode(args)
    db, notify = open_governance(args)
    try:
        proposals = PolicyProposals(PolicyVersions(db))
        if reading:
            record_governance(args, official, f"policy.{command}", {})  # before it is shown
            if command == "proposals":
                _print_proposals(proposals.pending(), args.json)
            else:
                _print_history(proposals, args.json)
            return 0
        details = _details(args)
        with governed(args, official, f"policy.{command}", details, db, _REFUSED):
            if command == "propose":
                bundle = load_bundle(args.dir, catalog)  # refused here if it does not validate
                details["version"] = bundle.version
                proposal = proposals.propose(
                    policy_files(args.dir), bundle.version, official.subject, args.why
                )
            elif command == "rollback":
                proposal = proposals.rollback(args.version, official.subject, args.why)
            elif command == "reject":
                proposal = proposals.reject(args.id, official.subject, args.why)
            else:

                def check(files: dict[str, str], version: str) -> None:
                    load_files(files, version, catalog)  # validated again with this schema

                proposal = proposals.approve(args.id, official.subject, args.note, check)
                details["version"] = proposal.version
    finally:
        db.close()
    if command in ("propose", "rollback"):
        print(
            f"proposed version {proposal.version} as {proposal.id} (against"
            f" {proposal.base or 'none in force'}); not in force until another policy"
            f" administrator runs: jointgate policy approve {proposal.id}"
        )
    elif command == "reject":
        print(f"{proposal.id} rejected; version {proposal.version} is not put in force")
    else:
        print(f"approved {proposal.id}: policy version {proposal.version} is in force")
        announce_to_replicas(notify, "policy")
    return 0


def _details(args: argparse.Namespace) -> dict[str, Any]:
    """What the governance record of a change holds: the proposal or version, and why."""
    details: dict[str, Any] = {}
    for key in ("id", "version", "why", "note"):
        value = getattr(args, key, None)
        if value:
            details["proposal" if key == "id" else key] = value
    if getattr(args, "dir", None) is not None:
        details["dir"] = str(args.dir)
    return details


def _check_database_mode(args: argparse.Namespace) -> None:
    """Dual control lives in the governance database: refused for gateways that read their
    policies from files, and for a database no gateway shares its policies through."""
    if args.config is not None:
        shared, directory = policy_source(args.config)
        if not shared:
            raise ValueError(
                f"the gateways of {args.config} read their policies from files, not from the"
                " governance database (policy.shared is off): a proposal would change nothing,"
                " and files have no dual control. To change their policies, edit the *.cedar"
                f" files in {directory or DEFAULT_DIR} on every gateway (check them first with"
                " `jointgate policy validate DIR`): each reloads them within policy.reload_s,"
                " or at once on SIGHUP. For dual control (propose, approve) set policy.shared"
                f" = true in {args.config}."
            )
        return
    url = database_url(args)
    if not database_exists(url):
        raise ValueError(nobody_reads(url))
    db = Database(url)
    try:
        if not PolicyVersions.in_use(db):
            raise ValueError(nobody_reads(url))
    finally:
        db.close()


def _print_proposals(pending: list[Proposal], as_json: bool) -> None:
    for p in pending:
        if as_json:
            print(json.dumps(_proposal(p), ensure_ascii=False))
        else:
            print(
                f"{p.id}  {p.kind} to version {p.version} (against {p.base or 'none'})  "
                f"proposed by {p.proposed_by} at {iso(p.proposed_at)}  why: {p.reason}"
            )


def _print_history(proposals: PolicyProposals, as_json: bool) -> None:
    for entry in proposals.history():
        p = entry.proposal
        spans = [{"activated": iso(a), "superseded": iso(s)} for a, s in entry.activations]
        if as_json:
            row = _proposal(p) if p is not None else {"version": entry.version, "kind": "publish"}
            row |= {"activations": spans, "in_force": entry.in_force}
            if p is None:
                row |= {"published_by": entry.published_by,
                        "published_at": iso(entry.published_at)}  # fmt: skip
            print(json.dumps(row, ensure_ascii=False))
            continue
        state = "IN FORCE" if entry.in_force else ""
        if p is None:
            print(f"{entry.version}  published by {entry.published_by} at"
                  f" {iso(entry.published_at)} (before dual control)  {state}")  # fmt: skip
        else:
            decided = (
                f"; {p.state} by {p.decided_by} at {iso(p.decided_at)}"
                f"{': ' + p.note if p.note else ''}"
                if p.decided_by
                else "; pending"
            )
            print(f"{entry.version}  {p.id} {p.kind}: proposed by {p.proposed_by} at"
                  f" {iso(p.proposed_at)} (against {p.base or 'none'}), why: {p.reason}"
                  f"{decided}  {state}")  # fmt: skip
        for span in spans:
            print(f"    activated {span['activated']}, superseded {span['superseded'] or '-'}")


def _proposal(p: Proposal) -> dict[str, Any]:
    return {
        "id": p.id, "version": p.version, "base": p.base or None, "kind": p.kind,
        "proposed_by": p.proposed_by, "proposed_at": iso(p.proposed_at), "why": p.reason,
        "state": p.state, "decided_by": p.decided_by, "decided_at": iso(p.decided_at),
        "note": p.note,
    }  # fmt: skip
