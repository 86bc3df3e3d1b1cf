"""Dual control on both governance databases (SQLite, PostgreSQL): a proposal is in force only
once another administrator approves it; the history keeps who, when, why; a database written
before dual control stays readable."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from policies.db import Database
from policies.engine import load_bundle
from policies.proposals import PolicyProposals, ProposalError
from policies.reload import PolicyStore, PolicyVersions, policy_files
from schema.unified import build_schema

CATALOG = build_schema().catalog
ALLOW = (
    '@id("market-balances")\npermit (principal, action == JointGate::Action::"read",'
    ' resource == JointGate::Field::"BankAccount.balance")\nwhen { principal.agency =='
    ' "market" };\n'
)


def nothing(files: dict[str, str], version: str) -> None:
    return None


def test_propose_approve_reject_rollback(database: Database, policy_copy: Path) -> None:
    store = PolicyStore(policy_copy, CATALOG, PolicyVersions(database), publisher="replica")
    first = store.version
    proposals = PolicyProposals(PolicyVersions(database))
    (policy_copy / "50-test.cedar").write_text(ALLOW)
    second = load_bundle(policy_copy, CATALOG).version
    proposal = proposals.propose(policy_files(policy_copy), second, "alice", "why not")
    assert proposal.base == first and proposal.state == "pending"
    assert not store.check() and store.version == first  # proposed is not in force
    with pytest.raises(ProposalError, match="proposed already"):
        proposals.propose(policy_files(policy_copy), second, "bob", "again")
    with pytest.raises(ProposalError, match="dual control"):
        proposals.approve(proposal.id, "alice", "", nothing)
    approved = proposals.approve(proposal.id, "bob", "ok", nothing)
    assert approved.state == "approved" and approved.decided_by == "bob"
    assert store.check() and store.version == second
    with pytest.raises(ProposalError, match="in force already"):
        proposals.propose(policy_files(policy_copy), second, "carol", "same")
    back = proposals.rollback(first, "carol", "undo")
    assert back.kind == "rollback" and back.base == second
    assert not store.check()
    proposals.approve(back.id, "alice", "", nothing)
    assert store.check() and store.version == first
    with pytest.raises(ProposalError, match="no version"):
        proposals.rollback("0000000000000000", "carol", "x")
    entries = proposals.history()
    assert [(e.proposal.kind if e.proposal else None, e.in_force) for e in entries] == [
        ("rollback", True), ("change", False), ("bootstrap", False),
    ]  # fmt: skip


def test_a_database_from_before_dual_control_stays_readable(
    database: Database, policy_copy: Path
) -> None:
    """The two tables of before: a set published by ``cli`` and the pointer to it."""
    database.script(
        "CREATE TABLE IF NOT EXISTS jg_policy_sets (version TEXT PRIMARY KEY, files TEXT NOT"
        " NULL, published_at DOUBLE PRECISION NOT NULL, published_by TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS jg_policy_active (id INTEGER PRIMARY KEY, version TEXT NOT"
        " NULL, serial BIGINT NOT NULL, activated_at DOUBLE PRECISION NOT NULL, activated_by"
        " TEXT NOT NULL)"
    )
    version = load_bundle(policy_copy, CATALOG).version
    now = time.time()
    database.query(
        "INSERT INTO jg_policy_sets VALUES (?, ?, ?, 'cli')",
        (version, json.dumps(policy_files(policy_copy), sort_keys=True), now),
    )
    database.query("INSERT INTO jg_policy_active VALUES (1, ?, 7, ?, 'cli')", (version, now))
    store = PolicyStore(policy_copy, CATALOG, PolicyVersions(database))
    assert store.version == version and store.bootstrapped is None
    [entry] = PolicyProposals(PolicyVersions(database)).history()
    assert entry.proposal is None and entry.published_by == "cli" and entry.in_force
    # the next change continues the serial: replicas see it move
    (policy_copy / "50-test.cedar").write_text(ALLOW)
    proposals = PolicyProposals(PolicyVersions(database))
    new = load_bundle(policy_copy, CATALOG).version
    proposal = proposals.propose(policy_files(policy_copy), new, "alice", "x")
    proposals.approve(proposal.id, "bob", "", nothing)
    active = PolicyVersions(database).active()
    assert active is not None and active.serial == 8 and store.check()


def test_a_decision_that_loses_the_race_changes_nothing(
    database: Database, policy_copy: Path
) -> None:
    """Approve and reject checked the proposal pending, then wrote: a proposal withdrawn while
    its approval was validated went into force all the same, recorded rejected (a review of
    the console found it), and two approvals at once ended in a raw IntegrityError."""
    store = PolicyStore(policy_copy, CATALOG, PolicyVersions(database), publisher="replica")
    first = store.version
    proposals = PolicyProposals(PolicyVersions(database))
    (policy_copy / "50-test.cedar").write_text(ALLOW)
    second = load_bundle(policy_copy, CATALOG).version
    proposal = proposals.propose(policy_files(policy_copy), second, "alice", "why not")

    def withdrawn_meanwhile(files: dict[str, str], version: str) -> None:
        proposals.reject(proposal.id, "alice", "withdrawn")  # while bob's approval is checked

    with pytest.raises(ProposalError, match="rejected by alice meanwhile"):
        proposals.approve(proposal.id, "bob", "", withdrawn_meanwhile)
    assert not store.check() and store.version == first
    assert proposals.get(proposal.id).state == "rejected"

    again = proposals.propose(policy_files(policy_copy), second, "alice", "once more")

    def approved_meanwhile(files: dict[str, str], version: str) -> None:
        if not hasattr(approved_meanwhile, "done"):
            approved_meanwhile.done = True  # type: ignore[attr-defined]
            proposals.approve(again.id, "carol", "first", nothing)  # another approver, first

    with pytest.raises(ProposalError, match="approved by carol meanwhile"):
        proposals.approve(again.id, "bob", "second", approved_meanwhile)
    assert store.check() and store.version == second
    decided = proposals.get(again.id)
    assert (decided.state, decided.decided_by, decided.note) == ("approved", "carol", "first")
