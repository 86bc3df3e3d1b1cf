"""Who may do what to a lead: the Cedar decisions of the joint office's workflow (issue 18).

The rules are ``policies/60-workflow.cedar``; the vocabulary is in ``jointgate.cedarschema``
(entity ``Lead``, context ``LeadContext``, one action per :class:`kernel.workflow.Action`).
A decision is made with the policy set of the engine in force *when it is asked*: the caller
passes the engine it got from the policy store just now (``PolicyStore.engine``, replaced on
reload, ``policies/reload.py``), never one it kept.

    decision = decide(engine, principal, Action.VERIFY, LeadFacts(...), ActionContext(...))
    if not decision.allowed: ...

Every request is decided in one batch (:func:`decide_many`: a page of leads for ``readLead``).
The forbids of ``90-forbid.cedar`` apply as to every action: purpose ``audit`` only for
auditors, break-glass only with a justification.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cedarpy

from kernel.types import Declaration, Principal
from kernel.workflow import Action
from policies.engine import NS, PolicyEngine

log = logging.getLogger("jointgate.policies")

__all__ = ["ActionContext", "ActionDecision", "LeadFacts", "decide", "decide_many"]


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What the policies see of a lead (``""``: not there yet)."""

    source_agency: str
    submitted_by: str = ""
    state: str = ""
    category: str = ""
    major: bool = False
    verified_by_agency: str = ""
    referred_to: str = ""
    case_number: str = ""

    def entity(self, uid: str) -> dict[str, Any]:
        return {
            "uid": {"type": f"{NS}::Lead", "id": uid},
            "attrs": {
                "source_agency": self.source_agency,
                "submitted_by": self.submitted_by,
                "state": self.state,
                "category": self.category,
                "major": self.major,
                "verified_by_agency": self.verified_by_agency,
                "referred_to": self.referred_to,
                "case_number": self.case_number,
            },
            "parents": [],
        }


@dataclass(frozen=True, slots=True)
class ActionContext:
    """Why the caller acts on one lead: the declaration, and how it relates to the lead's case
    (computed by the office from the case registry and the teams)."""

    purpose: str
    has_case: bool = False
    has_justification: bool = False
    declared_case_matches: bool = False
    assigned: bool = False
    break_glass: bool = False

    @classmethod
    def of(
        cls,
        declaration: Declaration,
        *,
        declared_case_matches: bool = False,
        assigned: bool = False,
    ) -> ActionContext:
        return cls(
            purpose=declaration.purpose.value,
            has_case=bool(declaration.case_id),
            has_justification=bool(declaration.justification or declaration.break_glass),
            declared_case_matches=declared_case_matches,
            assigned=assigned,
            break_glass=declaration.break_glass is not None,
        )

    def as_cedar(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "has_case": self.has_case,
            "has_justification": self.has_justification,
            "declared_case_matches": self.declared_case_matches,
            "assigned": self.assigned,
            "break_glass": self.break_glass,
        }


@dataclass(frozen=True, slots=True)
class ActionDecision:
    allowed: bool
    policies: tuple[str, ...] = ()  # the @ids that decided (permits, or the forbids that won)


def decide(
    engine: PolicyEngine,
    principal: Principal,
    action: Action,
    lead: LeadFacts,
    context: ActionContext,
) -> ActionDecision:
    """Whether ``principal`` may do ``action`` to ``lead`` in ``context``."""
    return decide_many(engine, principal, action, [(lead, context)])[0]


def decide_many(
    engine: PolicyEngine,
    principal: Principal,
    action: Action,
    leads: Sequence[tuple[LeadFacts, ActionContext]],
) -> list[ActionDecision]:
    """One decision per ``(lead, context)``, in one Cedar batch of the distinct ones.

    A lead is nothing to the policies but its facts (its entity's id is a position in the
    batch), so pairs with equal facts and context are decided alike and asked once: a list of
    thousands of leads costs as many decisions as it has distinct (source, state, verifier,
    referral, case, ...) combinations, not one per lead."""
    if not leads:
        return []
    distinct = list(dict.fromkeys(leads))
    entities = [_user(principal), *(lead.entity(str(i)) for i, (lead, _) in enumerate(distinct))]
    requests = [
        {
            "principal": {"type": f"{NS}::User", "id": principal.subject},
            "action": {"type": f"{NS}::Action", "id": action.value},
            "resource": {"type": f"{NS}::Lead", "id": str(i)},
            "context": context.as_cedar(),
        }
        for i, (_, context) in enumerate(distinct)
    ]
    bundle = engine.bundle
    results = cedarpy.is_authorized_batch(requests, bundle.policy_set, entities)
    out = []
    for result in results:
        for error in result.diagnostics.errors:
            log.warning("policy evaluation error: %s", error)
        names = sorted(
            bundle.policies[r].name for r in result.diagnostics.reasons if r in bundle.policies
        )
        out.append(ActionDecision(bool(result.allowed), tuple(names)))
    if len(distinct) == len(leads):
        return out
    decided = dict(zip(distinct, out, strict=True))
    return [decided[pair] for pair in leads]


def _user(principal: Principal) -> dict[str, Any]:
    return {
        "uid": {"type": f"{NS}::User", "id": principal.subject},
        "attrs": {
            "agency": principal.agency,
            "roles": sorted(principal.roles),
            "clearance": principal.clearance,
        },
        "parents": [],
    }
