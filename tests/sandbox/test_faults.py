"""Fault knobs and request statistics, the same on all five agencies."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from connectors import signing
from sandbox import credit
from sandbox.banking import DEFAULT_KEY, DEFAULT_KEY_ID
from sandbox.faults import Faults
from sandbox.runner import AGENCIES
from sandbox.world import World
from tests.sandbox.test_credit import HEADERS as CREDIT_HEADERS
from tests.sandbox.test_credit import envelope as credit_envelope


async def _api_call(
    client: httpx.AsyncClient, urls: dict[str, str], agency: str, world: World
) -> httpx.Response:
    """One valid API request to ``agency``."""
    s = world.scenario
    base = urls[agency]
    if agency == "police":
        return await client.get(f"{base}/api/v1/persons", params={"id_number": s["person_id"]})
    if agency == "market":
        return await client.get(
            f"{base}/registry/v2/enterprises", params={"uscc": s["enterprise_uscc"]}
        )
    if agency == "banking":
        path = "/v1/accounts:batchGet"
        body = orjson.dumps({"numbers": [s["account_number"]]})
        headers = signing.sign_headers(DEFAULT_KEY_ID, DEFAULT_KEY, "POST", path, body)
        return await client.post(base + path, content=body, headers=headers)
    if agency == "credit":
        return await client.post(
            f"{base}{credit.PATH}",
            content=credit_envelope([s["person_id"]]),
            headers=CREDIT_HEADERS,
        )
    return await client.post(f"{base}/graphql", json={"query": "{ _service { sdl } }"})


def _assert_agency_error(agency: str, response: httpx.Response, status: int) -> None:
    """The failure is in the agency's own error format."""
    assert response.status_code == status, response.text
    body = response.json() if agency != "credit" else {}
    if agency == "police":
        assert body["error"]["code"] == "INTERNAL" and body["error"]["message"]
    elif agency == "market":
        assert response.headers["content-type"].startswith("application/problem+json")
        assert body["status"] == status and body["type"] == "about:blank"
    elif agency == "banking":
        assert body["code"] == 50001 and body["msg"]
    elif agency == "credit":
        assert "<soap:Fault><faultcode>soap:Server</faultcode>" in response.text
    else:
        expected = "SERVICE_UNAVAILABLE" if status == 503 else "INTERNAL_SERVER_ERROR"
        assert body["errors"][0]["extensions"]["code"] == expected


@pytest.mark.parametrize("agency", AGENCIES)
async def test_knobs_over_http(
    client: httpx.AsyncClient,
    urls: dict[str, str],
    world: World,
    clean_faults: dict[str, Faults],
    agency: str,
) -> None:
    base = urls[agency]
    response = await client.get(f"{base}/_sandbox/faults")
    assert response.json() == {"latency_ms": 0, "error_rate": 0.0, "down": False}
    assert (await _api_call(client, urls, agency, world)).status_code == 200

    response = await client.put(f"{base}/_sandbox/faults", json={"latency_ms": 150})
    assert response.json() == {"latency_ms": 150, "error_rate": 0.0, "down": False}
    started = time.perf_counter()
    assert (await _api_call(client, urls, agency, world)).status_code == 200
    assert time.perf_counter() - started >= 0.15

    await client.put(f"{base}/_sandbox/faults", json={"latency_ms": 0, "error_rate": 1})
    _assert_agency_error(agency, await _api_call(client, urls, agency, world), 500)

    await client.put(f"{base}/_sandbox/faults", json={"error_rate": 0, "down": True})
    _assert_agency_error(agency, await _api_call(client, urls, agency, world), 503)
    # The control endpoints keep working while the agency is "down".
    assert (await client.get(f"{base}/_sandbox/faults")).json()["down"] is True

    response = await client.put(f"{base}/_sandbox/faults", json={"down": False})
    assert response.json() == {"latency_ms": 0, "error_rate": 0.0, "down": False}
    assert (await _api_call(client, urls, agency, world)).status_code == 200


async def test_bad_fault_settings_are_refused(
    client: httpx.AsyncClient, urls: dict[str, str], clean_faults: dict[str, Faults]
) -> None:
    base = urls["police"]
    for body in ({"latency_ms": -1}, {"error_rate": 2}, {"down": "yes"}, {"speed": 1}, [1]):
        response = await client.put(f"{base}/_sandbox/faults", json=body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert (await client.get(f"{base}/_sandbox/faults")).json()["latency_ms"] == 0


async def test_error_rate_fails_about_that_share(
    client: httpx.AsyncClient,
    urls: dict[str, str],
    world: World,
    clean_faults: dict[str, Faults],
) -> None:
    await client.put(f"{urls['police']}/_sandbox/faults", json={"error_rate": 0.5})
    statuses = [(await _api_call(client, urls, "police", world)).status_code for _ in range(60)]
    assert 10 <= statuses.count(500) <= 50
    assert statuses.count(500) + statuses.count(200) == 60


async def test_stats_count_api_requests_by_path(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    base = urls["police"]
    response = await client.delete(f"{base}/_sandbox/stats")
    assert response.json() == {"requests": 0, "by_path": {}}
    s = world.scenario
    await client.get(f"{base}/api/v1/persons", params={"id_number": s["person_id"]})
    await client.get(f"{base}/api/v1/persons", params={"id_number": "bad"})
    await client.get(f"{base}/api/v1/cases", params={"suspect_id": s["person_id"]})
    await client.get(f"{base}/_sandbox/faults")  # not counted
    stats = (await client.get(f"{base}/_sandbox/stats")).json()
    assert stats == {"requests": 3, "by_path": {"/api/v1/persons": 2, "/api/v1/cases": 1}}
    await client.delete(f"{base}/_sandbox/stats")
    assert (await client.get(f"{base}/_sandbox/stats")).json()["requests"] == 0
