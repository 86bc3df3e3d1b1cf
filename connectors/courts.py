"""Courts (法院): an Apollo Federation v2 subgraph: cases by number through its list field
``courtCases(caseNumbers:)``, cases and defaulters by party through ``_entities``.

Our records use snake_case field names for every agency. The courts' GraphQL names are camelCase,
so every selection asks for each field under its snake_case alias (``case_number: caseNumber``):
the answer comes back in our names, with no renaming per value, and the schema layer never knows
which protocol an agency speaks.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import orjson

from connectors.base import Grouped, Record, chunked, group
from connectors.errors import AgencyProtocolError
from connectors.http import HTTPConnector

PATH = "/graphql"
KEYS_PER_CALL = 200
_CASE_LABELS = "handling_code: handlingCode sensitivity linked_cases: linkedCases"
# Embedded object lists and their sub-fields (for "parties" selected as a whole).
_EMBEDDED = {
    "parties": ("partyId", "name", "partyType", "role"),
    "judgments": ("documentNumber", "decidedOn", "outcome", "amount", "public"),
    "enforcement": ("caseNumber", "filedOn", "amountOwed", "amountPaid", "status", "measures"),
}
_DEFAULTER = ("listed_on", "obligation", "performance")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def aliased(name: str) -> str:
    """``caseNumber`` asked for as ``case_number: caseNumber``; a name without capitals as is."""
    ours = snake(name)
    return name if ours == name else f"{ours}: {name}"


@functools.lru_cache(maxsize=256)  # one selection per distinct set of requested fields
def selection(fields: frozenset[str]) -> str:
    """GraphQL selection text, in our names, for snake_case (possibly dotted) field names."""
    top: dict[str, list[str]] = {}
    for f in sorted(fields):
        head, _, sub = f.partition(".")
        top.setdefault(camel(head), [])
        if sub:
            top[camel(head)].append(camel(sub))
    parts = []
    for name, subs in top.items():
        if name in _EMBEDDED:
            inner = " ".join(aliased(s) for s in subs or _EMBEDDED[name])
            parts.append(f"{aliased(name)} {{ {inner} }}")
        else:
            parts.append(aliased(name))
    return " ".join(parts)


@functools.lru_cache(maxsize=256)
def _cases_query(fields: frozenset[str]) -> str:
    """The query for cases by number with these fields (a few distinct sets per schema)."""
    sel = selection(fields | {"case_number"})
    return f"query($n: [String!]!) {{ courtCases(caseNumbers: $n) {{ {sel} {_CASE_LABELS} }} }}"


class CourtsConnector(HTTPConnector):
    agency = "courts"
    lookups: ClassVar[dict[str, tuple[str, ...]]] = {
        "court_case": ("case_number", "party_ids"),
        "defaulter": ("party_id",),
    }

    async def fetch_many(
        self,
        kind: str,
        by: str,
        keys: Sequence[str],
        fields: frozenset[str],
        limit_per_key: int | None = None,
    ) -> Grouped:
        self.check_lookup(kind, by)
        out: Grouped = {k: [] for k in keys}
        for chunk in chunked(keys, KEYS_PER_CALL):
            if kind == "court_case" and by == "case_number":
                out.update(await self._cases(chunk, fields))
            else:
                out.update(await self._by_litigant(kind, chunk, fields))
        return out

    async def _cases(self, keys: Sequence[str], fields: frozenset[str]) -> Grouped:
        """Cases by number through the subgraph's own list field ``courtCases(caseNumbers:)``
        (null for an unknown number): the same answer as ``_entities`` over ``CourtCase``
        representations, for less work in the courts system (no entity resolution per case)."""
        body = {
            "query": _cases_query(fields),
            "variables": {"n": list(keys)},
        }
        cases = self._data(await self.http.post(PATH, orjson.dumps(body), idempotent=True))
        found = cases.get("courtCases")
        if not isinstance(found, list):
            raise AgencyProtocolError(self.agency, "GraphQL response has no courtCases list")
        records = [self.record("court_case", c) for c in found if c]
        return group(records, "case_number", keys)

    async def _by_litigant(self, kind: str, keys: Sequence[str], fields: frozenset[str]) -> Grouped:
        if kind == "court_case":
            inner = f"cases {{ {selection(fields | {'case_number'})} {_CASE_LABELS} }}"
        else:
            inner = f"defaulter {{ {' '.join(aliased(camel(f)) for f in _DEFAULTER)} }}"
        reps = [{"__typename": "Litigant", "partyId": k} for k in keys]
        entities = await self._entities(f"... on Litigant {{ partyId {inner} }}", reps)
        out: Grouped = {k: [] for k in keys}
        for entity in entities:
            if not entity:
                continue
            party = entity.get("partyId")
            if kind == "court_case":
                rows = entity.get("cases") or ()
                out.setdefault(party, []).extend(self.record(kind, r) for r in rows)
            elif entity.get("defaulter"):
                row = {"party_id": party, **entity["defaulter"]}
                row.update(handling_code="H0", sensitivity=0, linked_cases=[])
                out.setdefault(party, []).append(self.record(kind, row))
        return out

    async def _entities(self, fragment: str, reps: list[dict[str, str]]) -> list[Any]:
        body = {
            "query": f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ {fragment} }} }}",
            "variables": {"r": reps},
        }
        payload = await self.http.post(PATH, orjson.dumps(body), idempotent=True)  # a query
        entities = self._data(payload).get("_entities")
        if not isinstance(entities, list):
            raise AgencyProtocolError(self.agency, "GraphQL response has no _entities list")
        return entities

    def _data(self, payload: Any) -> dict[str, Any]:
        """The ``data`` of a GraphQL answer without errors."""
        if not isinstance(payload, dict):
            raise AgencyProtocolError(self.agency, "GraphQL response is not an object")
        if payload.get("errors"):
            detail = "; ".join(str(e.get("message")) for e in payload["errors"])[:300]
            raise AgencyProtocolError(self.agency, f"GraphQL errors: {detail}")
        data = payload.get("data")
        return data if isinstance(data, dict) else {}


__all__ = ["CourtsConnector", "Record", "group"]
