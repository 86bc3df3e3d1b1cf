"""Stage 6, authorize: decide every field an operation touches, once, before any agency call.

Need-to-know is decided on the attributes of each field (owner, category, sensitivity), of the
caller (agency, roles, clearance), of the request (purpose, case, justification, break-glass)
and on the caller's active joint-team memberships. The result is a :class:`Plan`:

- the agency fields each entity type may request (denied fields are never asked for);
- the (type, field) pairs that answer ``FORBIDDEN_FIELD``;
- per type, which attributes the object builder withholds or masks;
- the identifiers shown inside records (disclosures, for the audit record and the volume
  caps);
- in a joint team's context (``in_team``), how records outside the team's scope are treated
  (``Plan.outside``): as by the plan of the same context without the team, whose build rules
  and denied links it carries (schema/scope.py decides each record's scope as it arrives).

Plans are cached by (policy version, principal digest, decision context, operation), so a warm
operation costs one dictionary lookup; a policy or team change changes the key. Record-level
rules are decided once per distinct label set, in batches, and cached the same way.

Before any of that, :meth:`Authorizer.visibility` tells the analyze stage which fields the
caller could ever be shown, under any declaration it can make (gateway/visibility.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from connectors.base import Labels
from gateway.analyze import Operation
from gateway.visibility import TEAM_CASE, Visibility, declarable
from kernel.errors import GatewayError
from kernel.lru import LRU
from kernel.types import (
    BuildRules,
    Declaration,
    Disclosure,
    FieldDecision,
    Outcome,
    Outside,
    Plan,
    Principal,
)
from policies.engine import DecisionContext, RecordDecision, RecordLabels
from policies.teams import TeamDirectory
from schema.base import Shape
from schema.catalog import FieldResource
from schema.scope import scope_fields

RecordFilter = Callable[[Sequence[Labels]], list[RecordDecision]]


class PolicyEngine(Protocol):
    """Decides batches of fields and record label sets (policies.engine.PolicyEngine)."""

    @property
    def version(self) -> str: ...

    def decide(
        self, principal: Principal, context: DecisionContext, resources: Sequence[FieldResource]
    ) -> list[FieldDecision]: ...

    def decide_records(
        self, principal: Principal, context: DecisionContext, labels: Sequence[RecordLabels]
    ) -> list[RecordDecision]: ...

    def principal_key(self, principal: Principal) -> tuple[object, ...]:
        """All that decisions can depend on of ``principal`` (a cache key)."""

    def reachable(
        self, principal: Principal, contexts: Sequence[DecisionContext]
    ) -> frozenset[tuple[str, str]] | None:
        """Fields allowed or masked in at least one of ``contexts``; None: every field."""


class OpenPolicy:
    """Allows every field and record: need-to-know switched off.

    Only for measuring what enforcement costs (bench/) and for tests of other stages; the
    gateway never runs with it unless ``[policy] enforcement = "off"`` is configured.
    """

    version = "open"

    def decide(
        self, principal: Principal, context: DecisionContext, resources: Sequence[FieldResource]
    ) -> list[FieldDecision]:
        return [FieldDecision(Outcome.ALLOW, policies=("open",)) for _ in resources]

    def decide_records(
        self, principal: Principal, context: DecisionContext, labels: Sequence[RecordLabels]
    ) -> list[RecordDecision]:
        return [RecordDecision(True, ("open",)) for _ in labels]

    def principal_key(self, principal: Principal) -> tuple[object, ...]:
        return ()

    def reachable(
        self, principal: Principal, contexts: Sequence[DecisionContext]
    ) -> frozenset[tuple[str, str]] | None:
        return None


class PolicyHolder(Protocol):
    """Where the engine in force is found; reloading swaps it (policies/reload.py)."""

    @property
    def engine(self) -> PolicyEngine: ...


@dataclass
class StaticPolicies:
    engine: PolicyEngine


class Forbidden(GatewayError):
    code = "FORBIDDEN_FIELD"
    status = 403


class Authorizer:
    def __init__(
        self,
        policies: PolicyHolder,
        teams: TeamDirectory | None = None,
        *,
        reject: bool = False,
        cache_size: int = 4096,
    ) -> None:
        self.policies = policies
        self.teams = teams
        self.reject = reject
        self._plans: LRU[tuple[object, ...], Plan] = LRU(cache_size)
        self._records: LRU[tuple[object, ...], RecordDecision] = LRU(cache_size * 4)
        self._visible: LRU[tuple[object, ...], Visibility] = LRU(cache_size)
        # one per field set, shared by principals alike
        self._visibilities: LRU[str, Visibility] = LRU(max(16, cache_size // 16))

    def context(self, principal: Principal, declaration: Declaration) -> DecisionContext:
        teams = self.teams.memberships(principal.subject) if self.teams is not None else []
        ids = tuple(sorted(t.id for t in teams))
        return _context(declaration, ids, {case for t in teams for case in t.cases})

    def visibility(self, principal: Principal, context: DecisionContext) -> Visibility:
        """The fields ``principal`` could be shown under any declaration it can make.

        Decided over every context the caller controls (:func:`gateway.visibility.declarable`)
        with the facts it does not (its active teams: ``context.teams``; every team covers a
        case, so with a team it can declare one of the team's cases), in one batch, and cached
        per (policy version, everything of the principal decisions can depend on, teams):
        principals alike in all of these are decided alike.
        """
        engine = self.policies.engine
        key = (engine.version, engine.principal_key(principal), context.teams)
        found = self._visible.get(key)
        if found is not None:
            return found
        team_cases = {TEAM_CASE} if context.teams else set()
        contexts = {
            c.key: c
            for d in declarable(TEAM_CASE if context.teams else None)
            for c in (_context(d, context.teams, team_cases),)
        }
        found = Visibility.of(engine.reachable(principal, list(contexts.values())))
        found = self._visibilities.setdefault(found.key, found)  # shared by principals alike
        self._visible[key] = found
        return found

    def plan(self, principal: Principal, context: DecisionContext, operation: Operation) -> Plan:
        engine = self.policies.engine
        key = (engine.version, principal.digest, context.key, operation.cache_key)
        plan = self._plans.get(key)
        if plan is None:
            plan = _plan(engine, principal, context, operation)
            if context.in_team:  # the team grant covers only its scope (schema/scope.py)
                alone = _plan(engine, principal, replace(context, in_team=False), operation)
                plan = _scoped(plan, alone, operation)
            self._plans[key] = plan
        paths = (
            sorted(
                t.path
                for t in operation.touched
                if (t.resource.type_name, t.resource.field_name) in plan.denied
                and not t.consulted  # read by a resolver that answers without it
            )
            if self.reject and plan.denied
            else ()
        )
        if paths:
            raise Forbidden(
                "The operation asks for fields not available to you for the declared purpose: "
                + ", ".join(paths)
            )
        return plan

    def record_filter(self, principal: Principal, context: DecisionContext) -> RecordFilter:
        """Decides records' visibility by label set: once per distinct set, in one batch."""
        engine = self.policies.engine
        base = (engine.version, principal.digest, context.key)
        cache = self._records
        case_id = context.case_id
        # this filter's own decisions by label values: it lives as long as one request (the
        # pipeline makes one filter per request), so nothing here outlives its principal
        decided: dict[tuple[str, str, int, bool], RecordDecision] = {}

        def decide(labels: Sequence[Labels]) -> list[RecordDecision]:
            values = [
                (lab.agency, lab.handling, lab.sensitivity, case_id in lab.cases) for lab in labels
            ]
            try:
                return [decided[v] for v in values]
            except KeyError:
                pass
            keys = [RecordLabels(*v) for v in values]
            # answered from this dict: remembering new decisions may evict the batch's own
            found = {k: d for k in keys if (d := cache.get((base, k))) is not None}
            missing = sorted({k for k in keys if k not in found}, key=repr)
            if missing:
                for k, d in zip(
                    missing, engine.decide_records(principal, context, missing), strict=True
                ):
                    found[k] = d
                    cache[(base, k)] = d
            decisions = [found[k] for k in keys]
            decided.update(zip(values, decisions, strict=True))
            return decisions

        return decide


def _context(
    declaration: Declaration, teams: tuple[str, ...], team_cases: Collection[str]
) -> DecisionContext:
    case = declaration.case_id or ""
    return DecisionContext(
        purpose=declaration.purpose.value,
        case_id=case,
        justification=declaration.justification or declaration.break_glass or "",
        in_team=bool(case) and case in team_cases,
        teams=teams,
        break_glass=declaration.break_glass is not None,
    )


def _plan(
    engine: PolicyEngine, principal: Principal, context: DecisionContext, operation: Operation
) -> Plan:
    resources: dict[tuple[str, str], FieldResource] = {}
    for t in operation.touched:
        resources.setdefault((t.resource.type_name, t.resource.field_name), t.resource)
    decisions = dict(
        zip(resources, engine.decide(principal, context, list(resources.values())), strict=True)
    )
    source_fields: dict[str, set[str]] = {entity: set() for entity in operation.entities}
    for t in operation.touched:
        decision = decisions[(t.resource.type_name, t.resource.field_name)]
        if t.entity is not None and decision.outcome is not Outcome.DENY:
            source_fields.setdefault(t.entity, set()).update(t.needs)
    build_rules: dict[str, tuple[set[str], dict[str, str]]] = {}
    for (type_name, _), resource in resources.items():
        decision = decisions[(type_name, resource.field_name)]
        if resource.shape is Shape.LINK or decision.outcome is Outcome.ALLOW:
            continue
        withheld, masks = build_rules.setdefault(type_name, (set(), {}))
        if decision.outcome is Outcome.DENY:
            withheld.add(resource.python_name)
        elif decision.mask is not None:
            masks[resource.python_name] = decision.mask
    flags = sorted(
        {f for d in decisions.values() if d.outcome is not Outcome.DENY for f in d.flags}
    )
    return Plan(
        policy_version=engine.version,
        decisions=decisions,
        source_fields={e: frozenset(f) for e, f in source_fields.items()},
        denied=frozenset(k for k, d in decisions.items() if d.outcome is Outcome.DENY),
        build_rules={t: BuildRules(frozenset(w), m) for t, (w, m) in build_rules.items()},
        flags=tuple(flags),
        disclosures=_disclosures(operation, decisions),
    )


def _disclosures(
    operation: Operation,
    decisions: dict[tuple[str, str], FieldDecision],
    alone: dict[tuple[str, str], FieldDecision] | None = None,
) -> tuple[Disclosure, ...]:
    """The identifier fields the operation shows (not denied), in clear or masked. With a
    team (``alone``: the decisions without it), a field shown in clear in scope and masked
    outside it carries the mask: every value shown in clear is still recorded, and a masked
    one is not taken for an identifier."""
    found = []
    for shown in operation.identifiers:
        resource = shown.resource
        key = (resource.type_name, resource.field_name)
        decision = decisions[key]
        if decision.outcome is Outcome.DENY:
            continue
        mask = decision.mask if decision.outcome is Outcome.MASK else None
        if mask is None and alone is not None and alone[key].outcome is Outcome.MASK:
            mask = alone[key].mask
        found.append(Disclosure(shown.keys, resource.identity, mask))
    return tuple(found)


def _scoped(team: Plan, alone: Plan, operation: Operation) -> Plan:
    """The plan of a team's request: ``team`` for records in the team's scope, ``alone`` (the
    same context without the team) for the others. Asks agencies for what either needs and
    for the fields that place a record in or outside the scope (``@entity(refers=...,
    part_of=...)``); records, per field path that returns records, what records outside the
    scope withhold or mask there, for the audit record."""
    source_fields = {
        entity: team.source_fields.get(entity, frozenset())
        | alone.source_fields.get(entity, frozenset())
        | scope_fields(entity)
        for entity in {*team.source_fields, *alone.source_fields, *operation.entities}
    }
    returning = {t.path for t in operation.touched if t.resource.shape is Shape.LINK}
    withheld: defaultdict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    masked: defaultdict[str, list[str]] = defaultdict(list)
    refused: dict[str, tuple[str, ...]] = {}
    for t in operation.touched:
        key = (t.resource.type_name, t.resource.field_name)
        inside, outside = team.decisions[key], alone.decisions[key]
        if inside.outcome is Outcome.DENY:
            continue
        if outside.outcome is inside.outcome and outside.mask == inside.mask:
            continue
        denied = outside.policies or ("default-deny",)
        if t.resource.shape is Shape.LINK and outside.outcome is Outcome.DENY:
            refused[t.path] = denied
        if t.entity is None:
            continue
        at = _returned_at(t.path, returning)
        if outside.outcome is Outcome.DENY:
            withheld[at].append((t.path, denied))
        elif outside.outcome is Outcome.MASK and (
            inside.outcome is Outcome.ALLOW or inside.mask != outside.mask
        ):
            masked[at].append(t.path)
    return replace(
        team,
        source_fields=source_fields,
        disclosures=_disclosures(operation, team.decisions, alone.decisions),
        outside=Outside(
            build_rules=alone.build_rules,
            denied=alone.denied - team.denied,
            refused=refused,
            withheld={at: tuple(sorted(set(paths))) for at, paths in withheld.items()},
            masked={at: tuple(sorted(set(paths))) for at, paths in masked.items()},
        ),
    )


def _returned_at(path: str, returning: Collection[str]) -> str:
    """The path of the field that returned the record holding the field at ``path``: its
    nearest ancestor that is a link (``enterprise.bankAccounts`` for
    ``enterprise.bankAccounts.balance``; ``enterprise`` for
    ``enterprise.shareholders.holderId``)."""
    at = path.rpartition(".")[0]
    while at and at not in returning:
        at = at.rpartition(".")[0]
    return at
