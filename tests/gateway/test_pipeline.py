"""The whole pipeline in process, over in-memory agencies: answers, errors, batching, audit."""

from __future__ import annotations

import gc

import httpx

from tests.gateway.conftest import Harness, card, uscc

DEMO_QUERY = """
query Demo($uscc: USCC!) {
  enterprise(uscc: $uscc) {
    name
    legalRepresentative { idNumber name }
    bankAccounts { number bank balance transactions(first: 2) { amount counterpartyName } }
    courtCases { caseNumber }
    policeCases { caseNumber }
  }
}
"""


async def test_cross_agency_query_links_all_four_agencies(harness: Harness) -> None:
    response = await harness.query(DEMO_QUERY, {"uscc": uscc(3)})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    body = response.json()
    assert "errors" not in body
    enterprise = body["data"]["enterprise"]
    assert enterprise["name"] == "测试3号财富管理有限公司"
    assert enterprise["legalRepresentative"]["name"] == "法人3"
    assert enterprise["bankAccounts"][0]["number"] == card(3)
    assert len(enterprise["bankAccounts"][0]["transactions"]) == 2
    assert enterprise["policeCases"] == [{"caseNumber": "J1101052026000003"}]
    assert enterprise["courtCases"] == [{"caseNumber": "(2025)京01民初4号"}]


async def test_agencies_are_asked_only_for_selected_fields(harness: Harness) -> None:
    query = '{ enterprise(uscc: "%s") { name bankAccounts { number bank } } }' % uscc(3)
    await harness.query(query, user="bank.analyst", purpose="supervision", case=None)
    (market_call,) = harness.agencies["market"].calls
    assert market_call == ("enterprise", "uscc", 1, frozenset({"name"}))
    (banking_call,) = harness.agencies["banking"].calls
    assert banking_call == ("account", "holder_id", 1, frozenset({"number", "bank"}))


async def test_a_team_request_also_asks_what_places_records_in_its_scope(
    harness: Harness,
) -> None:
    """The fields an entity declares in ``@entity(refers=..., part_of=...)`` come along in a
    team's request: they decide whether the team grant covers the record (schema/scope.py)."""
    await harness.query(DEMO_QUERY, {"uscc": uscc(3)})
    (market_call,) = harness.agencies["market"].calls
    scope = {"shareholders.holder_id"}
    assert market_call == ("enterprise", "uscc", 1, frozenset({"name", "legal_rep_id", *scope}))
    banking = {c[0]: c[3] for c in harness.agencies["banking"].calls}
    assert banking["account"] == frozenset({"number", "bank", "balance", "holder_id"})
    scope = {"account_number", "counterparty_account"}
    assert banking["transaction"] == frozenset({"amount", "counterparty_name", *scope})


async def test_a_list_of_n_entities_costs_one_call_per_agency_and_kind(harness: Harness) -> None:
    query = """{ enterprises(nameContains: "财富", first: 10) { totalCount nodes {
        uscc legalRepresentative { name } bankAccounts { number transactions { amount } }
        policeCases { caseNumber suspects { name } } courtCases { caseNumber } } } }"""
    response = await harness.query(query)
    body = response.json()
    assert "errors" not in body, body
    assert len(body["data"]["enterprises"]["nodes"]) == 10
    assert body["data"]["enterprises"]["totalCount"] == 12
    calls = {name: [(c[0], c[1], c[2]) for c in a.calls] for name, a in harness.agencies.items()}
    assert calls["market"] == [("enterprise", "search", 1)]
    assert sorted(calls["police"]) == [("case", "enterprise_ids", 10), ("person", "id_number", 10)]
    assert sorted(calls["banking"]) == [
        ("account", "holder_id", 10),
        ("transaction", "account_number", 10),
    ]
    assert calls["courts"] == [("court_case", "party_ids", 10)]


