"""GraphQL over HTTP, in process: media types, status codes, GET, request bodies and batches."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.graphql_http import GRAPHQL_RESPONSE, JSON, _query_parameters, response_media_type
from kernel.errors import BadRequest
from tests.gateway.conftest import Harness, open_harness, uscc

TYPENAME = {"query": "{ __typename }"}


async def _send_without_accept(harness: Harness, body: dict[str, Any]) -> httpx.Response:
    request = harness.client.build_request("POST", "/graphql", json=body, headers=harness.headers())
    del request.headers["accept"]
    return await harness.client.send(request)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/graphql-response+json", GRAPHQL_RESPONSE),
        ("application/json", JSON),
        ("*/*", GRAPHQL_RESPONSE),
        ("application/*", GRAPHQL_RESPONSE),
        ("application/json, application/graphql-response+json;q=0.9", JSON),
        ("application/graphql-response+json;q=0, application/json", JSON),
        ("application/json;q=0.5, */*;q=0.1", JSON),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", GRAPHQL_RESPONSE),
        ("application/graphql-response+json; charset=utf-8", GRAPHQL_RESPONSE),
        ("text/html", None),
        ("application/xml, text/plain", None),
        ("application/json;q=0", None),
        ("*/*;q=0", None),
    ],
)
def test_accept_negotiation(accept: str, media_type: str | None) -> None:
    if media_type is None:
        assert response_media_type(accept) == JSON  # the 406 refusal's own media type
    else:
        assert response_media_type(accept) == media_type


async def test_the_response_media_type_follows_accept(harness: Harness) -> None:
    for accept, expected in (("application/json", JSON), ("*/*", GRAPHQL_RESPONSE)):
        response = await harness.client.post(
            "/graphql", json=TYPENAME, headers=harness.headers() | {"accept": accept}
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == expected
    missing = await _send_without_accept(harness, TYPENAME)
    assert missing.status_code == 200
    assert missing.headers["content-type"] == GRAPHQL_RESPONSE  # the default since 2025


async def test_an_accept_header_allowing_neither_media_type_is_406(harness: Harness) -> None:
    response = await harness.client.post(
        "/graphql", json=TYPENAME, headers=harness.headers() | {"accept": "text/html"}
    )
    assert response.status_code == 406
    assert response.headers["content-type"] == JSON
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "Accept" in error["message"]
    assert harness.audit.records[-1].status == 406


async def test_request_errors_are_4xx_for_graphql_response_json_and_200_for_json(
    harness: Harness,
) -> None:
    cases = {
        "GRAPHQL_PARSE_FAILED": {"query": "{"},
        "GRAPHQL_VALIDATION_FAILED": {"query": "{ nope }"},
        "BAD_USER_INPUT": {"query": "query($u: USCC!) { enterprise(uscc: $u) { name } }",
                           "variables": {"u": None}},
    }  # fmt: skip
    for code, body in cases.items():
        for accept, status in ((GRAPHQL_RESPONSE, 400), (JSON, 200)):
            response = await harness.client.post(
                "/graphql", json=body, headers=harness.headers() | {"accept": accept}
            )
            assert response.status_code == status, (code, accept, response.text)
            assert response.json()["errors"][0]["extensions"]["code"] == code
            if code != "BAD_USER_INPUT":
                assert "data" not in response.json()
    # not a GraphQL request at all: 400 whatever the client accepts
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = await harness.client.post(
            "/graphql",
            content=b'{ "not a JSON',
            headers=harness.headers() | {"accept": accept, "content-type": JSON},
        )
        assert response.status_code == 400
    assert all(not a.calls for a in harness.agencies.values())


async def test_field_errors_are_200_with_the_other_data(harness: Harness) -> None:
    harness.agencies["banking"].down = True
    query = '{ enterprise(uscc: "%s") { name bankAccounts { number } } }' % uscc(1)
    response = await harness.query(query)
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["enterprise"]["name"]
    assert body["errors"][0]["extensions"]["code"] == "AGENCY_UNAVAILABLE"


async def test_get_reads_query_variables_operation_name_and_extensions(harness: Harness) -> None:
    params = {
        "query": "query A { __typename } query B($u: USCC!) { enterprise(uscc: $u) { name } }",
        "operationName": "B",
        "variables": json.dumps({"u": uscc(2)}),
        "extensions": json.dumps({"client": "test"}),
    }
    response = await harness.client.get("/graphql", params=params, headers=harness.headers())
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"enterprise": {"name": "测试2号财富管理有限公司"}}}
    assert harness.audit.records[-1].operation_name == "B"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "no 'query'"),
        ({"query": "{ __typename }", "variables": "{"}, "not valid JSON"),
        ({"query": "{ __typename }", "variables": "[1]"}, "'variables' must be a JSON object"),
        ({"query": "{ __typename }", "extensions": '"x"'}, "'extensions' must be a JSON object"),
    ],
)
async def test_bad_get_requests_are_400(
    harness: Harness, params: dict[str, str], fragment: str
) -> None:
    response = await harness.client.get("/graphql", params=params, headers=harness.headers())
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST" and fragment in error["message"]


@pytest.mark.parametrize("name", ["query", "variables", "operationName", "extensions"])
@pytest.mark.parametrize("bad", ["%FF", "%C3%28", "%ED%A0%80", "%C0%AF"])
async def test_get_refuses_parameters_that_are_not_percent_encoded_utf8(
    harness: Harness, name: str, bad: str
) -> None:
    """Not decoded with U+FFFD for what the client did not send: refused, as POST refuses a body
    that is not UTF-8 (a refused request: one record, no agency asked)."""
    params = {"query": "%7B__typename%7D", name: bad}
    url = "/graphql?" + "&".join(f"{k}={v}" for k, v in params.items())
    response = await harness.client.get(url, headers=harness.headers())
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"].startswith(f"The query string parameter '{name}' is not UTF-8")
    assert harness.audit.records[-1].status == 400
    assert all(not a.calls for a in harness.agencies.values())


def test_raw_non_ascii_bytes_in_a_query_string_are_not_utf8_text() -> None:
    with pytest.raises(BadRequest, match="'query' is not UTF-8"):
        _query_parameters('query={ enterprises(nameContains: "财富") }'.encode())
    with pytest.raises(BadRequest, match="'query' is not UTF-8"):
        _query_parameters(b"query=caf\xe9")
    assert _query_parameters(b"query=%E8%B4%A2&other=%FF&query=%7Bx%7D") == {"query": "{x}"}


async def test_get_takes_percent_encoded_utf8(harness: Harness) -> None:
    query = '{ enterprises(nameContains: "财富", first: 1) { totalCount } }'
    response = await harness.client.get(
        "/graphql", params={"query": query}, headers=harness.headers()
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["enterprises"]["totalCount"] >= 1


@pytest.mark.parametrize("number", [b"9" * 5000, b"1e999", b"-1e400"])
async def test_a_number_no_double_holds_is_said_to_be_out_of_range(
    harness: Harness, number: bytes
) -> None:
    body = b'{"query": "query($v: Int) { __typename }", "variables": {"v": %s}}' % number
    response = await harness.client.post(
        "/graphql", content=body, headers=harness.headers() | {"content-type": "application/json"}
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"].startswith("A number in the request is out of range")
    get = await harness.client.get(
        "/graphql",
        params={
            "query": "query($v: Int) { __typename }",
            "variables": '{"v": %s}' % number.decode(),
        },
        headers=harness.headers(),
    )
    assert get.json()["errors"][0]["message"].startswith("A number in the request is out of")


@pytest.mark.parametrize(
    "body", [b'{"variables": {"v": 1e999}', b'{"v": 1e999, }', b'{"v": NaN}', b"\xff1e999"]
)
async def test_invalid_json_is_invalid_json_whatever_numbers_it_holds(
    harness: Harness, body: bytes
) -> None:
    response = await harness.client.post(
        "/graphql", content=body, headers=harness.headers() | {"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "The request is not valid JSON."


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [
        ("mutation { __typename }", None),
        ("mutation M { __typename }", "M"),
        ("query Q { __typename } mutation M { __typename }", "M"),
        ("subscription { __typename }", None),
    ],
)
async def test_a_mutation_over_get_is_405_before_anything_runs(
    harness: Harness, query: str, operation_name: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schema has no mutations yet: the document alone decides, before analysis."""
    ran: list[object] = []

    async def run(*args: object) -> None:
        ran.append(args)

    monkeypatch.setattr(harness.gateway.pipeline.executor, "run", run)
    params = {"query": query} | ({"operationName": operation_name} if operation_name else {})
    response = await harness.client.get("/graphql", params=params, headers=harness.headers())
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "Only queries may be sent with GET" in error["message"]
    assert not ran and all(not a.calls for a in harness.agencies.values())
    record = harness.audit.records[-1]
    assert record.status == 405 and record.outcome == "refused"
    assert record.subject == "jit.member"
    # the same document over POST is not refused for its method
    post = await harness.client.post(
        "/graphql", json=params | {"query": query}, headers=harness.headers()
    )
    assert post.status_code != 405


