"""The police REST API over real HTTP: lookups, field selection, page-number paging, errors."""

from __future__ import annotations

import httpx

from sandbox.world import World


def _check_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


async def test_persons_by_id_with_field_selection(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    ids = list(world.persons)[:3]
    response = await client.get(
        f"{urls['police']}/api/v1/persons",
        params=[
            ("id_number", ids[0]),
            ("id_number", ids[1]),
            ("id_number", ids[2]),
            ("fields", "name,gender"),
        ],
    )
    assert response.status_code == 200
    body = response.json()
    assert body["page"] == 1 and body["page_size"] == 100 and body["total"] == 3
    assert [p["id_number"] for p in body["data"]] == ids
    for row in body["data"]:
        assert set(row) == {
            "id_number",
            "name",
            "gender",
            "handling_code",
            "sensitivity",
            "linked_cases",
        }
        assert row["name"] == world.persons[row["id_number"]]["name"]


async def test_unknown_persons_are_left_out(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    known = next(iter(world.persons))
    unknown = "11010519491231002X"  # valid, but nobody in the world
    assert unknown not in world.persons
    response = await client.get(
        f"{urls['police']}/api/v1/persons", params={"id_number": [known, unknown]}
    )
    assert [p["id_number"] for p in response.json()["data"]] == [known]
    assert set(response.json()["data"][0]) >= {"birth_date", "household_address", "phone"}


async def test_cases_by_number_suspect_and_enterprise(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    s = world.scenario
    base = f"{urls['police']}/api/v1/cases"
    for params in (
        {"case_number": s["police_case_number"]},
        {"suspect_id": s["person_id"]},
        {"enterprise_uscc": s["enterprise_uscc"]},
    ):
        response = await client.get(
            base, params={**params, "fields": "charge,frozen_assets.measure"}
        )
        assert response.status_code == 200, response.text
        rows = response.json()["data"]
        case = next(r for r in rows if r["case_number"] == s["police_case_number"])
        assert case["charge"] == "非法吸收公众存款"
        assert "JIT-2026-001" in case["linked_cases"]
        assert case["frozen_assets"] and all(set(a) == {"measure"} for a in case["frozen_assets"])
        assert "status" not in case


async def test_paging(client: httpx.AsyncClient, urls: dict[str, str], world: World) -> None:
    ids = list(world.persons)[:25]
    seen: list[str] = []
    for page in (1, 2, 3):
        response = await client.get(
            f"{urls['police']}/api/v1/persons",
            params={"id_number": ",".join(ids), "page": page, "page_size": 10, "fields": ""},
        )
        body = response.json()
        assert body["total"] == 25 and body["page"] == page and body["page_size"] == 10
        seen += [p["id_number"] for p in body["data"]]
        assert set(body["data"][0]) == {"id_number", "handling_code", "sensitivity", "linked_cases"}
    assert seen == ids


async def test_errors(client: httpx.AsyncClient, urls: dict[str, str], world: World) -> None:
    base = urls["police"]
    person = next(iter(world.persons))
    _check_error(
        await client.get(f"{base}/api/v1/persons", params={"id_number": "123"}), 400, "BAD_REQUEST"
    )
    _check_error(await client.get(f"{base}/api/v1/persons"), 400, "BAD_REQUEST")
    _check_error(
        await client.get(f"{base}/api/v1/persons", params={"id_number": person, "fields": "nme"}),
        400,
        "BAD_REQUEST",
    )
    _check_error(
        await client.get(f"{base}/api/v1/persons", params={"id_number": person, "page_size": 501}),
        400,
        "BAD_REQUEST",
    )
    _check_error(
        await client.get(
            f"{base}/api/v1/cases", params={"suspect_id": person, "enterprise_uscc": "x"}
        ),
        400,
        "BAD_REQUEST",
    )
    _check_error(await client.get(f"{base}/api/v1/nothing"), 404, "NOT_FOUND")
    _check_error(await client.post(f"{base}/api/v1/persons"), 405, "BAD_REQUEST")
