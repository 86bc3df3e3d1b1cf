"""The simulator: field outcomes as ``jointgate policy explain`` reckons them, the masked
answer on sandbox data (never the live agencies), policy administrators only, recorded."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from console.simulation import SANDBOX_SCALE, SANDBOX_SEED, _samples
from gateway.explain import explain
from kernel.types import Principal
from policies.engine import DecisionContext
from sandbox.issuer import DEMO_USERS
from sandbox.world import generate
from tests.console.conftest import ConsoleHarness
from tests.console.trail import open_audited

WORLD = generate(SANDBOX_SCALE, SANDBOX_SEED)
SAMPLES = _samples(WORLD)
PERSON = (
    f'{{ person(idNumber: "{SAMPLES["person_id"]}") {{ name idNumber bankAccounts'
    " { number balance } } }"
)
ENTERPRISE = (
    f'query Rep {{ enterprise(uscc: "{SAMPLES["enterprise_uscc"]}") '
    "{ name legalRepresentative { name idNumber } } }"
)
REP = WORLD.persons[WORLD.enterprises[SAMPLES["enterprise_uscc"]]["legal_rep_id"]]


def rows(page: str) -> dict[str, tuple[str, str]]:
    """path -> (outcome, policies) from the page's field table."""
    found = re.findall(
        r'<tr data-path="([^"]+)"><th scope="row"><code>[^<]*</code></th>\s*'
        r'<td class="(\w+)">\w+</td><td>[^<]*</td>\s*<td>([^<]*)</td></tr>',
        page,
    )
    return {html.unescape(p): (o, html.unescape(pol)) for p, o, pol in found}


async def simulate(console: ConsoleHarness, csrf: str, **form: Any) -> str:
    given = {"user": "market.officer", "purpose": "supervision", "query": PERSON} | form
    response = await console.post("/console/simulator", csrf, **given)
    assert response.status_code == 200, response.text
    return response.text


def live_calls(console: ConsoleHarness) -> int:
    return sum(len(c.calls) for c in console.harness.agencies.values())


async def test_outcomes_per_user_match_policy_explain(console: ConsoleHarness) -> None:
    csrf = console.sign_in("policy.admin")
    engine = console.harness.gateway.pipeline.authorizer.policies.engine
    seen = {}
    for user in ("market.officer", "bank.analyst"):
        page = await simulate(console, csrf, user=user)
        shown = rows(page)
        demo = DEMO_USERS[user]
        principal = Principal(demo.subject, demo.agency, frozenset(demo.roles), demo.clearance)
        expected = explain(engine, principal, DecisionContext(purpose="supervision"), PERSON)
        assert shown == {p: (o, ", ".join(pol)) for p, o, _, pol in expected}
        seen[user] = shown
    assert seen["market.officer"] != seen["bank.analyst"]
    assert seen["bank.analyst"]["person.bankAccounts.balance"][0] == "allow"
    assert seen["market.officer"]["person.bankAccounts.balance"][0] == "deny"


async def test_the_answer_is_masked_and_from_the_sandbox(console: ConsoleHarness) -> None:
    csrf = console.sign_in("policy.admin")
    before = live_calls(console)
    page = await simulate(console, csrf, user="bank.analyst", query=ENTERPRISE)
    assert live_calls(console) == before  # the live agencies are never asked
    answer = html.unescape(re.search(r'<pre id="answer"[^>]*>(.*?)</pre>', page, re.S)[1])  # type: ignore[index]
    assert WORLD.enterprises[SAMPLES["enterprise_uscc"]]["name"] in answer
    assert '"idNumber"' in answer and "*" in answer  # the resident id masked
    assert REP["id_number"] not in answer and REP["id_number"][:6] in answer
    assert rows(page)["enterprise.legalRepresentative.idNumber"][0] == "mask"


async def test_refusals_are_the_gateways(console: ConsoleHarness) -> None:
    csrf = console.sign_in("policy.admin")
    # the legal representative's record is hidden from a market officer: FORBIDDEN_FIELD
    page = await simulate(console, csrf, query=ENTERPRISE)
    assert "FORBIDDEN_FIELD" in page and 'id="answer"' in page
    # no declaration lets a market officer read a person: not in their schema at all
    invisible = await simulate(console, csrf)
    assert "GRAPHQL_VALIDATION_FAILED" in invisible and 'id="answer"' not in invisible


