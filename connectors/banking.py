"""Banking (人民银行/银行): signed POST batch endpoints. See docs/sandbox.md."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import orjson

from connectors.base import Grouped, each_chunk, group
from connectors.http import HTTPConnector, TransportSettings, expect
from connectors.signing import sign_headers
from connectors.transport import Transport

KEYS_PER_CALL = 500

# kind -> (endpoint, request key list name, lookup field -> request key list name, response list)
_ENDPOINTS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("account", "number"): ("/v1/accounts:batchGet", "numbers", "accounts"),
    ("account", "holder_id"): ("/v1/accounts:byHolder", "holder_ids", "accounts"),
    ("transaction", "account_number"): (
        "/v1/transactions:search",
        "account_numbers",
        "transactions",
    ),
    ("report", "account_number"): ("/v1/reports:byAccount", "account_numbers", "reports"),
}


class BankingConnector(HTTPConnector):
    agency = "banking"
    lookups: ClassVar[dict[str, tuple[str, ...]]] = {
        "account": ("number", "holder_id"),
        "transaction": ("id", "account_number"),
        "report": ("id", "account_number"),
    }

    def __init__(
        self,
        settings: TransportSettings,
        key_id: str,
        key: bytes,
        transport: Transport | None = None,
    ) -> None:
        super().__init__(settings, functools.partial(sign_headers, key_id, key), transport)

    async def fetch_many(
        self,
        kind: str,
        by: str,
        keys: Sequence[str],
        fields: frozenset[str],
        limit_per_key: int | None = None,
    ) -> Grouped:
        self.check_lookup(kind, by)
        path, key_list, result_list = _ENDPOINTS[(kind, by)]
        body: dict[str, Any] = {"fields": sorted(fields | {by})}
        if limit_per_key is not None:
            body["limit_per_account"] = limit_per_key
        pages = await each_chunk(
            keys,
            KEYS_PER_CALL,
            lambda chunk: self._all_pages(path, {**body, key_list: list(chunk)}, result_list),
        )
        return group([self.record(kind, row) for rows in pages for row in rows], by, keys)

    async def _all_pages(
        self, path: str, body: dict[str, Any], result_list: str
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            # lookups, so safe to retry; each attempt is signed afresh (new nonce, timestamp)
            payload = await self.http.post(path, orjson.dumps(body), idempotent=True)
            rows.extend(expect(self.agency, payload, result_list))
            token = payload.get("next_page_token")
            if not token or "limit_per_account" in body:
                return rows  # with a per-account limit the first page holds the newest N
            body = {**body, "page_token": token}
