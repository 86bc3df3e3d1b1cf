"""A joint team's scope: which records of one request its team grant covers.

A member of a joint team who declares one of the team's cases (``in_team``) sees what the team
grant allows only about the case: its subjects (``RequestContext.case_subjects``: USCCs,
resident ID numbers, account numbers registered with the case) and the records that link to
them directly. Every other record is built as it would be without the team
(``kernel.types.Outside``). A record is in scope when

1. its labels link it to the declared case (``Labels.cases``), or
2. its own key is a subject, or
3. one of the fields its entity declares in ``@entity(refers=...)`` names a subject (an
   account's holder, an enterprise's legal representative or shareholder, a police case's
   suspects, enterprises or frozen accounts, a court case's parties, a transaction's
   counterparty account), or
4. it is part of a record in scope (``@entity(part_of=...)``: a transaction or a suspicious
   transaction report of an account in scope, however that account is in scope), or
5. it was reached through a link (not looked up at the root) and a subject's own record shown
   earlier in the same request names it (``refers``): the legal representative, shareholders
   or account holder a subject's record names. Only a subject's record adds to the scope this
   way, never a record that is merely in scope.

docs/policies.md ("Team scope") says the same for readers of policies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from connectors.base import Labels, Record
from kernel.types import BuildRules, Plan
from schema.base import SPECS_BY_NAME, TypeSpec

# the key under which a built object keeps its record when it was built as outside the scope
OUTSIDE = "_outside"


def outside(obj: Any) -> bool:
    """Whether ``obj`` was built as a record outside a team's scope (it keeps its record)."""
    values = getattr(obj, "__dict__", None)
    return values is not None and OUTSIDE in values


def refused(plan: Plan, link: tuple[str, str], source: Any) -> bool:
    """Whether the link (type, field) is not followed from ``source``: denied, or allowed only
    by the team grant and ``source`` built outside the team's scope (schema/unified.py guards
    every link with this; resolvers that consult a link's decision ask it too)."""
    if link in plan.denied:
        return True
    out = plan.outside
    return out is not None and link in out.denied and outside(source)


def rules_of(plan: Plan, source: Any) -> Mapping[str, BuildRules]:
    """The build rules of what hangs off ``source``: in a team's request, those without the
    team for a record outside its scope, else the plan's."""
    if plan.outside is not None and outside(source):
        return plan.outside.build_rules
    return plan.build_rules


class Scope:
    """One team request's scope: its subjects, its case, and what it learnt on the way (the
    identifiers the subjects' records name, the keys of records in scope others are part of).
    Lives as long as the request's loaders; nothing of it is cached beyond them."""

    __slots__ = ("case_id", "joined", "owners", "subjects")

    def __init__(self, subjects: frozenset[str], case_id: str) -> None:
        self.subjects = subjects
        self.case_id = case_id
        self.joined: set[str] = set()  # named by a subject's own record shown in this request
        self.owners: set[tuple[str, str]] = set()  # (type, key) of records shown in scope

    def covers(self, spec: TypeSpec, record: Record) -> bool:
        """In scope by the record alone (1-4 of the module's list)."""
        if self.case_id and self.case_id in record.labels.cases:
            return True
        subjects = self.subjects
        if record.key in subjects:
            return True
        data = record.data
        if spec.part_of is not None:
            owner_type, field = spec.part_of
            owner = data.get(field)
            if isinstance(owner, str) and (owner in subjects or (owner_type, owner) in self.owners):
                return True
        return any(value in subjects for value in referred(spec, data))

    def joins(self, record: Record) -> bool:
        """Named by a subject's record shown earlier in this request (5, for a link)."""
        return record.key in self.joined

    def labels(self, record: Record, covered: bool) -> Labels:
        """The labels the record-level rules decide on: a record in scope is linked to the case
        (``RecordLabels.linked_to_case``), whether its own labels say so or its links do."""
        labels = record.labels
        if covered and self.case_id and self.case_id not in labels.cases:
            return labels._replace(cases=(*labels.cases, self.case_id))
        return labels

    def shown(self, spec: TypeSpec, type_name: str, record: Record) -> None:
        """A record was shown in scope: records part of it are in scope, and if it is a
        subject's own, what it names joins the scope for the links that follow."""
        self.owners.add((type_name, record.key))
        if record.key in self.subjects:
            self.joined.update(referred(spec, record.data))


def referred(spec: TypeSpec, data: Mapping[str, Any]) -> Iterator[str]:
    """The identifiers a record names in its ``refers`` fields (a field holds one identifier
    or a list of them; ``list.field`` reads a field of each item of an embedded list)."""
    for path in spec.refers:
        head, _, sub = path.partition(".")
        value = data.get(head)
        if sub:
            items = value if isinstance(value, list) else ()
            values: Any = [item.get(sub) for item in items if isinstance(item, Mapping)]
        else:
            values = value if isinstance(value, list) else (value,)
        for one in values:
            if isinstance(one, str) and one:
                yield one


def scope_fields(type_name: str) -> frozenset[str]:
    """The agency-side fields a record of this type must carry to decide its scope."""
    spec = SPECS_BY_NAME.get(type_name)
    if spec is None:
        return frozenset()
    fields = set(spec.refers)
    if spec.part_of is not None:
        fields.add(spec.part_of[1])
    return frozenset(fields)


def check_declarations() -> list[str]:
    """What is wrong with the entities' ``refers`` and ``part_of`` (empty: nothing); the schema
    build refuses to start with any (schema/unified.py)."""
    problems = []
    for name, spec in sorted(SPECS_BY_NAME.items()):
        if spec.kind is None:
            if spec.refers or spec.part_of:
                problems.append(f"{name}: only entity types declare refers or part_of")
            continue
        for path in spec.refers:
            head, dot, sub = path.partition(".")
            if not head or (dot and not sub) or "." in sub:
                problems.append(f"{name}: refers {path!r} is not 'field' or 'list.field'")
            elif dot and not any(source == head for _, source, _ in spec.nested):
                problems.append(f"{name}: refers {path!r}: {head!r} is no embedded list")
        if spec.part_of is not None:
            owner, field = spec.part_of
            target = SPECS_BY_NAME.get(owner)
            if target is None or target.kind is None:
                problems.append(f"{name}: part_of names {owner!r}, which is no entity type")
            if not field or "." in field:
                problems.append(f"{name}: part_of field {field!r} is not a field name")
    return problems