@pytest.mark.parametrize(
    "method", ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "MKCOL", "BREW"]
)
async def test_other_methods_are_405(harness: Harness, method: str) -> None:
    """Every method reaches the pipeline: refused there, with one audit record (TRACE and
    WebDAV or made-up verbs used to get Starlette's own 405, plain text and unaudited)."""
    response = await harness.client.request(method, "/graphql", headers=harness.headers())
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.headers["x-request-id"]
    if method != "HEAD":
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "BAD_REQUEST"}
    [record] = harness.audit.records
    assert (record.status, record.outcome, record.error_codes) == (405, "refused", ["BAD_REQUEST"])
    assert record.request_id == response.headers["x-request-id"]
    # who sent it, since the token is valid (docs/graphql-over-http.md)
    assert (record.subject, record.agency) == ("jit.member", "police")
    assert all(not agency.calls for agency in harness.agencies.values())
    # the method is refused first, whatever else the request gets wrong
    other = await harness.client.request(method, "/graphql", headers={"accept": "text/html"})
    assert (other.status_code, other.headers["allow"]) == (405, "GET, POST")
    assert "www-authenticate" not in other.headers and harness.audit.records[-1].subject is None
    forged = harness.headers() | {"authorization": "Bearer x.y.z"}
    refused = await harness.client.request(method, "/graphql", headers=forged)
    assert refused.status_code == 405 and harness.audit.records[-1].subject is None


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("application/x-www-form-urlencoded", b"query=%7B__typename%7D"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{ __typename }\r\n--x--\r\n',
        ),
        ("text/plain", b'{"query": "{ __typename }"}'),
        ("text/plain;charset=UTF-8", b'{"query": "{ __typename }"}'),
        ("application/graphql", b"{ __typename }"),
        ("application/json; charset=latin-1", b'{"query": "{ __typename }"}'),
        (None, b'{"query": "{ __typename }"}'),
    ],
)
async def test_only_json_bodies_are_read(
    harness: Harness, content_type: str | None, content: bytes
) -> None:
    headers = harness.headers() | ({"content-type": content_type} if content_type else {})
    response = await harness.client.post("/graphql", content=content, headers=headers)
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "data" not in response.json()


