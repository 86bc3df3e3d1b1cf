"""Police (公安): REST/JSON with page-number paging. See docs/sandbox.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from connectors.base import Grouped, Record, each_chunk, group
from connectors.http import HTTPConnector, expect

_PATHS = {"person": "/api/v1/persons", "case": "/api/v1/cases"}
# lookup field (as in our records) -> query parameter the police API takes
_PARAMS = {
    "id_number": "id_number",
    "case_number": "case_number",
    "suspect_ids": "suspect_id",
    "enterprise_ids": "enterprise_uscc",
}
KEYS_PER_CALL = 100
PAGE_SIZE = 500


class PoliceConnector(HTTPConnector):
    agency = "police"
    lookups: ClassVar[dict[str, tuple[str, ...]]] = {
        "person": ("id_number",),
        "case": ("case_number", "suspect_ids", "enterprise_ids"),
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
        wanted = ",".join(sorted(fields | {by}))
        pages = await each_chunk(
            keys,
            KEYS_PER_CALL,
            lambda chunk: self._all_pages(_PATHS[kind], _PARAMS[by], chunk, wanted),
        )
        records = [self.record(kind, row) for rows in pages for row in rows]
        return group(records, by, keys)

    async def _all_pages(
        self, path: str, param: str, keys: Sequence[str], fields: str
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {param: list(keys), "fields": fields, "page": str(page)}
            params["page_size"] = str(PAGE_SIZE)
            payload = await self.http.get(path, params)
            batch = expect(self.agency, payload, "data")
            rows.extend(batch)
            if not batch or len(rows) >= int(payload.get("total", 0)):
                return rows
            page += 1


__all__ = ["PoliceConnector", "Record"]
