"""Why a principal gets each field of a query, and which records: what ``jointgate policy
explain`` prints and the console's simulator shows (moved here from commands/policy/explain.py so
that both floors use one reckoning).

Fields are decided by the ``read`` policies (allow, mask, deny); records, before any of their
fields, by the ``readRecord`` policies (40-records.cedar) on their labels: a hidden record is left
out whole, so an explanation that stopped at the fields would call a field "masked" that the user
never sees.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from gateway.analyze import Analyzer
from kernel.errors import QueryInvalid
from kernel.types import Principal
from policies.engine import DecisionContext, PolicyEngine, RecordDecision, RecordLabels
from policies.impact import Decided, decide_paths
from schema.catalog import FieldResource
from schema.unified import GatewaySchema, build_schema

HANDLING_CODES = ("H0", "H1", "H2", "H3")


def targets(
    catalog: Any, target: str, schema: GatewaySchema | None = None
) -> list[tuple[str, FieldResource]]:
    """(path or field, resource) of every field a field name or a whole query touches, in the
    whole schema (``schema``: the one already built, else a new one)."""
    if target.lstrip().startswith(("{", "query", "fragment")):
        try:
            operation = Analyzer(schema or build_schema()).analyze(target, None)
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
