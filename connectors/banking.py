"""Banking (人民银行/银行): signed POST batch endpoints. See docs/sandbox.md."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import orjson

from connectors.base import Grouped, each_chunk, group
from connectors.errors import AgencyProtocolError
from connectors.http import HTTPConnector, TransportSettings, expect
from connectors.signing import sign_headers
from connectors.transport import Transport

KEYS_PER_CALL = 500
LEDGERS_PER_CALL = 50  # /v1/transactions:columns takes at most 50 accounts
_LEDGER_KEYS = frozenset(
    ("account_number", "time", "amount", "out", "counterparty_account", "counterparty_bank")
)


@runtime_checkable
class FundFlows(Protocol):
    """What the banking system computes over its transactions, beyond the record lookups of
    the connector contract: the per-counterparty aggregates fund tracing reads
    (``/v1/transactions:aggregate``), an account's transactions in columns for the flow
    signals (``/v1/transactions:columns``), and transactions in a date range. The HTTP
    connector and the in-process double (sandbox/memory.py) both answer it."""

    async def aggregate(
        self,
        numbers: Sequence[str],
        *,
        bank: str | None,
        start: str | None,
        end: str | None,
        direction: str,
        min_amount: float,
        limit_per_account: int,
    ) -> list[dict[str, Any]]:
        """Rows ``{account_number, counterparty_account, counterparty_name,
        counterparty_bank, direction, sum, count, first, last}`` (docs/sandbox.md)."""
        ...

    async def ledgers(
        self, numbers: Sequence[str], *, start: str | None, end: str | None, max_rows: int
    ) -> list[dict[str, Any]]:
        """The known accounts' transactions in columns, each row the wire form
        ``signals.model.Ledger.from_wire`` reads (this floor does not import signals)."""
        ...

    async def transactions(
        self,
        numbers: Sequence[str],
        fields: frozenset[str],
        *,
        start: str | None,
        end: str | None,
        limit_per_account: int | None,
    ) -> Grouped:
        """``fetch_many("transaction", "account_number", ...)`` over the days from ``start``
        to ``end`` (ISO dates, inclusive; None: open)."""
        ...


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

    async def transactions(
        self,
        numbers: Sequence[str],
        fields: frozenset[str],
        *,
        start: str | None,
        end: str | None,
        limit_per_account: int | None,
    ) -> Grouped:
        path, key_list, result_list = _ENDPOINTS[("transaction", "account_number")]
        body: dict[str, Any] = {"fields": sorted(fields | {"account_number"})}
        body.update(_range(start, end))
        if limit_per_account is not None:
            body["limit_per_account"] = limit_per_account
        pages = await each_chunk(
            numbers,
            KEYS_PER_CALL,
            lambda chunk: self._all_pages(path, {**body, key_list: list(chunk)}, result_list),
        )
        rows = [self.record("transaction", row) for rows in pages for row in rows]
        return group(rows, "account_number", numbers)

    async def aggregate(
        self,
        numbers: Sequence[str],
        *,
        bank: str | None,
        start: str | None,
        end: str | None,
        direction: str,
        min_amount: float,
        limit_per_account: int,
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {
            "direction": direction, "min_amount": min_amount,
            "limit_per_account": limit_per_account, **_range(start, end),
        }  # fmt: skip
        if bank is not None:
            body["bank"] = bank

        async def one(chunk: Sequence[str]) -> list[dict[str, Any]]:
            payload = await self.http.post(
                "/v1/transactions:aggregate",
                orjson.dumps({**body, "account_numbers": list(chunk)}),
                idempotent=True,
            )
            return expect(self.agency, payload, "rows")

        return [row for rows in await each_chunk(numbers, KEYS_PER_CALL, one) for row in rows]

    async def ledgers(
        self, numbers: Sequence[str], *, start: str | None, end: str | None, max_rows: int
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"max_rows": max_rows, **_range(start, end)}

        async def one(chunk: Sequence[str]) -> list[dict[str, Any]]:
            payload = await self.http.post(
                "/v1/transactions:columns",
                orjson.dumps({**body, "account_numbers": list(chunk)}),
                idempotent=True,
            )
            rows = expect(self.agency, payload, "ledgers")
            if not all(isinstance(r, dict) and r.keys() >= _LEDGER_KEYS for r in rows):
                raise AgencyProtocolError(self.agency, "a ledger lacks its columns")
            return rows

        return [x for found in await each_chunk(numbers, LEDGERS_PER_CALL, one) for x in found]

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


def _range(start: str | None, end: str | None) -> dict[str, str]:
    """The ``from`` and ``to`` of a request body, those given."""
    return {k: v for k, v in (("from", start), ("to", end)) if v is not None}
