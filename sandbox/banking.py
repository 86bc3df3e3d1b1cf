"""The banking (人民银行/银行) system: signed POST batch endpoints with JSON bodies.

Every request is signed as :mod:`connectors.signing` describes; a timestamp more than 300 s from
the server's clock, a nonce seen before within that window, an unknown key id or a wrong signature
is refused with 401. Errors are ``{"code": 40001 | 40101 | 40401 | 50001, "msg": ...}`` with the
matching HTTP status. At most 500 keys per call. See docs/sandbox.md.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors import signing
from kernel.identifiers import check_account_number
from sandbox.faults import Faults
from sandbox.fields import RecordShape, Selection
from sandbox.flows import DIRECTIONS, RangeError, aggregate, check_range, in_range, not_of_bank
from sandbox.http import ApiError, build_app, check_keys, check_party_id, json_response
from sandbox.ledgers import ledger_row
from sandbox.paging import decode_token, encode_token
from sandbox.world import Record, World

__all__ = [
    "ACCOUNT",
    "DEFAULT_KEY",
    "DEFAULT_KEY_ID",
    "REPORT",
    "TRANSACTION",
    "NonceCache",
    "SignatureVerifier",
    "create_app",
    "render_error",
]

DEFAULT_KEY_ID = "jointgate"
DEFAULT_KEY = b"sandbox-bank-key"
MAX_KEYS = 500
MAX_LEDGER_KEYS = 50  # accounts per /v1/transactions:columns call
MAX_LEDGER_ROWS = 200_000
LEDGER_CACHE = 512  # ledgers kept per app (the world does not change under a running app)
DEFAULT_LIMIT_PER_ACCOUNT = 50
MAX_LIMIT_PER_ACCOUNT = 500
TIMESTAMP_WINDOW_S = 300

ACCOUNT = RecordShape(
    "account",
    "number",
    dict.fromkeys(
        (
            "holder_id",
            "holder_name",
            "holder_type",
            "bank",
            "branch",
            "opened_on",
            "balance",
            "currency",
            "status",
        )
    ),
)
TRANSACTION = RecordShape(
    "transaction",
    "id",
    dict.fromkeys(
        (
            "account_number",
            "time",
            "amount",
            "direction",
            "channel",
            "counterparty_name",
            "counterparty_account",
            "memo",
        )
    ),
)
REPORT = RecordShape(
    "report",
    "id",
    dict.fromkeys(
        ("account_number", "reported_on", "pattern", "amount", "reporting_bank", "status")
    ),
)

_CODES = {400: 40001, 401: 40101, 404: 40401}


def render_error(status: int, message: str) -> Response:
    """The banking error format: a numeric code (HTTP status x 100 + 1) and a message."""
    code = 50001 if status >= 500 else _CODES.get(status, 40001)
    return json_response({"code": code, "msg": message}, status)


# -------------------------------------------------------------------------------- signatures


class NonceCache:
    """Nonces seen recently, bounded in time and in size.

    A nonce only needs remembering while a request carrying it could still pass the timestamp
    check, i.e. for ``2 x window`` seconds after it was first seen. Beyond ``max_size`` live
    nonces the oldest are forgotten first.
    """

    def __init__(self, window_s: float, max_size: int = 100_000) -> None:
        self.ttl = 2 * window_s
        self.max_size = max_size
        self._expiry: deque[tuple[float, str]] = deque()
        self._seen: set[str] = set()

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, nonce: str, now: float) -> bool:
        """Remember ``nonce``; False if it was already seen (a replay)."""
        while self._expiry and (self._expiry[0][0] <= now or len(self._expiry) >= self.max_size):
            self._seen.discard(self._expiry.popleft()[1])
        if nonce in self._seen:
            return False
        self._seen.add(nonce)
        self._expiry.append((now + self.ttl, nonce))
        return True


class SignatureVerifier:
    """Checks the ``X-JG-*`` signature headers of a request against the known keys."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        window_s: int = TIMESTAMP_WINDOW_S,
        clock: Callable[[], float] = time.time,
        max_nonces: int = 100_000,
    ) -> None:
        self.keys = dict(keys)
        self.window_s = window_s
        self.clock = clock
        self.nonces = NonceCache(window_s, max_nonces)

    def verify(self, request: Request, body: bytes) -> None:
        """Raise 401 unless the request is signed with a known key, fresh and not replayed."""
        headers = request.headers
        names = (signing.KEY_ID, signing.TIMESTAMP, signing.NONCE, signing.SIGNATURE)
        missing = [name for name in names if not headers.get(name)]
        if missing:
            raise ApiError(401, f"missing signature header(s): {', '.join(missing)}")
        key_id, timestamp, nonce, given = (headers[name] for name in names)
        key = self.keys.get(key_id)
        if key is None:
            raise ApiError(401, f"unknown key id {key_id!r}")
        try:
            signed_at = int(timestamp)
        except ValueError:
            raise ApiError(401, f"{signing.TIMESTAMP} must be unix seconds") from None
        now = self.clock()
        if abs(now - signed_at) > self.window_s:
            raise ApiError(401, f"timestamp is more than {self.window_s} s from the server's clock")
        if len(nonce) > 128:
            raise ApiError(401, "nonce is too long")
        if not given.isascii():  # hmac.compare_digest refuses non-ASCII strings
            raise ApiError(401, "signature does not match")
        if not any(
            signing.verify(key, request.method, target, timestamp, nonce, body, given)
            for target in _targets(request)
        ):
            raise ApiError(401, "signature does not match")
        # Only a correctly signed request may use up a nonce.
        if not self.nonces.add(nonce, now):
            raise ApiError(401, "nonce already used")


