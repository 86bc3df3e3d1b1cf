"""graphql-cop's twelve checks, re-created against the gateway (https://github.com/dolevf/graphql-cop).

Each test sends what graphql-cop sends and asserts the opposite of what it reports as a finding,
then probes the same weakness a little further. Checks that depend on query limits refuse with
``QUERY_TOO_COMPLEX`` naming the limit, before any agency is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Harness, open_harness, uscc

U = uscc(1)
IDE_MARKERS = ("graphiql.min.css", "GraphQL Playground", "GraphiQL", "graphql-playground")


def assert_too_complex(harness: Harness, response: httpx.Response) -> str:
    """Refused whole with QUERY_TOO_COMPLEX naming its limit, and no agency was called."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    extensions = error["extensions"]
    assert extensions["code"] == "QUERY_TOO_COMPLEX", error
    limit: str = extensions["limit"]
    assert limit in error["message"]
    assert all(not a.calls for a in harness.agencies.values())
    return limit


def assert_no_data(response: httpx.Response, key: str = "__typename") -> None:
    """graphql-cop's finding is ``response.json()['data'][key]``; there must be none."""
    try:
        body: Any = response.json()
    except ValueError:
        return
    assert not (isinstance(body, dict) and (body.get("data") or {}).get(key)), response.text


# 1. Alias overloading (DoS): 101 aliases of __typename
async def test_alias_overloading(harness: Harness) -> None:
    aliases = "".join(f"alias{i}:__typename \n" for i in range(101))
    response = await harness.query("query { " + aliases + " }")
    assert_no_data(response, "alias100")
    assert_too_complex(harness, response)
    nested = '{ enterprise(uscc: "%s") { %s } }' % (U, " ".join(f"a{i}: name" for i in range(101)))
    assert assert_too_complex(harness, await harness.query(nested)) == "max_aliases"


# 2. Batch queries (DoS): an array of 11 operations
async def test_batch_queries(harness: Harness) -> None:
    batch = [{"query": "query { __typename }"}] * 11
    response = await harness.client.post("/graphql", json=batch, headers=harness.headers())
    assert response.status_code == 400
    assert not isinstance(response.json(), list)
    assert all(not a.calls for a in harness.agencies.values())


async def test_batch_queries_when_batching_is_enabled(tmp_path: Path) -> None:
    async with open_harness(tmp_path, batching=True) as harness:
        batch = [{"query": '{ enterprise(uscc: "%s") { name } }' % U}] * 11
        response = await harness.client.post("/graphql", json=batch, headers=harness.headers())
        assert assert_too_complex(harness, response) == "max_batch_operations"


# 3. GET method query support (possible CSRF)
async def test_get_queries_need_the_token_and_purpose_headers(harness: Harness) -> None:
    """A cross-site GET (an <img> or a link) carries cookies but no headers: it gets nothing.
    A page that wants to add the headers must pass a CORS preflight, refused by default."""
    params = {"query": "{__typename}"}
    for headers in (
        {},
        {"cookie": "session=stolen"},
        {"authorization": f"Bearer {harness.token()}"},
    ):
        response = await harness.client.get("/graphql", params=params, headers=headers)
        assert response.status_code in (400, 401)
        assert_no_data(response)
    preflight = await harness.client.options(
        "/graphql",
        headers={"origin": "https://evil.example", "access-control-request-method": "GET",
                 "access-control-request-headers": "authorization, x-purpose"},
    )  # fmt: skip
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers


# 4. POST based url-encoded query (possible CSRF)
@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"params": {"query": "query {__typename}"}},  # what graphql-cop sends: no body at all
        {"data": {"query": "query {__typename}"}},
        {"files": {"query": (None, "query {__typename}")}},
        {"content": b'{"query": "query {__typename}"}', "headers": {"content-type": "text/plain"}},
    ],
    ids=["query-string", "form-urlencoded", "multipart", "text-plain"],
)
async def test_form_post_csrf(harness: Harness, request_kwargs: dict[str, Any]) -> None:
    headers = harness.headers() | request_kwargs.pop("headers", {})
    response = await harness.client.post("/graphql", headers=headers, **request_kwargs)
    assert response.status_code == 415
    assert_no_data(response)


# 5. Tracing / debug modes
async def test_no_tracing_or_debug_output(harness: Harness) -> None:
    asks = {"apollo-federation-include-trace": "ftv1", "x-debug": "1", "x-apollo-tracing": "1"}
    responses = [
        await harness.client.post(
            "/graphql", json={"query": "query { __typename }"}, headers=harness.headers() | asks
        ),
        await harness.client.post(
            "/graphql",
            json={"query": "query { __typename }", "extensions": {"tracing": True, "debug": True}},
            headers=harness.headers(),
        ),
        await harness.query("query { __typenam }"),
        await harness.query('{ enterprise(uscc: "bad") { name } }'),
    ]
    for response in responses:
        body = response.json()
        assert "extensions" not in body
        for error in body.get("errors", ()):
            assert set(error["extensions"]) <= {"code", "identifier", "check"}
        text = response.text.lower()
        assert "stacktrace" not in text and "exception" not in text