async def test_bad_identifier_is_bad_user_input_and_never_reaches_an_agency(
    harness: Harness,
) -> None:
    bad = uscc(3)[:-1] + ("0" if uscc(3)[-1] != "0" else "1")
    for response in (
        await harness.query(DEMO_QUERY, {"uscc": bad}),
        await harness.query(f'{{ enterprise(uscc: "{bad}") {{ name }} }}'),
    ):
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["check"] == "check character does not match (GB 32100-2015)"
        assert bad not in response.text
    assert all(not a.calls for a in harness.agencies.values())


async def test_missing_or_bad_token_is_401_and_audited(harness: Harness) -> None:
    for headers in (
        {},
        {"authorization": "Bearer not-a-jwt"},
        {"authorization": "Basic dXNlcjpwYXNz"},
    ):
        response = await harness.client.post(
            "/graphql", json={"query": "{ __typename }"}, headers=headers
        )
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert [r.status for r in harness.audit.records] == [401, 401, 401]
    assert all(r.outcome == "refused" and r.subject is None for r in harness.audit.records)


async def test_purpose_is_required_and_case_bound_purposes_need_a_case(harness: Harness) -> None:
    auth = {"authorization": f"Bearer {harness.token()}"}
    for extra, fragment in (
        ({}, "Declare a purpose"),
        ({"x-purpose": "curiosity"}, "Unknown purpose"),
        ({"x-purpose": "investigation"}, "needs the case"),
    ):
        response = await harness.client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={**auth, **extra}
        )
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "PURPOSE_REQUIRED"
        assert fragment in error["message"]
    ok = await harness.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={**auth, "x-purpose": "supervision"}
    )
    assert ok.status_code == 200
    assert harness.audit.records[-1].purpose == "supervision"


async def test_one_agency_down_keeps_the_others_data(harness: Harness) -> None:
    harness.agencies["banking"].down = True
    response = await harness.query(DEMO_QUERY, {"uscc": uscc(3)})
    assert response.status_code == 200
    body = response.json()
    enterprise = body["data"]["enterprise"]
    assert enterprise["name"] == "测试3号财富管理有限公司"
    assert enterprise["policeCases"] == [{"caseNumber": "J1101052026000003"}]
    assert enterprise["bankAccounts"] is None
    (error,) = body["errors"]
    assert error["path"] == ["enterprise", "bankAccounts"]
    assert error["extensions"] == {"code": "AGENCY_UNAVAILABLE", "agency": "banking"}
    assert "test switch" not in response.text  # agency internals stay in the logs
    assert harness.audit.records[-1].outcome == "partial"


async def test_audit_failure_fails_closed_with_503_and_no_data(harness: Harness) -> None:
    harness.audit.fail = True
    response = await harness.query(DEMO_QUERY, {"uscc": uscc(3)})
    assert response.status_code == 503
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert "测试3号" not in response.text


async def test_every_request_gets_exactly_one_audit_record(harness: Harness) -> None:
    await harness.query(DEMO_QUERY, {"uscc": uscc(3)})
    await harness.query("{ nope }")
    await harness.client.post(
        "/graphql", content=b"{", headers=harness.headers() | {"content-type": "application/json"}
    )
    assert len(harness.audit.records) == 3
    first = harness.audit.records[0]
    assert first.subject == "jit.member" and first.case_id == "JIT-2026-001"
    assert first.operation_name == "Demo"
    assert "enterprise.bankAccounts.balance" in first.fields_requested
    assert first.records_returned["Enterprise"] == {uscc(3)}
    assert first.records_returned["BankAccount"] == {card(3)}
    assert {c.agency for c in first.agency_calls} == {"market", "police", "banking", "courts"}
    assert first.response_hash and first.response_size > 0
    assert harness.audit.records[1].error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert harness.audit.records[2].status == 400


async def test_unknown_fields_get_no_suggestions(harness: Harness) -> None:
    response = await harness.query(f'{{ enterprise(uscc: "{uscc(1)}") {{ nam }} }}')
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "Did you mean" not in message


