"""An in-memory connector: the test double that ships with the connector contract.

Like ``httpx.MockTransport``, it lets tests and local experiments run the whole gateway without
agency systems, while keeping the contract honest: it returns only the requested fields (plus key
and labels) and records every call, so tests can assert batching and data minimisation::

    police = MemoryConnector("police", {"person": ("id_number",)}, {"person": [{...}, ...]})
    ...
    assert police.calls == [("person", "id_number", 3, frozenset({"name"}))]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import LABEL_FIELDS, Connector, Grouped, Page, group
from connectors.errors import AgencyUnavailable

Call = tuple[str, str, int, frozenset[str]]


def project(
    row: Mapping[str, Any], fields: frozenset[str], always: Sequence[str]
) -> dict[str, Any]:
    """Keep only ``fields`` (dotted paths select inside embedded lists) and ``always``."""
    out: dict[str, Any] = {k: row[k] for k in always if k in row}
    nested: dict[str, set[str]] = {}
    for f in fields:
        head, _, sub = f.partition(".")
        if sub:
            nested.setdefault(head, set()).add(sub)
        elif head in row:
            out[head] = row[head]
    for head, subs in nested.items():
        if head in out or head not in row:
            continue
        items = row[head]
        out[head] = None if items is None else [{k: i[k] for k in subs if k in i} for i in items]
    return out


class MemoryConnector(Connector):
    def __init__(
        self,
        agency: str,
        lookups: Mapping[str, tuple[str, ...]],
        records: Mapping[str, list[dict[str, Any]]],
    ) -> None:
        self.agency = agency  # type: ignore[misc]
        self.lookups = lookups  # type: ignore[misc]
        self._records = records
        self._indexes: dict[tuple[str, str], dict[Any, list[dict[str, Any]]]] = {}
        self.calls: list[Call] = []
        self.down = False

    async def fetch_many(
        self,
        kind: str,
        by: str,
        keys: Sequence[str],
        fields: frozenset[str],
        limit_per_key: int | None = None,
    ) -> Grouped:
        self.check_lookup(kind, by)
        self.calls.append((kind, by, len(keys), fields))
        if self.down:
            raise AgencyUnavailable(self.agency, "down (test switch)")
        always = (self.lookups[kind][0], by, *LABEL_FIELDS)
        index = self._index(kind, by)
        seen: set[int] = set()
        rows = []
        for key in dict.fromkeys(keys):
            for row in index.get(key, ()):
                if id(row) not in seen:
                    seen.add(id(row))
                    rows.append(project(row, fields, always))
        grouped = group([self.record(kind, r) for r in rows], by, keys)
        if limit_per_key is not None:
            grouped = {k: v[:limit_per_key] for k, v in grouped.items()}
        return grouped

    async def search(
        self, kind: str, text: str, fields: frozenset[str], first: int, after: str | None
    ) -> Page:
        self.calls.append((kind, "search", 1, fields))
        key = self.lookups[kind][0]
        hits = sorted(
            (r for r in self._records.get(kind, ()) if text in str(r.get("name", ""))),
            key=lambda r: str(r[key]),
        )
        start = int(after) if after else 0
        page = hits[start : start + first]
        rows = [project(r, fields, (key, *LABEL_FIELDS)) for r in page]
        more = start + first < len(hits)
        return Page(
            [self.record(kind, r) for r in rows], str(start + first) if more else None, len(hits)
        )

    def _index(self, kind: str, by: str) -> dict[Any, list[dict[str, Any]]]:
        """Rows of a kind by the value of one field (each element, for list fields)."""
        index = self._indexes.get((kind, by))
        if index is None:
            index = {}
            for row in self._records.get(kind, ()):
                value = row.get(by)
                for v in value if isinstance(value, list) else (value,):
                    index.setdefault(v, []).append(row)
            self._indexes[(kind, by)] = index
        return index