async def test_a_case_not_assigned_is_refused_as_the_gateway_would(
    console: ConsoleHarness,
) -> None:
    csrf = console.sign_in("policy.admin")
    page = await simulate(
        console,
        csrf,
        user="custom",
        subject="nobody",
        agency="police",
        roles="investigator",
        clearance="3",
        purpose="investigation",
        case="jit-2026-001",
    )
    assert "CASE_NOT_ASSIGNED" in page and "JIT-2026-001" in page
    assert 'id="answer"' not in page
    assigned = await simulate(
        console, csrf, user="jit.member", purpose="investigation", case="ｊｉｔ-2026-001"
    )
    assert "JIT-2026-001" in assigned and "CASE_NOT_ASSIGNED" not in assigned


async def test_bad_input_is_refused_on_the_page(console: ConsoleHarness) -> None:
    csrf = console.sign_in("policy.admin")
    bad = await console.post(
        "/console/simulator", csrf, user="market.officer", purpose="x", query=PERSON
    )
    assert bad.status_code == 400
    assert "未知的目的" in bad.text or "Unknown purpose" in bad.text
    case = await console.post(
        "/console/simulator",
        csrf,
        user="market.officer",
        purpose="investigation",
        case="<script>",
        query=PERSON,
    )
    assert case.status_code == 400 and "<script>" not in case.text.split('id="sim-case"')[1][:60]
    custom = await simulate(
        console,
        csrf,
        user="custom",
        subject="someone",
        agency="banking",
        roles="analyst, regulator",
        clearance="3",
    )
    assert "someone" in custom and "person.bankAccounts.balance" in custom


async def test_only_policy_administrators_and_every_simulation_recorded(
    console: ConsoleHarness,
) -> None:
    console.sign_in("auditor")
    refused = await console.client.get("/console/simulator")
    assert refused.status_code == 403
    last = console.harness.audit.records[-1]
    assert last.operation_name == "console.simulator" and last.outcome == "refused"
    csrf = console.sign_in("policy.admin")
    for lang in ("zh", "en"):
        shown = await console.client.get(f"/console/simulator?lang={lang}&example=account")
        assert shown.status_code == 200
        assert SAMPLES["account_number"] in shown.text
    await simulate(console, csrf, query=ENTERPRISE)
    last = console.harness.audit.records[-1]
    assert last.operation_name == "console.simulate" and last.subject == "policy.admin"
    without = await console.client.post(
        "/console/simulator", data={"user": "market.officer", "query": PERSON}
    )
    assert without.status_code == 403


async def test_the_platforms_own_live_state_is_never_simulated(tmp_path: Path) -> None:
    """The audit trail and the joint office are the platform's own, live, whatever executor
    runs them: an auditor simulated by a policy administrator once read the live trail."""
    async with open_audited(tmp_path) as audited:
        await audited.harness.query('{ enterprise(uscc: "x") { name } }')
        csrf = audited.sign_in("policy.admin")
        for query in (
            "{ auditLog(first: 5) { nodes { subject operationName } } }",
            "{ leads(first: 5) { nodes { id } } }",
        ):
            page = await simulate(audited, csrf, user="auditor", purpose="audit", query=query)
            assert "sandbox agencies&#39; data only" in page, page
            assert 'id="answer"' not in page


async def test_a_refusal_carries_the_gateways_own_code(console: ConsoleHarness) -> None:
    """A bad identifier is BAD_USER_INPUT and a deep query QUERY_TOO_COMPLEX, as the gateway
    answers; the simulator once called both GRAPHQL_VALIDATION_FAILED."""
    csrf = console.sign_in("policy.admin")
    bad_id = await simulate(
        console, csrf, user="bank.analyst", query='{ enterprise(uscc: "123") { name } }'
    )
    assert "BAD_USER_INPUT" in bad_id and "GRAPHQL_VALIDATION_FAILED" not in bad_id
