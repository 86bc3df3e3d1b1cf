"""Every error path: a documented code, and nothing internal in the answer."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import gateway.analyze
import gateway.authorize
import gateway.graphql_http
import gateway.limits
import gateway.persisted
from commands.policy.cases import principal_for
from connectors.errors import AgencyProtocolError, ConnectorError
from gateway.respond import MAX_MESSAGE
from kernel.errors import GatewayError
from kernel.types import Declaration, Purpose
from kernel.workflow import LeadCategory, SubmitInput
from schema.base import FieldForbidden
from tests.gateway.conftest import Harness, open_harness, uscc

ERRORS_DOC = Path(__file__).parents[2] / "docs" / "errors.md"
DOCUMENTED = set(re.findall(r"^\| `([A-Z_]+)` \|", ERRORS_DOC.read_text(), re.M))
EXTENSION_KEYS = {"code", "agency", "identifier", "check", "argument", "requestId", "limit",
                  "state", "action"}  # fmt: skip
# what must never reach a client: stack traces, exception names, agency internals, secrets
LEAKS = ("traceback", 'file "', ".py", "stacktrace", "exception", "runtimeerror", "keyerror",
         "oserror", "protocolerror", "test switch", "10.0.0.7", "s3cret", "internal/api",
         "int_max_str_digits", "exceeds the limit", "1" * 100, "z" * 100)  # fmt: skip
ENTERPRISE = '{ enterprise(uscc: "%s") { name bankAccounts { number } } }' % uscc(1)
BANK, RISK = principal_for("bank.analyst"), Declaration(Purpose.RISK_MONITORING)

Scenario = Callable[[Harness], Awaitable[httpx.Response]]


def _patch_fetch(
    harness: Harness, agency: str, error: BaseException | None, delay: float = 0
) -> None:
    connector = harness.agencies[agency]

    async def fetch_many(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(delay)
        if error is not None:
            raise error
        return None

    connector.fetch_many = fetch_many  # type: ignore[method-assign]


async def bad_json(h: Harness) -> httpx.Response:
    return await h.client.post(
        "/graphql", content=b"{", headers=h.headers() | {"content-type": "application/json"}
    )


async def form_body(h: Harness) -> httpx.Response:
    return await h.client.post("/graphql", data={"query": "{ __typename }"}, headers=h.headers())


async def too_large(h: Harness) -> httpx.Response:
    return await h.client.post(
        "/graphql", json={"query": "{ __typename }", "pad": "x" * 300_000}, headers=h.headers()
    )


async def too_deep(h: Harness) -> httpx.Response:
    return await h.client.post(
        "/graphql",
        content=b'{"query": "{ __typename }", "variables": {"a": '
        + b"[" * 200
        + b"]" * 200
        + b"}}",
        headers=h.headers() | {"content-type": "application/json"},
    )


async def wrong_method(h: Harness) -> httpx.Response:
    return await h.client.delete("/graphql", headers=h.headers())


async def not_acceptable(h: Harness) -> httpx.Response:
    return await h.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers=h.headers() | {"accept": "text/html"}
    )


async def batch(h: Harness) -> httpx.Response:
    return await h.client.post(
        "/graphql", json=[{"query": "{ __typename }"}] * 2, headers=h.headers()
    )


async def cors_refused(h: Harness) -> httpx.Response:
    return await h.client.options(
        "/graphql",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )


async def bad_token(h: Harness) -> httpx.Response:
    return await h.client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"authorization": "Bearer not-a-jwt", "x-purpose": "supervision"},
    )


async def foreign_token(h: Harness) -> httpx.Response:
    from joserfc import jwt
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256", auto_kid=True)
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, {"sub": "x", "exp": 4102444800}, key)
    return await h.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"authorization": f"Bearer {token}"}
    )


async def no_purpose(h: Harness) -> httpx.Response:
    return await h.client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"authorization": f"Bearer {h.token()}"},
    )


async def parse_error(h: Harness) -> httpx.Response:
    return await h.query("{ enterprise(")


async def invalid_query(h: Harness) -> httpx.Response:
    return await h.query("{ enterprise { nam } }")


async def introspection(h: Harness) -> httpx.Response:
    return await h.query("{ __schema { types { name } } }")


async def giant_integer(h: Harness) -> httpx.Response:
    return await h.query(
        '{ enterprises(nameContains: "x", first: %s) { totalCount } }' % ("1" * 60_000)
    )


async def long_string_variable(h: Harness) -> httpx.Response:
    query = 'query($f: Int!) { enterprises(nameContains: "x", first: $f) { totalCount } }'
    return await h.query(query, {"f": "z" * 60_000})


async def long_operation_name(h: Harness) -> httpx.Response:
    body = {"query": "query A { __typename }", "operationName": "z" * 60_000}
    return await h.client.post("/graphql", json=body, headers=h.headers())


async def bad_identifier(h: Harness) -> httpx.Response:
    return await h.query(
        "query($u: USCC!) { enterprise(uscc: $u) { name } }", {"u": "91110105MA0000001s3cret"}
    )


async def bad_paging(h: Harness) -> httpx.Response:
    return await h.query(
        '{ enterprises(nameContains: "s3cret", first: 1, after: "s3cret") { totalCount } }'
    )


async def too_complex(h: Harness) -> httpx.Response:
    return await h.query("{ " + " ".join(f"a{i}: __typename" for i in range(50)) + " }")


async def forbidden_field(h: Harness) -> httpx.Response:
    return await h.query(
        '{ enterprise(uscc: "%s") { name legalRepresentative { name } } }' % uscc(1),
        user="market.officer",
        purpose="supervision",
        case=None,
    )


async def agency_down(h: Harness) -> httpx.Response:
    h.agencies["banking"].down = True
    return await h.query(ENTERPRISE)


async def agency_error(h: Harness) -> httpx.Response:
    _patch_fetch(
        h,
        "banking",
        AgencyProtocolError("banking", "unexpected 'x' from http://10.0.0.7:8080/internal/api"),
    )
    return await h.query(ENTERPRISE)


async def resolver_bug(h: Harness) -> httpx.Response:
    _patch_fetch(h, "banking", RuntimeError("s3cret internal detail at /srv/connectors/banking.py"))
    return await h.query(ENTERPRISE)


async def pipeline_bug(h: Harness) -> httpx.Response:
    def plan(*args: Any) -> Any:
        raise KeyError("s3cret internal detail")

    setattr(h.gateway.pipeline.authorizer, "plan", plan)  # noqa: B010 (a test double)
    return await h.query(ENTERPRISE)


async def audit_down(h: Harness) -> httpx.Response:
    h.audit.fail = True
    return await h.query(ENTERPRISE)


async def timeout(h: Harness) -> httpx.Response:
    h.gateway.pipeline.request_timeout_s = 0.2
    _patch_fetch(h, "market", None, delay=5)
    return await h.query(ENTERPRISE)


async def case_not_assigned(h: Harness) -> httpx.Response:
    return await h.query(ENTERPRISE, user="bank.analyst", case="J1101052026009999")


async def _lead(h: Harness, key: str = "k1") -> str:
    """A lead submitted straight to the desk (no request, no audit record of its own)."""
    assert h.gateway.office is not None
    given = SubmitInput(LeadCategory.OTHER, "某平台虚构项目集资", (uscc(1),))
    done = await h.gateway.office.submit(BANK, RISK, key, given)
    return done.lead.id


WORKFLOW = {"user": "bank.analyst", "purpose": "risk-monitoring", "case": None}
REFER = 'mutation($id: ID!) { referLead(leadId: $id, receivingUnit: "经侦", idempotencyKey: "r")' \
    " { replayed } }"  # fmt: skip
VERIFY = "mutation($id: ID!) { verifyLead(leadId: $id, outcome: VERIFIED, findings: \"x\"," \
    ' idempotencyKey: "v") { replayed } }'  # fmt: skip
SUBMIT = """mutation($amount: Float) { submitLead(input: {category: OTHER, description: "x",
  subjects: ["%s"], amount: $amount}, idempotencyKey: "k1") { replayed } }""" % uscc(2)


async def lead_not_found(h: Harness) -> httpx.Response:
    return await h.query('{ lead(id: "L-2026-000042") { state } }', **WORKFLOW)  # type: ignore[arg-type]


async def case_not_found(h: Harness) -> httpx.Response:
    query = '{ case(number: "J1101052026000777") { state } }'
    return await h.query(query, **WORKFLOW)  # type: ignore[arg-type]


async def illegal_transition(h: Harness) -> httpx.Response:
    lead = await _lead(h)
    return await h.query(REFER, {"id": lead}, user="office.coordinator", purpose="supervision",
                         case=None)  # fmt: skip


async def action_forbidden(h: Harness) -> httpx.Response:
    lead = await _lead(h)
    return await h.query(VERIFY, {"id": lead}, **WORKFLOW)  # type: ignore[arg-type]


async def key_reused(h: Harness) -> httpx.Response:
    await _lead(h, "k1")
    return await h.query(SUBMIT, **WORKFLOW)  # type: ignore[arg-type]


async def bad_workflow_input(h: Harness) -> httpx.Response:
    return await h.query(SUBMIT, {"amount": -1.0}, **WORKFLOW)  # type: ignore[arg-type]


async def subscription_over_http(h: Harness) -> httpx.Response:
    return await h.query("subscription { majorEvents { leadId } }", **WORKFLOW)  # type: ignore[arg-type]


SCENARIOS: dict[str, tuple[Scenario, str, int]] = {
    "bad JSON": (bad_json, "BAD_REQUEST", 400),
    "form body": (form_body, "BAD_REQUEST", 415),
    "body too large": (too_large, "BAD_REQUEST", 413),
    "JSON too deep": (too_deep, "BAD_REQUEST", 400),
    "wrong method": (wrong_method, "BAD_REQUEST", 405),
    "nothing acceptable": (not_acceptable, "BAD_REQUEST", 406),
    "batch": (batch, "BAD_REQUEST", 400),
    "CORS preflight refused": (cors_refused, "BAD_REQUEST", 403),
    "bad token": (bad_token, "UNAUTHENTICATED", 401),
    "token from an unknown key": (foreign_token, "UNAUTHENTICATED", 401),
    "no purpose": (no_purpose, "PURPOSE_REQUIRED", 400),
    "case not assigned": (case_not_assigned, "CASE_NOT_ASSIGNED", 403),
    "parse error": (parse_error, "GRAPHQL_PARSE_FAILED", 400),
    "invalid query": (invalid_query, "GRAPHQL_VALIDATION_FAILED", 400),
    "introspection without the role": (introspection, "GRAPHQL_VALIDATION_FAILED", 400),
    "giant integer literal": (giant_integer, "GRAPHQL_VALIDATION_FAILED", 400),
    "long string for an integer variable": (long_string_variable, "BAD_USER_INPUT", 400),
    "long operation name": (long_operation_name, "BAD_REQUEST", 400),
    "bad identifier": (bad_identifier, "BAD_USER_INPUT", 400),
    "bad paging argument": (bad_paging, "BAD_USER_INPUT", 200),
    "query too complex": (too_complex, "QUERY_TOO_COMPLEX", 400),
    "forbidden field": (forbidden_field, "FORBIDDEN_FIELD", 200),
    "agency down": (agency_down, "AGENCY_UNAVAILABLE", 200),
    "agency answers outside its contract": (agency_error, "AGENCY_ERROR", 200),
    "resolver bug": (resolver_bug, "INTERNAL_SERVER_ERROR", 200),
    "pipeline bug": (pipeline_bug, "INTERNAL_SERVER_ERROR", 500),
    "audit down": (audit_down, "AUDIT_UNAVAILABLE", 503),
    "timeout": (timeout, "REQUEST_TIMEOUT", 504),
    "lead not found": (lead_not_found, "LEAD_NOT_FOUND", 200),
    "case not found": (case_not_found, "CASE_NOT_FOUND", 200),
    "illegal transition": (illegal_transition, "ILLEGAL_TRANSITION", 200),
    "action forbidden": (action_forbidden, "ACTION_FORBIDDEN", 200),
    "idempotency key reused": (key_reused, "IDEMPOTENCY_KEY_REUSED", 200),
    "bad workflow input": (bad_workflow_input, "BAD_USER_INPUT", 200),
    "subscription over HTTP": (subscription_over_http, "BAD_REQUEST", 400),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_every_error_has_a_documented_code_and_no_internals(
    tmp_path: Path, name: str
) -> None:
    scenario, code, status = SCENARIOS[name]
    async with open_harness(tmp_path) as harness:
        response = await scenario(harness)
    assert response.status_code == status, response.text
    body = response.json()
    codes = set()
    for error in body["errors"]:
        assert set(error) <= {"message", "extensions", "path", "locations"}, error
        assert len(error["message"]) <= MAX_MESSAGE, error
        assert set(error["extensions"]) <= EXTENSION_KEYS, error
        codes.add(error["extensions"]["code"])
    assert code in codes
    assert codes <= DOCUMENTED, f"codes missing from docs/errors.md: {codes - DOCUMENTED}"
    text = response.text.lower()
    assert not [leak for leak in LEAKS if leak in text], response.text
    if name not in ("CORS preflight refused", "audit down"):  # preflights never reach the pipeline
        assert [r.request_id for r in harness.audit.records] == [response.headers["x-request-id"]]


def _codes(root: type[Any]) -> set[str]:
    """The ``code`` of an error class and of all its subclasses."""
    codes = {str(root.code)}
    for sub in root.__subclasses__():
        codes |= _codes(sub)
    return codes


def test_every_code_the_code_declares_is_documented() -> None:
    assert gateway.analyze and gateway.authorize and gateway.graphql_http and gateway.persisted
    declared = _codes(GatewayError) | _codes(ConnectorError)
    declared |= {FieldForbidden.code, gateway.limits.CODE}
    for path in (
        "gateway/persisted.py",
        "gateway/analyze.py",
        "gateway/respond.py",
        "gateway/pipeline.py",
    ):
        source = (Path(__file__).parents[2] / path).read_text()
        declared |= set(re.findall(r'code="([A-Z_]+)"', source))
        declared |= set(re.findall(r'"code": "([A-Z_]+)"', source))
    # the joint office's refusals (kernel.workflow.WorkflowError, raised by office/)
    root = Path(__file__).parents[2]
    for module in [root / "kernel" / "workflow.py", *sorted((root / "office").glob("*.py"))]:
        declared |= set(re.findall(r'WorkflowError\(\s*"([A-Z_]+)"', module.read_text()))
    assert {"LEAD_NOT_FOUND", "ILLEGAL_TRANSITION", "ACTION_FORBIDDEN"} <= declared
    assert declared - DOCUMENTED == set()
    assert {"REQUEST_TIMEOUT", "QUERY_TOO_COMPLEX", "INTERNAL_SERVER_ERROR"} <= declared
