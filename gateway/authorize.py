"""Stage 3, authorize: decide every field an operation touches, once, before any agency call.

The policy engine answers for a batch of field resources; the resulting :class:`Plan` says which
agency fields each entity type may request. Plans are cached by (policy version, principal
digest, purpose, case, operation), so a warm operation costs one dictionary lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

from gateway.analyze import Operation, Touched
from gateway.types import Declaration, FieldDecision, Outcome, Plan, Principal


class PolicyEngine(Protocol):
    """Decides a batch of field resources for one principal and declaration."""

    @property
    def version(self) -> str: ...

    def decide(
        self, principal: Principal, declaration: Declaration, touched: Sequence[Touched]
    ) -> list[FieldDecision]: ...


class OpenPolicy:
    """Allows every field to every authenticated caller who declared a valid purpose.

    This is the skeleton's engine: need-to-know by Cedar policies replaces it (issue #3). It is
    never the default of ``jointgate serve`` once that lands.
    """

    version = "open-0"

    def decide(
        self, principal: Principal, declaration: Declaration, touched: Sequence[Touched]
    ) -> list[FieldDecision]:
        return [FieldDecision(Outcome.ALLOW, policies=("open",)) for _ in touched]


class Authorizer:
    def __init__(self, engine: PolicyEngine, cache_size: int = 4096) -> None:
        self.engine = engine
        self._plans: OrderedDict[tuple[str, ...], Plan] = OrderedDict()
        self._cache_size = cache_size

    def plan(self, principal: Principal, declaration: Declaration, operation: Operation) -> Plan:
        key = (
            self.engine.version,
            principal.digest,
            declaration.purpose.value,
            declaration.case_id or "",
            operation.cache_key,
        )
        cached = self._plans.get(key)
        if cached is not None:
            self._plans.move_to_end(key)
            return cached
        plan = self._decide(principal, declaration, operation)
        self._plans[key] = plan
        if len(self._plans) > self._cache_size:
            self._plans.popitem(last=False)
        return plan

    def _decide(self, principal: Principal, declaration: Declaration, operation: Operation) -> Plan:
        decisions = self.engine.decide(principal, declaration, operation.touched)
        by_field = {
            (t.resource.type_name, t.resource.field_name): d
            for t, d in zip(operation.touched, decisions, strict=True)
        }
        if any(d.outcome is not Outcome.ALLOW for d in decisions):
            raise NotImplementedError("field-level deny and mask arrive with the policy engine")
        return Plan(
            policy_version=self.engine.version,
            decisions=by_field,
            source_fields=dict(operation.fields),
        )
