"""Dual control of the policy set in force: one policy administrator proposes, another approves.

A proposal holds a complete, validated policy set (files and version hash), who proposed it,
when, why, and its *base*: the version in force when it was proposed. A second policy
administrator approves it (``jointgate policy approve``), which validates it again and puts it
in force on every replica through the same activation as before (:meth:`PolicyVersions.publish`,
the replicas' change notification and periodic re-check); or rejects it. A rollback is a
proposal of an earlier version's stored files, approved like any other.

Refused: approving one's own proposal (the subjects, from verified tokens, compared exactly);
deciding a proposal that is not pending; approving a proposal whose base is no longer in force:
it was reviewed as a change *to* its base, and another change has been made since, so its
proposer must propose it again against the version now in force (``jointgate policy diff``
shows what that would change). Proposing the version in force, or one already pending, is
refused as well.

The history (``jointgate policy history``) lists every version: proposed by, when, why;
approved or rejected by, when, with the note; when it was activated and when superseded. Sets
published before dual control (``jg_policy_sets`` rows without a proposal) are listed as such.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from policies.db import Conflict
from policies.reload import BOOTSTRAP, PolicyVersions

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
CHANGE, ROLLBACK = "change", "rollback"

_COLUMNS = (
    "id, version, base, kind, proposed_by, proposed_at, reason, state, decided_by, decided_at, note"
)


class ProposalError(Exception):
    """A proposal that cannot be made or decided; the message says why."""


@dataclass(frozen=True, slots=True)
class Proposal:
    id: str
    version: str
    base: str  # the version in force when it was proposed ("" for none)
    kind: str  # change, rollback, bootstrap
    proposed_by: str
    proposed_at: float
    reason: str
    state: str  # pending, approved, rejected
    decided_by: str | None
    decided_at: float | None
    note: str | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One version as it came to be in force (or not): its proposal, and its activations."""

    version: str
    proposal: Proposal | None  # None: published before dual control
    published_at: float
    published_by: str
    activations: tuple[tuple[float, float | None], ...]  # (activated at, superseded at or None)
    in_force: bool