async def test_utf8_json_bodies_are_read(harness: Harness) -> None:
    for content_type in ("application/json", "application/json; charset=utf-8"):
        response = await harness.client.post(
            "/graphql",
            content='{"query": "{ __typename } # 鑫盛 🏃"}'.encode(),
            headers=harness.headers() | {"content-type": content_type},
        )
        assert response.status_code == 200, response.text


async def test_body_size_is_limited_by_setting(tmp_path: Path) -> None:
    async with open_harness(tmp_path, max_body_bytes=1024) as harness:
        padded = TYPENAME | {"extensions": {"pad": "x" * 2000}}
        declared = await harness.client.post("/graphql", json=padded, headers=harness.headers())

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
            yield json.dumps(padded).encode()

        streamed = await harness.client.post(
            "/graphql", content=chunks(), headers=harness.headers() | {"content-type": JSON}
        )
        for response in (declared, streamed):
            assert response.status_code == 413
            (error,) = response.json()["errors"]
            assert error["extensions"]["code"] == "BAD_REQUEST"
            assert "gateway.max_body_bytes" in error["message"]
        fits = await harness.client.post("/graphql", json=TYPENAME, headers=harness.headers())
        assert fits.status_code == 200


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_json_nesting_is_limited_by_setting(tmp_path: Path) -> None:
    query = "query($u: USCC!) { enterprise(uscc: $u) { name } }"
    async with open_harness(tmp_path, max_json_depth=5) as harness:
        # the body is level 1, variables level 2, so a variable may hold 3 more levels
        fine = TYPENAME | {"variables": {"n": _nested(3)}}
        deep = TYPENAME | {"variables": {"n": _nested(4)}}
        assert (
            await harness.client.post("/graphql", json=fine, headers=harness.headers())
        ).status_code == 200
        get_deep = {"query": query, "variables": json.dumps({"u": _nested(4)})}
        for response in (
            await harness.client.post("/graphql", json=deep, headers=harness.headers()),
            await harness.client.post(
                "/graphql", json=TYPENAME | {"extensions": _nested(6)}, headers=harness.headers()
            ),
            await harness.client.get("/graphql", params=get_deep, headers=harness.headers()),
        ):
            assert response.status_code == 400
            (error,) = response.json()["errors"]
            assert error["extensions"]["code"] == "BAD_REQUEST"
            assert "gateway.max_json_depth" in error["message"]
        assert all(not a.calls for a in harness.agencies.values())


