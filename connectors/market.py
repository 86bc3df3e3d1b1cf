"""Market regulation (市场监管): REST/JSON with cursor paging. See docs/sandbox.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from connectors.base import Grouped, Page, each_chunk, group
from connectors.http import HTTPConnector, expect

PATH = "/registry/v2/enterprises"
KEYS_PER_CALL = 100
PAGE_LIMIT = 200


class MarketConnector(HTTPConnector):
    agency = "market"
    lookups: ClassVar[dict[str, tuple[str, ...]]] = {"enterprise": ("uscc", "legal_rep_id")}

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
            lambda chunk: self._all_items({by: ",".join(chunk), "fields": wanted}),
        )
        return group([self.record(kind, row) for rows in pages for row in rows], by, keys)

    async def _all_items(self, params: dict[str, str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": str(PAGE_LIMIT)}
            if cursor:
                query["cursor"] = cursor
            payload = await self.http.get(PATH, query)
            rows.extend(expect(self.agency, payload, "items"))
            cursor = payload.get("next_cursor")
            if not cursor:
                return rows

    async def search(
        self, kind: str, text: str, fields: frozenset[str], first: int, after: str | None
    ) -> Page:
        self.check_lookup(kind, "uscc")
        limit = min(first, PAGE_LIMIT)
        query = {"name_contains": text, "limit": str(limit), "fields": ",".join(sorted(fields))}
        if after:
            query["cursor"] = after
        payload = await self.http.get(PATH, query)
        records = [self.record(kind, row) for row in expect(self.agency, payload, "items")]
        total = payload.get("total")
        return Page(records, payload.get("next_cursor"), int(total) if total is not None else None)