def _targets(request: Request) -> list[str]:
    """``/path?query`` as the client may have signed it: as sent on the wire, and decoded."""
    scope = request.scope
    query = scope.get("query_string", b"").decode("latin-1")
    suffix = f"?{query}" if query else ""
    decoded = scope["path"] + suffix
    raw = scope.get("raw_path")
    if raw is None:
        return [decoded]
    as_sent = raw.decode("latin-1") + suffix
    return [as_sent] if as_sent == decoded else [as_sent, decoded]


# -------------------------------------------------------------------------------- request bodies


def _parse_body(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "the body must be JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "the body must be a JSON object")
    return payload


def _keys(payload: Mapping[str, Any], name: str, check: Callable[[str], str]) -> list[str]:
    values = payload.get(name)
    if not isinstance(values, list):
        raise ApiError(400, f"{name} must be a list of strings")
    return check_keys(values, check, limit=MAX_KEYS)


def _selection(payload: Mapping[str, Any], shape: RecordShape) -> Selection:
    fields = payload.get("fields")
    if fields is not None and (
        not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)
    ):
        raise ApiError(400, "fields must be a list of strings")
    return shape.select(fields)


def _int(payload: Mapping[str, Any], name: str, default: int, minimum: int, maximum: int) -> int:
    value = payload.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be an integer from {minimum} to {maximum}")
    return value