class PolicyProposals:
    def __init__(self, versions: PolicyVersions) -> None:
        self.versions = versions
        self.db = versions.db

    def propose(
        self, files: dict[str, str], version: str, by: str, reason: str, kind: str = CHANGE
    ) -> Proposal:
        """Store a validated set as a pending proposal against the version in force."""
        if not reason.strip():
            raise ProposalError("say why (--why): the reason is kept in the policy history")
        active = self.versions.active()
        base = active.version if active is not None else ""
        if version == base:
            raise ProposalError(f"version {version} is in force already")
        for pending in self.pending():
            if pending.version == version:
                raise ProposalError(
                    f"version {version} is proposed already ({pending.id}, by"
                    f" {pending.proposed_by}): approve or reject that proposal"
                )
        proposal_id = uuid.uuid4().hex[:12]
        self.db.transaction(
            [
                (
                    f"INSERT INTO jg_policy_proposals ({_COLUMNS}, files) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?)",
                    (proposal_id, version, base, kind, by, time.time(), reason.strip(), PENDING,
                     json.dumps(files, sort_keys=True)),
                )
            ]
        )  # fmt: skip
        return self.get(proposal_id)

    def rollback(self, version: str, by: str, reason: str) -> Proposal:
        """A proposal to put an earlier version back in force: its stored files."""
        if not self.db.query("SELECT 1 FROM jg_policy_sets WHERE version = ?", (version,)):
            raise ProposalError(
                f"no version {version} in the history (`jointgate policy history` lists them)"
            )
        return self.propose(self.versions.files(version), version, by, reason, ROLLBACK)

    def approve(
        self, proposal_id: str, by: str, note: str, check: Callable[[dict[str, str], str], None]
    ) -> Proposal:
        """Put a pending proposal in force; ``check`` validates its files (raises if not)."""
        proposal = self._pending(proposal_id)
        if by == proposal.proposed_by:
            raise ProposalError(
                f"{by} proposed {proposal_id}: a proposal is approved by another policy"
                " administrator (dual control)"
            )
        active = self.versions.active()
        current = active.version if active is not None else ""
        if current != proposal.base:
            raise ProposalError(
                f"{proposal_id} was proposed against version {proposal.base or '(none)'}, and"
                f" version {current or '(none)'} is in force now: it must be proposed again"
                " against the version in force (reject this one; `jointgate policy diff` shows"
                " what it would change)"
            )
        files = self._files(proposal_id)
        check(files, proposal.version)
        decided = (
            "UPDATE jg_policy_proposals SET state = ?, decided_by = ?, decided_at = ?, note = ?"
            " WHERE id = ? AND state = ?",
            (APPROVED, by, time.time(), note, proposal_id, PENDING),
        )
        try:
            published = self.versions.publish(
                files, proposal.version, by, proposal=proposal_id, then=[decided]
            )
        except Conflict:
            raise ProposalError(self._decided_meanwhile(proposal_id)) from None
        if not published:  # its version was put in force meanwhile: by another approval
            raise ProposalError(self._decided_meanwhile(proposal_id))
        return self.get(proposal_id)

    def reject(self, proposal_id: str, by: str, reason: str) -> Proposal:
        """Close a pending proposal without putting it in force (its proposer may withdraw it)."""
        if not reason.strip():
            raise ProposalError("say why (--why): the reason is kept in the policy history")
        self._pending(proposal_id)
        try:
            self.db.transaction(
                [
                    (
                        "UPDATE jg_policy_proposals SET state = ?, decided_by = ?, decided_at = ?,"
                        " note = ? WHERE id = ? AND state = ?",
                        (REJECTED, by, time.time(), reason.strip(), proposal_id, PENDING),
                    )
                ],
                guarded=[0],
            )
        except Conflict:
            raise ProposalError(self._decided_meanwhile(proposal_id)) from None
        return self.get(proposal_id)

    def _decided_meanwhile(self, proposal_id: str) -> str:
        """Why a decision lost the race to another one (approve against reject, or twice)."""
        now = self.get(proposal_id)
        if now.state != PENDING:
            return f"{proposal_id} was {now.state} by {now.decided_by} meanwhile: nothing changed"
        return "another policy version was put in force at the same moment: nothing changed"

    def get(self, proposal_id: str) -> Proposal:
        found = self._select("WHERE id = ?", (proposal_id,))
        if not found:
            raise ProposalError(f"no policy proposal {proposal_id}")
        return found[0]

    def pending(self) -> list[Proposal]:
        return self._select("WHERE state = ? ORDER BY proposed_at", (PENDING,))

    def history(self) -> list[HistoryEntry]:
        """Every proposal and every set published before dual control, newest first."""
        active = self.versions.active()
        activations = self.db.query(
            "SELECT serial, version, proposal, activated_at FROM jg_policy_activations"
            " ORDER BY serial"
        )
        spans: dict[str, list[tuple[float, float | None]]] = {}
        for i, (_, version, proposal, at) in enumerate(activations):
            until = float(activations[i + 1][3]) if i + 1 < len(activations) else None
            spans.setdefault(str(proposal or version), []).append((float(at), until))
        proposals = self._select("ORDER BY proposed_at")
        proposed = {p.version for p in proposals}
        entries = []
        for version, at, by in self.versions.history():
            if version not in proposed:
                entries.append(
                    HistoryEntry(version, None, at, by, tuple(spans.get(version, ())),
                                 active is not None and active.version == version)
                )  # fmt: skip
        last_of: dict[str, str] = {}
        for p in proposals:
            if p.id in spans:
                last_of[p.version] = p.id
        for p in proposals:
            in_force = (
                active is not None
                and active.version == p.version
                and last_of.get(p.version) == p.id
            )
            entries.append(
                HistoryEntry(p.version, p, p.proposed_at, p.proposed_by,
                             tuple(spans.get(p.id, ())), in_force)
            )  # fmt: skip
        return sorted(entries, key=lambda e: e.published_at, reverse=True)

    def _pending(self, proposal_id: str) -> Proposal:
        proposal = self.get(proposal_id)
        if proposal.state != PENDING:
            raise ProposalError(f"{proposal_id} was {proposal.state} by {proposal.decided_by}")
        return proposal

    def _files(self, proposal_id: str) -> dict[str, str]:
        rows = self.db.query("SELECT files FROM jg_policy_proposals WHERE id = ?", (proposal_id,))
        files: dict[str, str] = json.loads(str(rows[0][0]))
        return files

    def _select(self, where: str, params: tuple[object, ...] = ()) -> list[Proposal]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM jg_policy_proposals {where}",  # noqa: S608 - constants
            params,
        )
        return [
            Proposal(
                id=str(r[0]), version=str(r[1]), base=str(r[2]), kind=str(r[3]),
                proposed_by=str(r[4]), proposed_at=float(r[5]), reason=str(r[6]),
                state=str(r[7]), decided_by=None if r[8] is None else str(r[8]),
                decided_at=None if r[9] is None else float(r[9]),
                note=None if r[10] is None else str(r[10]),
            )
            for r in rows
        ]  # fmt: skip


__all__ = ["BOOTSTRAP", "PolicyProposals", "Proposal", "ProposalError"]
