"""The market registry over real HTTP: cursor paging, name search, dotted fields, RFC 7807."""

from __future__ import annotations

import httpx

from sandbox.world import World


def _check_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"] and body["detail"]


async def test_by_uscc_with_dotted_fields(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    s = world.scenario
    response = await client.get(
        f"{urls['market']}/registry/v2/enterprises",
        params={
            "uscc": f"{s['enterprise_uscc']},{s['shell_enterprise_uscc']}",
            "fields": "name,shareholders.holder_name,abnormal_operations",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    assert "total" not in body
    items = {e["uscc"]: e for e in body["items"]}
    enterprise = items[s["enterprise_uscc"]]
    assert enterprise["name"] == s["enterprise_name"]
    assert all(set(h) == {"holder_name"} for h in enterprise["shareholders"])
    assert set(enterprise["abnormal_operations"][0]) == {
        "listed_on",
        "reason",
        "authority",
        "removed_on",
    }
    assert "JIT-2026-001" in enterprise["linked_cases"]
    assert "legal_rep_id" not in enterprise


async def test_by_legal_representative(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    s = world.scenario
    response = await client.get(
        f"{urls['market']}/registry/v2/enterprises",
        params={"legal_rep_id": s["person_id"], "fields": "legal_rep_name"},
    )
    items = response.json()["items"]
    assert s["enterprise_uscc"] in {e["uscc"] for e in items}
    assert {e["legal_rep_name"] for e in items} == {s["person_name"]}


async def test_name_search_pages_with_cursor(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    needle = "公司"
    expected = sorted(u for u, e in world.enterprises.items() if needle in e["name"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"name_contains": needle, "limit": 20, "fields": "name"}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(f"{urls['market']}/registry/v2/enterprises", params=params)
        body = response.json()
        assert body["total"] == len(expected)
        assert len(body["items"]) <= 20
        seen += [e["uscc"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_errors(client: httpx.AsyncClient, urls: dict[str, str], world: World) -> None:
    base = f"{urls['market']}/registry/v2/enterprises"
    uscc = next(iter(world.enterprises))
    _check_problem(await client.get(base, params={"uscc": "91110105MA00000000"}), 400)
    _check_problem(await client.get(base, params={"uscc": uscc, "fields": "shareholders.x"}), 400)
    _check_problem(await client.get(base, params={"uscc": uscc, "limit": 201}), 400)
    _check_problem(await client.get(base, params={"uscc": uscc, "cursor": "not-a-cursor"}), 400)
    _check_problem(await client.get(base, params={"name_contains": " "}), 400)
    _check_problem(await client.get(base), 400)
    _check_problem(await client.get(f"{urls['market']}/registry/v2/nothing"), 404)
