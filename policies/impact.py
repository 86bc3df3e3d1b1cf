"""What a policy change changes: each field decided under two engines (the set in force and a
draft or another version), and the fields whose outcome differs. ``jointgate policy explain``
and ``diff`` decide paths here; the console's impact preview compares recorded query shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kernel.types import Outcome, Principal
from policies.engine import DecisionContext, PolicyEngine
from schema.catalog import FieldResource

#: (path or field, outcome, mask, deciding policies)
Decided = tuple[str, str, str | None, tuple[str, ...]]


def decide_paths(
    engine: PolicyEngine,
    principal: Principal,
    context: DecisionContext,
    paths: Sequence[tuple[str, FieldResource]],
) -> list[Decided]:
    """(path, outcome, mask, deciding policies) of each field."""
    decisions = engine.decide(principal, context, [r for _, r in paths])
    return [
        (p, d.outcome.value, d.mask, d.policies) for (p, _), d in zip(paths, decisions, strict=True)
    ]


def shown(outcome: str, mask: str | None) -> str:
    """``mask(phone)`` for a masked field with a mask kind, else the outcome."""
    return f"{outcome}({mask})" if outcome == Outcome.MASK.value and mask else outcome


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    before: str  # as :func:`shown`
    after: str
    policies: tuple[str, ...]  # those deciding it after the change


def compare(before: Sequence[Decided], after: Sequence[Decided]) -> list[FieldChange]:
    """The fields whose outcome (or mask) differs between two decisions of the same paths."""
    return [
        FieldChange(path, shown(o1, m1), shown(o2, m2), p2)
        for (path, o1, m1, _), (_, o2, m2, p2) in zip(before, after, strict=True)
        if (o1, m1) != (o2, m2)
    ]


def field_changes(
    old: PolicyEngine,
    new: PolicyEngine,
    principal: Principal,
    context: DecisionContext,
    paths: Sequence[tuple[str, FieldResource]],
) -> list[FieldChange]:
    """The fields of ``paths`` whose outcome for this principal and context ``new`` changes."""
    return compare(
        decide_paths(old, principal, context, paths), decide_paths(new, principal, context, paths)
    )
