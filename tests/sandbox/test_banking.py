"""The banking API over real HTTP: signed batch endpoints, paging tokens, signature refusals."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from connectors import signing
from kernel.identifiers import luhn_check_digit
from sandbox.banking import DEFAULT_KEY, DEFAULT_KEY_ID
from sandbox.ledgers import ledger_row
from sandbox.world import World
from signals.model import Ledger


def _card(payload: str) -> str:
    """A valid card number: ``payload`` plus its Luhn check digit."""
    return payload + luhn_check_digit(payload)


async def _post(
    client: httpx.AsyncClient,
    base: str,
    path: str,
    payload: Any,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = orjson.dumps(payload)
    if headers is None:
        headers = signing.sign_headers(DEFAULT_KEY_ID, DEFAULT_KEY, "POST", path, body)
    return await client.post(
        base + path, content=body, headers={**headers, "content-type": "application/json"}
    )


def _check_error(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "msg"}
    assert body["code"] == code
    assert body["msg"]


async def test_batch_get(client: httpx.AsyncClient, urls: dict[str, str], world: World) -> None:
    number = world.scenario["account_number"]
    unknown = _card("622202000000000000")
    response = await _post(
        client,
        urls["banking"],
        "/v1/accounts:batchGet",
        {"numbers": [number, unknown], "fields": ["holder_name", "status"]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["missing"] == [unknown]
    (account,) = body["accounts"]
    assert account["number"] == number
    assert account["holder_name"] == world.scenario["enterprise_name"]
    assert account["status"] == "冻结"
    assert set(account) == {
        "number",
        "holder_name",
        "status",
        "handling_code",
        "sensitivity",
        "linked_cases",
    }


async def test_accounts_by_holder(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    s = world.scenario
    response = await _post(
        client,
        urls["banking"],
        "/v1/accounts:byHolder",
        {"holder_ids": [s["enterprise_uscc"], s["person_id"]], "fields": ["holder_id"]},
    )
    numbers = {a["number"] for a in response.json()["accounts"]}
    assert s["account_number"] in numbers
    assert s["person_account_number"] in numbers
    expected = (
        world.accounts_by_holder[s["enterprise_uscc"]] + world.accounts_by_holder[s["person_id"]]
    )
    assert sorted(numbers) == sorted(expected)


async def test_transactions_page_newest_first(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    number = world.scenario["account_number"]
    payload: dict[str, Any] = {
        "account_numbers": [number],
        "fields": ["time", "amount", "direction"],
        "limit_per_account": 100,
    }
    seen: list[dict[str, Any]] = []
    pages = 0
    while True:
        response = await _post(client, urls["banking"], "/v1/transactions:search", payload)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["transactions"]) <= 100
        seen += body["transactions"]
        pages += 1
        if body["next_page_token"] is None:
            break
        payload["page_token"] = body["next_page_token"]
    assert pages == 4  # 326 transactions
    assert [t["id"] for t in seen] == [t["id"] for t in world.transactions_by_account[number]]
    times = [t["time"] for t in seen]
    assert times == sorted(times, reverse=True)
    assert set(seen[0]) == {
        "id",
        "time",
        "amount",
        "direction",
        "handling_code",
        "sensitivity",
        "linked_cases",
    }


async def test_reports_by_account(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    response = await _post(
        client,
        urls["banking"],
        "/v1/reports:byAccount",
        {"account_numbers": [world.scenario["account_number"]]},
    )
    (report,) = response.json()["reports"]
    assert report["pattern"] == "分散转入、集中转出"
    assert report["id"] == world.scenario["report_id"]


async def test_request_errors(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    base = urls["banking"]
    numbers = [_card(f"622202{i:012d}") for i in range(501)]  # valid, nobody's
    response = await _post(client, base, "/v1/accounts:batchGet", {"numbers": numbers[:500]})
    assert response.status_code == 200
    assert len(response.json()["missing"]) == 500
    _check_error(
        await _post(client, base, "/v1/accounts:batchGet", {"numbers": numbers}), 400, 40001
    )
    _check_error(
        await _post(client, base, "/v1/accounts:batchGet", {"numbers": ["123"]}), 400, 40001
    )
    _check_error(await _post(client, base, "/v1/accounts:batchGet", [1, 2]), 400, 40001)
    _check_error(
        await _post(client, base, "/v1/accounts:batchGet", {"numbers": [], "fields": ["pin"]}),
        400,
        40001,
    )
    _check_error(
        await _post(
            client,
            base,
            "/v1/transactions:search",
            {"account_numbers": [], "page_token": "garbage"},
        ),
        400,
        40001,
    )
    _check_error(await _post(client, base, "/v1/nothing", {}), 404, 40401)


async def test_signature_refusals(client: httpx.AsyncClient, urls: dict[str, str]) -> None:
    base, path = urls["banking"], "/v1/accounts:batchGet"
    payload: dict[str, list[str]] = {"numbers": []}
    body = orjson.dumps(payload)

    def headers(
        key: bytes = DEFAULT_KEY,
        key_id: str = DEFAULT_KEY_ID,
        skew: int = 0,
        nonce: str | None = None,
    ) -> dict[str, str]:
        ts = str(int(time.time()) + skew)
        nonce = nonce or f"n-{time.monotonic_ns()}"
        return {
            signing.KEY_ID: key_id,
            signing.TIMESTAMP: ts,
            signing.NONCE: nonce,
            signing.SIGNATURE: signing.signature(key, "POST", path, ts, nonce, body),
        }

    good = headers()
    assert (await _post(client, base, path, payload, good)).status_code == 200
    _check_error(await _post(client, base, path, payload, good), 401, 40101)  # replayed nonce
    _check_error(await _post(client, base, path, payload, headers(key=b"wrong")), 401, 40101)
    _check_error(await _post(client, base, path, payload, headers(key_id="other")), 401, 40101)
    _check_error(await _post(client, base, path, payload, headers(skew=-301)), 401, 40101)
    _check_error(await _post(client, base, path, payload, headers(skew=400)), 401, 40101)
    _check_error(await _post(client, base, path, payload, {}), 401, 40101)
    latin1 = {k.encode(): v.encode() for k, v in headers().items()}
    latin1[signing.SIGNATURE.encode()] = b"\xe9" * 64  # not ASCII
    _check_error(await client.post(base + path, content=body, headers=latin1), 401, 40101)
    tampered = headers()
    response = await client.post(
        base + path, content=orjson.dumps({"numbers": ["x"]}), headers=tampered
    )
    _check_error(response, 401, 40101)
    # A refused request does not use up its nonce.
    fresh = headers(nonce="reusable-after-refusal")
    _check_error(await _post(client, base, path, {"numbers": ["x"]}, fresh), 401, 40101)
    assert (await _post(client, base, path, payload, fresh)).status_code == 200
    # Within the window the timestamp is accepted.
    assert (await _post(client, base, path, payload, headers(skew=-250))).status_code == 200


# ------------------------------------------------------------------ dates, aggregates, columns


def _days(world: World, number: str) -> list[str]:
    return sorted({tx["time"][:10] for tx in world.transactions_by_account[number]})


async def test_transactions_by_date_range_are_the_days_inclusive(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    number = world.scenario["account_number"]
    days = _days(world, number)
    start, end = days[1], days[-2]
    response = await _post(
        client, urls["banking"], "/v1/transactions:search",
        {"account_numbers": [number], "from": start, "to": end, "limit_per_account": 500,
         "fields": ["time"]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    got = {tx["id"] for tx in response.json()["transactions"]}
    expected = {
        tx["id"] for tx in world.transactions_by_account[number] if start <= tx["time"][:10] <= end
    }
    assert got == expected and 0 < len(got) < len(world.transactions_by_account[number])


async def test_bad_dates_are_refused_with_a_clear_message(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    number = world.scenario["account_number"]
    for path in (
        "/v1/transactions:search",
        "/v1/transactions:aggregate",
        "/v1/transactions:columns",
    ):
        for extra, says in (
            ({"from": "2026-13-01"}, "from must be an ISO date"),
            ({"to": "yesterday"}, "to must be an ISO date"),
            ({"from": "2026-05-02", "to": "2026-05-01"}, "from (2026-05-02) is after to"),
            ({"from": 20260501}, "from must be an ISO date"),
        ):
            response = await _post(
                client, urls["banking"], path, {"account_numbers": [number], **extra}
            )
            _check_error(response, 400, 40001)
            assert says in response.json()["msg"], (path, response.text)


def _expected_rows(world: World, number: str, direction: str, least: float) -> dict[Any, Any]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for tx in world.transactions_by_account[number]:
        wanted = direction in ("both", tx["direction"])
        if wanted and tx["counterparty_account"] and tx["amount"] >= least:
            groups.setdefault((tx["counterparty_account"], tx["direction"]), []).append(tx)
    return {key: (round(sum(t["amount"] for t in txs), 2), len(txs)) for key, txs in groups.items()}


async def test_aggregate_sums_per_counterparty_and_direction(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    number = world.scenario["account_number"]
    response = await _post(
        client, urls["banking"], "/v1/transactions:aggregate",
        {"account_numbers": [number], "direction": "both", "min_amount": 1000,
         "limit_per_account": 500},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    expected = _expected_rows(world, number, "both", 1000)
    assert {(r["counterparty_account"], r["direction"]): (r["sum"], r["count"]) for r in rows} == (
        expected
    )
    assert [r["sum"] for r in rows] == sorted((r["sum"] for r in rows), reverse=True)
    for row in rows:
        known = world.accounts.get(row["counterparty_account"])
        assert row["counterparty_bank"] == (known["bank"] if known else None)
        assert row["first"] <= row["last"]
    # the three accounts the scenario's money leaves to, largest first, and no more
    top = await _post(
        client, urls["banking"], "/v1/transactions:aggregate",
        {"account_numbers": [number], "direction": "out", "limit_per_account": 3},
    )  # fmt: skip
    outs = top.json()["rows"]
    assert {r["counterparty_account"] for r in outs} == set(
        world.scenario["outflow_account_numbers"]
    )
    assert {r["direction"] for r in outs} == {"out"}


async def test_aggregate_routed_to_a_bank_takes_only_its_accounts(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    number = world.scenario["account_number"]
    bank = world.accounts[number]["bank"]
    other = next(n for n, a in world.accounts.items() if a["bank"] != bank)
    ok = await _post(
        client, urls["banking"], "/v1/transactions:aggregate",
        {"account_numbers": [number], "bank": bank},
    )  # fmt: skip
    assert ok.status_code == 200, ok.text
    refused = await _post(
        client, urls["banking"], "/v1/transactions:aggregate",
        {"account_numbers": [number, other], "bank": bank},
    )  # fmt: skip
    _check_error(refused, 400, 40001)
    assert refused.json()["msg"] == f"account {other} is not an account of {bank}"
    for body, says in (
        ({"direction": "sideways"}, "direction must be one of in, out, both"),
        ({"min_amount": -1}, "min_amount must be a number of at least 0"),
        ({"limit_per_account": 0}, "limit_per_account must be an integer from 1 to 500"),
    ):
        bad = await _post(
            client, urls["banking"], "/v1/transactions:aggregate",
            {"account_numbers": [number], **body},
        )  # fmt: skip
        _check_error(bad, 400, 40001)
        assert bad.json()["msg"] == says


async def test_columns_are_the_ledger_contract(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    number = world.scenario["account_number"]
    unknown = _card("622202000000000000")
    response = await _post(
        client, urls["banking"], "/v1/transactions:columns",
        {"account_numbers": [number, unknown], "max_rows": 10},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    (row,) = response.json()["ledgers"]  # the unknown account is left out
    assert row == ledger_row(world, number, None, None, 10)
    ledger = Ledger.from_wire(row)
    assert len(ledger) == 10 and ledger.truncated
    assert ledger.time == sorted(ledger.time)  # oldest first
    # asked again (from the app's cache), the same
    again = await _post(
        client, urls["banking"], "/v1/transactions:columns",
        {"account_numbers": [number], "max_rows": 10},
    )  # fmt: skip
    assert again.json()["ledgers"] == [row]
    too_many = await _post(
        client, urls["banking"], "/v1/transactions:columns",
        {"account_numbers": [_card(f"6222020000000000{i:02d}") for i in range(51)]},
    )  # fmt: skip
    _check_error(too_many, 400, 40001)