def _range(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    try:
        return check_range(payload.get("from"), payload.get("to"))
    except RangeError as exc:
        raise ApiError(400, str(exc)) from None


def _amount(payload: Mapping[str, Any], name: str) -> float:
    value = payload.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ApiError(400, f"{name} must be a number of at least 0")
    if value == float("inf"):
        raise ApiError(400, f"{name} must be finite")
    return float(value)


def _page_offset(token: Any) -> int:
    """How many transactions per account earlier pages returned (0 without a token)."""
    if token is None:
        return 0
    if isinstance(token, str):
        offset = decode_token(token, "page_token").get("offset")
        if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0:
            return offset
    raise ApiError(400, "invalid page_token")


# -------------------------------------------------------------------------------- the app

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def create_app(
    world: World,
    faults: Faults | None = None,
    key: bytes = DEFAULT_KEY,
    key_id: str = DEFAULT_KEY_ID,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The banking system's ASGI app over ``world``, accepting requests signed with ``key``."""
    verifier = SignatureVerifier({key_id: key}, clock=clock)

    def signed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint that verifies the signature, parses the JSON body and runs ``handler``."""

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            verifier.verify(request, body)
            return json_response(handler(_parse_body(body)))

        return endpoint

    def batch_get(payload: dict[str, Any]) -> dict[str, Any]:
        numbers = _keys(payload, "numbers", check_account_number)
        select = _selection(payload, ACCOUNT)
        return {
            "accounts": [select(world.accounts[n]) for n in numbers if n in world.accounts],
            "missing": [n for n in numbers if n not in world.accounts],
        }

    def by_holder(payload: dict[str, Any]) -> dict[str, Any]:
        holders = _keys(payload, "holder_ids", check_party_id)
        select = _selection(payload, ACCOUNT)
        return {
            "accounts": [
                select(world.accounts[n])
                for holder in holders
                for n in world.accounts_by_holder.get(holder, ())
            ]
        }

    def transactions(payload: dict[str, Any]) -> dict[str, Any]:
        numbers = _keys(payload, "account_numbers", check_account_number)
        select = _selection(payload, TRANSACTION)
        limit = _int(
            payload, "limit_per_account", DEFAULT_LIMIT_PER_ACCOUNT, 1, MAX_LIMIT_PER_ACCOUNT
        )
        offset = _page_offset(payload.get("page_token"))
        start, end = _range(payload)
        found: list[Record] = []
        more = False
        for number in numbers:
            history = in_range(world.transactions_by_account.get(number, ()), start, end)
            found.extend(select(tx) for tx in history[offset : offset + limit])
            more = more or len(history) > offset + limit
        return {
            "transactions": found,
            "next_page_token": encode_token({"offset": offset + limit}) if more else None,
        }

    def reports(payload: dict[str, Any]) -> dict[str, Any]:
        numbers = _keys(payload, "account_numbers", check_account_number)
        select = _selection(payload, REPORT)
        return {
            "reports": [select(r) for n in numbers for r in world.reports_by_account.get(n, ())]
        }

    def aggregated(payload: dict[str, Any]) -> dict[str, Any]:
        numbers = _keys(payload, "account_numbers", check_account_number)
        start, end = _range(payload)
        bank = payload.get("bank")
        if bank is not None:
            if not isinstance(bank, str) or not bank:
                raise ApiError(400, "bank must be a bank's name")
            stray = not_of_bank(world, numbers, bank)
            if stray is not None:
                raise ApiError(400, f"account {stray} is not an account of {bank}")
        direction = payload.get("direction", "both")
        if direction not in DIRECTIONS:
            raise ApiError(400, f"direction must be one of {', '.join(DIRECTIONS)}")
        rows = aggregate(
            world, numbers, start=start, end=end, direction=direction,
            min_amount=_amount(payload, "min_amount"),
            limit_per_account=_int(
                payload, "limit_per_account", DEFAULT_LIMIT_PER_ACCOUNT, 1, MAX_LIMIT_PER_ACCOUNT
            ),
        )  # fmt: skip
        return {"rows": rows}

    ledgers: dict[tuple[str, str | None, str | None, int], dict[str, Any]] = {}

    def columns(payload: dict[str, Any]) -> dict[str, Any]:
        values = payload.get("account_numbers")
        if not isinstance(values, list):
            raise ApiError(400, "account_numbers must be a list of strings")
        numbers = check_keys(values, check_account_number, limit=MAX_LEDGER_KEYS)
        start, end = _range(payload)
        max_rows = _int(payload, "max_rows", MAX_LEDGER_ROWS, 1, MAX_LEDGER_ROWS)
        out = []
        for number in numbers:
            if number not in world.accounts:
                continue
            key = (number, start, end, max_rows)
            row = ledgers.get(key)
            if row is None:
                if len(ledgers) >= LEDGER_CACHE:
                    ledgers.pop(next(iter(ledgers)))  # the oldest built goes first
                row = ledgers[key] = ledger_row(world, number, start, end, max_rows)
            out.append(row)
        return {"ledgers": out}

    routes = [
        Route(path, signed(handler), methods=["POST"])
        for path, handler in (
            ("/v1/accounts:batchGet", batch_get),
            ("/v1/accounts:byHolder", by_holder),
            ("/v1/transactions:search", transactions),
            ("/v1/reports:byAccount", reports),
            ("/v1/transactions:aggregate", aggregated),
            ("/v1/transactions:columns", columns),
        )
    ]
    return build_app(routes, render_error, faults)