async def test_http_surface(harness: Harness) -> None:
    headers = harness.headers()
    form = await harness.client.post("/graphql", data={"query": "{ __typename }"}, headers=headers)
    assert form.status_code == 415
    big = await harness.client.post(
        "/graphql", json={"query": "{ __typename }", "pad": "x" * 300_000}, headers=headers
    )
    assert big.status_code == 413
    not_json = await harness.client.post(
        "/graphql", content=b"[1,", headers=headers | {"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    get = await harness.client.get("/graphql", params={"query": "{ __typename }"}, headers=headers)
    assert get.status_code == 200 and get.json() == {"data": {"__typename": "Query"}}
    legacy = await harness.client.post(
        "/graphql", json={"query": "{ nope }"}, headers=headers | {"accept": "application/json"}
    )
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith("application/json")


async def test_health_endpoints(harness: Harness) -> None:
    assert (await harness.client.get("/healthz")).status_code == 200
    assert (await harness.client.get("/readyz")).status_code == 200


def _unused(_: httpx.Response) -> None:  # keeps httpx imported for type hints in helpers
    return None


async def test_readiness_follows_the_audit_store(harness: Harness) -> None:
    harness.audit.fail = True
    assert (await harness.query("{ __typename }")).status_code == 503
    ready = await harness.client.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["signing_keys"] is True and checks["audit"] is False
    harness.audit.fail = False
    assert (await harness.query("{ __typename }")).status_code == 200
    assert (await harness.client.get("/readyz")).status_code == 200


OURS = {"audit", "connectors", "gateway", "policies", "schema"}


async def test_a_request_leaves_no_cyclic_garbage(harness: Harness) -> None:
    """Everything a request made (context, loaders, records, objects, the execution) is freed
    by reference counting when it ends. Left in reference cycles, every answer waited for the
    cyclic collector, whose full collections then took 0.3 s each under load."""
    officer = {"user": "market.officer", "purpose": "supervision", "case": None}
    await harness.query(DEMO_QUERY, {"uscc": uscc(3)})  # caches filled, plans compiled
    await harness.query(DEMO_QUERY, {"uscc": uscc(3)}, **officer)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            assert (await harness.query(DEMO_QUERY, {"uscc": uscc(3)})).status_code == 200
            masked = await harness.query(DEMO_QUERY, {"uscc": uscc(3)}, **officer)
            assert masked.json()["errors"]  # field errors (withheld fields) on this path too
        gc.collect()
        left = sorted(
            {f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage}
        )  # the test client's own (httpx) objects may be there
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    ours = [name for name in left if name.split(".")[0] in OURS]
    assert ours == [], "\n".join(ours)


async def test_the_audit_record_cites_the_policies_that_decided_each_field(
    harness: Harness,
) -> None:
    query = """{ enterprise(uscc: "%s") { name bankAccounts { number } policeCases { caseNumber }
      legalRepresentative { idNumber } } }""" % uscc(3)
    await harness.query(query, user="market.officer", purpose="supervision", case=None)
    record = harness.audit.records[-1]
    assert record.field_policies == {
        "enterprise": ("own-agency", "registry-for-members"),  # both hold, both cited
        "enterprise.name": ("own-agency", "registry-for-members"),
        "enterprise.bankAccounts": ("market-sees-accounts",),
        "enterprise.bankAccounts.number": ("market-sees-account-numbers-masked",),
        "enterprise.policeCases": ("default-deny",),  # nothing permits it for this purpose
        "enterprise.policeCases.caseNumber": ("default-deny",),
        # allowed, and the person then hidden by the record-level rules (above clearance)
        "enterprise.legalRepresentative": ("legal-representative-for-monitoring", "default-deny"),
        "enterprise.legalRepresentative.idNumber": ("identity-masked-for-monitoring",),
    }
    assert record.fields_withheld == ["enterprise.legalRepresentative"]
    assert set(record.field_policies) == set(record.fields_requested)
    await harness.query(query, user="market.officer", purpose="audit", case=None)
    cited = harness.audit.records[-1].field_policies
    assert set(cited.values()) == {("audit-purpose-for-auditors-only",)}  # a forbid decides
    assert record.as_dict()["field_policies"]["enterprise.policeCases"] == ["default-deny"]
