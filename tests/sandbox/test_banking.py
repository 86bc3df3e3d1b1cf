"""The banking API over real HTTP: signed batch endpoints, paging tokens, signature refusals."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from connectors import signing
from kernel.identifiers import luhn_check_digit
from sandbox.banking import DEFAULT_KEY, DEFAULT_KEY_ID
from sandbox.world import World


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