# 6. Field duplication (DoS): 500 × __typename
async def test_field_duplication(harness: Harness) -> None:
    response = await harness.query("query { " + "__typename \n" * 500 + "} ")
    assert_no_data(response)
    assert_too_complex(harness, response)
    nested = '{ enterprise(uscc: "%s") { %s } }' % (U, "name " * 3000)
    assert_too_complex(harness, await harness.query(nested))


# 7. Field suggestions (information leakage)
@pytest.mark.parametrize(
    "query",
    [
        "query { __schema { directive } }",
        '{ enterprise(uscc: "%s") { nam } }' % U,
        "{ enterprize { name } }",
        '{ enterprise(usc: "%s") { name } }' % U,
        "query($u: USC!) { enterprise(uscc: $u) { name } }",
        '{ enterprise(uscc: "%s") { ... on Enterprize { name } } }' % U,
    ],
)
@pytest.mark.parametrize("user", ["jit.member", "policy.admin"])
async def test_no_field_suggestions(harness: Harness, query: str, user: str) -> None:
    response = await harness.query(query, user=user, purpose="supervision", case=None)
    assert response.status_code == 400
    assert response.json()["errors"]
    assert "did you mean" not in response.text.lower()


# 8. GraphQL IDE (GraphiQL, Playground) exposure
async def test_no_graphql_ide_is_served(harness: Harness) -> None:
    for path in ("/graphiql", "/playground", "/console", "/graphql", "/altair", "/voyager"):
        for headers in ({}, {"accept": "text/html"}, harness.headers() | {"accept": "text/html"}):
            response = await harness.client.get(path, headers=headers)
            assert not any(marker in response.text for marker in IDE_MARKERS), (path, response.text)
            assert not response.headers.get("content-type", "").startswith("text/html")
            assert response.status_code in (400, 401, 404, 406)


# 9. Introspection
INTROSPECTION = "query { __schema { types { name fields { name } } } }"


async def test_introspection_only_for_the_configured_role(harness: Harness) -> None:
    missing_field = {
        "message": "Cannot query field '__schema' on type 'Query'.",
        "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
        "locations": [{"line": 1, "column": 9}],
    }
    refused = await harness.query(INTROSPECTION, user="jit.member")
    assert refused.status_code == 400
    assert refused.json() == {"errors": [missing_field]}
    as_get = await harness.client.get(
        "/graphql", params={"query": INTROSPECTION}, headers=harness.headers()
    )
    assert as_get.json() == {"errors": [missing_field]}
    admin = await harness.query(
        INTROSPECTION, user="policy.admin", purpose="supervision", case=None
    )
    assert admin.status_code == 200
    assert len(admin.json()["data"]["__schema"]["types"]) > 25


@pytest.mark.parametrize(
    "query",
    [
        '{ __type(name: "Enterprise") { fields { name } } }',
        "{ s: __schema { types { name } } }",
        "{ ... on Query { __schema { types { name } } } }",
        "{ ...F } fragment F on Query { __schema { types { name } } }",
        '{ enterprise(uscc: "%s") { name } __schema { queryType { name } } }' % U,
    ],
    ids=["type", "aliased", "inline-fragment", "fragment", "beside-a-field"],
)
async def test_introspection_cannot_be_hidden_from_the_check(harness: Harness, query: str) -> None:
    response = await harness.query(query)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert all(not a.calls for a in harness.agencies.values())


# 10. Directive overloading (DoS)
async def test_directive_overloading(harness: Harness) -> None:
    response = await harness.query("query { __typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa }")
    assert len(response.json()["errors"]) != 10  # graphql-cop's finding: every directive processed
    assert assert_too_complex(harness, response) == "max_directives_per_field"
    known = '{ enterprise(uscc: "%s") { name %s } }' % (U, "@include(if: true)" * 50)
    assert assert_too_complex(harness, await harness.query(known)) == "max_directives_per_field"


# 11. Circular query using introspection (DoS)
CIRCULAR = (
    "query { __schema { types { fields { type { fields { type { fields { type { fields"
    " { type { name } } } } } } } } } } }"
)


@pytest.mark.parametrize("user", ["jit.member", "policy.admin"])
async def test_circular_introspection(harness: Harness, user: str) -> None:
    response = await harness.query(CIRCULAR, user=user, purpose="supervision", case=None)
    assert_no_data(response, "__schema")
    assert assert_too_complex(harness, response) == "max_depth"


# 12. Mutations over GET (possible CSRF)
async def test_mutation_over_get(harness: Harness) -> None:
    for headers in ({}, harness.headers()):
        response = await harness.client.get(
            "/graphql", params={"query": "mutation {__typename}"}, headers=headers
        )
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST"
        assert_no_data(response)
    assert all(not a.calls for a in harness.agencies.values())
