"""The workbench: GraphiQL's queries go through the pipeline as the official (their audit record),
need the CSRF header, the schema is the official's own, and error codes are explained."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from console.pages.workbench import CODES
from tests.console.conftest import ORIGIN, ConsoleHarness
from tests.gateway.conftest import uscc

QUERY = f'{{ enterprise(uscc: "{uscc(1)}") {{ name }} }}'


async def post(
    console: ConsoleHarness, csrf: str | None, body: dict[str, Any], **headers: str
) -> Any:
    sent = {"origin": ORIGIN, "content-type": "application/json", **headers}
    if csrf is not None:
        sent["x-csrf-token"] = csrf
    return await console.client.post("/console/workbench/graphql", json=body, headers=sent)


async def types_of(console: ConsoleHarness, user: str) -> dict[str, set[str]]:
    console.sign_in(user)
    response = await console.client.get("/console/workbench/schema")
    assert response.status_code == 200
    schema = response.json()["data"]["__schema"]
    return {
        t["name"]: {f["name"] for f in t["fields"] or ()}
        for t in schema["types"]
        if not t["name"].startswith("__")
    }


async def test_the_page_renders_for_every_official_from_the_consoles_own_assets(
    console: ConsoleHarness,
) -> None:
    for user in ("market.officer", "auditor", "policy.admin"):
        console.sign_in(user)
        for lang in ("zh", "en"):
            page = await console.client.get(f"/console/workbench?lang={lang}")
            assert page.status_code == 200
            assert "unsafe-inline" not in page.headers["content-security-policy"]
            sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert sources and all(s.startswith(("/console/", "#", "?")) for s in sources), sources
            assert "/console/static/vendor/graphiql.min.js" in sources
            assert "<script>" not in page.text and "style=" not in page.text
    assert "GraphiQL" in page.text


async def test_queries_go_through_the_pipeline_as_the_official(console: ConsoleHarness) -> None:
    csrf = console.sign_in("market.officer")
    answered = await post(console, csrf, {"query": QUERY}, **{"x-purpose": "supervision"})
    assert answered.status_code == 200
    assert "data" in answered.json()
    last = console.harness.audit.records[-1]
    assert last.subject == "market.officer" and last.purpose == "supervision"
    assert last.fields_requested == ["enterprise", "enterprise.name"]
    # refusals are the API's own, passed on as they are
    refused = await post(console, csrf, {"query": QUERY})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"
    case = await post(
        console,
        csrf,
        {"query": QUERY},
        **{"x-purpose": "investigation", "x-case-id": "JIT-2026-404"},
    )
    assert case.json()["errors"][0]["extensions"]["code"] == "CASE_NOT_ASSIGNED"
    # a case id with non-ASCII text, percent-encoded as workbench.js sends it
    encoded = await post(
        console,
        csrf,
        {"query": QUERY},
        **{"x-purpose": "investigation", "x-case-id": "%EF%BC%AAIT-2026-001"},
    )
    assert encoded.status_code in (200, 403)
    assert console.harness.audit.records[-1].case_id == "JIT-2026-001"


async def test_the_csrf_header_and_own_origin_are_required(console: ConsoleHarness) -> None:
    csrf = console.sign_in("market.officer")
    before = len(console.harness.audit.records)
    for token, origin in ((None, ORIGIN), ("wrong", ORIGIN), (csrf, "http://evil.example")):
        refused = await post(
            console, token, {"query": QUERY}, origin=origin, **{"x-purpose": "supervision"}
        )
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["extensions"]["code"] == "CSRF"
    assert len(console.harness.audit.records) == before  # nothing reached the pipeline
    stranger = console.client
    stranger.cookies.clear()
    assert (await post(console, csrf, {"query": QUERY})).status_code == 303


async def test_the_schema_is_the_officials_own_and_recorded(console: ConsoleHarness) -> None:
    market = await types_of(console, "market.officer")
    last = console.harness.audit.records[-1]
    assert last.operation_name == "console.workbench.schema" and last.subject == "market.officer"
    bank = await types_of(console, "bank.analyst")
    admin = await types_of(console, "policy.admin")
    # no declaration of a market officer could show them an account by its number or a balance
    assert "bankAccount" not in market["Query"] and "bankAccount" in bank["Query"]
    assert "indicators" in admin["Query"] and "bankAccount" not in admin["Query"]
    assert "balance" in bank["BankAccount"]
    assert "balance" not in market.get("BankAccount", set())
    assert market != bank != admin
    assert "auditLog" not in market["Query"]


def test_every_explained_code_is_documented() -> None:
    documented = Path("docs/errors.md").read_text(encoding="utf-8")
    for code, (zh, en) in CODES.items():
        assert f"`{code}`" in documented and zh and en


async def test_codes_are_explained_in_both_languages(console: ConsoleHarness) -> None:
    console.sign_in("jit.member")
    for lang, word in (("zh", CODES["FORBIDDEN_FIELD"][0]), ("en", CODES["FORBIDDEN_FIELD"][1])):
        page = await console.client.get(f"/console/workbench?lang={lang}")
        found = re.search(r'data-codes="([^"]+)"', page.text)
        assert found is not None
        codes = json.loads(found[1].replace("&#34;", '"').replace("&quot;", '"'))
        assert codes["FORBIDDEN_FIELD"] == word
