"""The courts subgraph over real HTTP: federation (_service, _entities), courtCases, errors."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.world import World


async def _graphql(
    client: httpx.AsyncClient, urls: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{urls['courts']}/graphql", json={"query": query, "variables": variables}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_service_sdl(client: httpx.AsyncClient, urls: dict[str, str]) -> None:
    body = await _graphql(client, urls, "{ _service { sdl } }")
    sdl = body["data"]["_service"]["sdl"]
    assert 'type CourtCase @key(fields: "caseNumber")' in sdl
    assert 'type Litigant @key(fields: "partyId")' in sdl
    assert "https://specs.apollo.dev/federation/v2" in sdl
    assert "courtCases(caseNumbers: [String!]!): [CourtCase]!" in sdl
    for line in (
        "type Party {",
        "documentNumber: String!",
        "amount: Float\n",
        "amountOwed: Float!",
        "defaulter: DefaulterEntry",
        "linkedCases: [String!]!",
        "handlingCode: String!",
    ):
        assert line in sdl


ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on CourtCase { caseNumber causeOfAction stage linkedCases
                       parties { partyId role } enforcement { caseNumber status } }
    ... on Litigant { partyId cases { caseNumber } defaulter { listedOn performance } }
  }
}
"""


async def test_entities(client: httpx.AsyncClient, urls: dict[str, str], world: World) -> None:
    s = world.scenario
    number = s["court_case_numbers"][0]
    body = await _graphql(
        client,
        urls,
        ENTITIES,
        representations=[
            {"__typename": "CourtCase", "caseNumber": number},
            {"__typename": "Litigant", "partyId": s["enterprise_uscc"]},
            {"__typename": "CourtCase", "caseNumber": "(2020)京01民初999999号"},
            {"__typename": "Litigant", "partyId": "11010519491231002X"},
        ],
    )
    assert "errors" not in body
    case, litigant, unknown_case, nobody = body["data"]["_entities"]
    assert case["caseNumber"] == number
    assert case["causeOfAction"] == "民间借贷纠纷"
    assert "JIT-2026-001" in case["linkedCases"]
    assert {"partyId": s["enterprise_uscc"], "role": "被告"} in case["parties"]
    assert case["enforcement"][0]["caseNumber"] == s["enforcement_case_number"]
    assert litigant["partyId"] == s["enterprise_uscc"]
    assert set(s["court_case_numbers"]) <= {c["caseNumber"] for c in litigant["cases"]}
    assert litigant["defaulter"]["listedOn"]
    assert unknown_case is None
    assert nobody == {"partyId": "11010519491231002X", "cases": [], "defaulter": None}


async def test_court_cases_by_number(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    number = world.scenario["enforcement_case_number"]
    fullwidth = number.replace("(", "（").replace(")", "）")
    body = await _graphql(
        client,
        urls,
        "query($n: [String!]!) { courtCases(caseNumbers: $n) {"
        " caseNumber court stage handlingCode sensitivity"
        " judgments { documentNumber amount public } parties { name partyType role } } }",
        n=[fullwidth, "(2020)京01民初999999号"],
    )
    found, missing = body["data"]["courtCases"]
    assert found["caseNumber"] == number
    assert found["court"] == world.court_cases[number]["court"]
    assert {p["role"] for p in found["parties"]} == {"申请执行人", "被执行人"}
    assert missing is None


async def test_errors_carry_codes(client: httpx.AsyncClient, urls: dict[str, str]) -> None:
    body = await _graphql(client, urls, '{ courtCases(caseNumbers: ["nonsense"]) { court } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await _graphql(client, urls, "{ courtCases(caseNumbers: []) { verdict } }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    body = await _graphql(client, urls, "{ courtCases(")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    body = await _graphql(
        client, urls, ENTITIES, representations=[{"__typename": "Litigant", "partyId": "42"}]
    )
    assert body["data"]["_entities"] == [None]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["_entities", 0]

    response = await client.post(
        f"{urls['courts']}/graphql",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    response = await client.get(f"{urls['courts']}/elsewhere")
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