async def test_json_nested_past_any_parser_limit_is_a_clean_400(harness: Harness) -> None:
    body = b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    response = await harness.client.post(
        "/graphql", content=body, headers=harness.headers() | {"content-type": JSON}
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    # the parser's own limit (1,024 levels) reads as the setting's, not as "not valid JSON"
    assert "gateway.max_json_depth" in error["message"], error


async def test_batches_are_refused_by_default(harness: Harness) -> None:
    batch = [{"query": '{ enterprise(uscc: "%s") { name } }' % uscc(1)}] * 3
    response = await harness.client.post("/graphql", json=batch, headers=harness.headers())
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "gateway.batching" in error["message"]
    assert all(not a.calls for a in harness.agencies.values())
    assert [r.status for r in harness.audit.records] == [400]


async def test_batching_when_enabled_runs_each_operation_as_its_own_request(tmp_path: Path) -> None:
    async with open_harness(tmp_path, batching=True, max_batch_operations=3) as harness:
        batch = [
            {"query": '{ enterprise(uscc: "%s") { name } }' % uscc(1)},
            {
                "query": "query($u: USCC!) { enterprise(uscc: $u) { name } }",
                "variables": {"u": uscc(2)},
            },
            {"query": "{ nope }"},
        ]
        response = await harness.client.post("/graphql", json=batch, headers=harness.headers())
        assert response.status_code == 200
        assert response.headers["content-type"] == GRAPHQL_RESPONSE
        first, second, third = response.json()
        assert first == {"data": {"enterprise": {"name": "测试1号财富管理有限公司"}}}
        assert second == {"data": {"enterprise": {"name": "测试2号财富管理有限公司"}}}
        assert third["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        ids = response.headers["x-request-id"].split(",")
        assert ids == [r.request_id for r in harness.audit.records]
        assert [r.status for r in harness.audit.records] == [200, 200, 400]

        single = await harness.client.post("/graphql", json=TYPENAME, headers=harness.headers())
        assert single.json() == {"data": {"__typename": "Query"}}  # not wrapped in an array

        unauthenticated = await harness.client.post("/graphql", json=[TYPENAME, TYPENAME])
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["www-authenticate"].startswith("Bearer")


async def test_batches_past_the_limit_or_malformed_are_refused_whole(tmp_path: Path) -> None:
    async with open_harness(tmp_path, batching=True, max_batch_operations=3) as harness:
        too_many = [{"query": '{ enterprise(uscc: "%s") { name } }' % uscc(1)}] * 4
        response = await harness.client.post("/graphql", json=too_many, headers=harness.headers())
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": "max_batch_operations"}
        assert "gateway.max_batch_operations" in error["message"]
        for malformed in ([], [TYPENAME, "{ __typename }"], [[TYPENAME]]):
            response = await harness.client.post(
                "/graphql", json=malformed, headers=harness.headers()
            )
            assert response.status_code == 400
            assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert all(not a.calls for a in harness.agencies.values())
        assert [r.status for r in harness.audit.records] == [400] * 4  # one record per refusal


@pytest.mark.parametrize("declared", [b"\xb2", b"\xb9\xb2\xb3", b"-1", b"1e3"])
async def test_a_content_length_of_other_than_ascii_digits_is_not_trusted(
    harness: Harness, declared: bytes
) -> None:
    """``'²'.isdigit()`` is true and ``int('²')`` raises: that was a 500. A server in front
    (uvicorn's parser) refuses such a header; behind any other, the body is read and bounded as
    it arrives."""
    headers = [(k.encode(), v.encode()) for k, v in harness.headers().items()]
    headers += [(b"content-type", b"application/json"), (b"content-length", declared)]
    response = await harness.client.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers=headers
    )
    assert response.status_code == 200, response.text
    assert harness.audit.records[-1].status == 200
