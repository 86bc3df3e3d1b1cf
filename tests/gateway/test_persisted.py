"""Persisted operations: hashes instead of documents, and clients held to a trusted list."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from gateway.persisted import PersistedOperations, PersistedQueryError, PersistedSettings
from gateway.settings import from_mapping
from kernel.config import ConfigError
from sandbox.issuer import mint_token
from tests.gateway.conftest import Harness, open_harness, uscc

TRUSTED = '{ enterprise(uscc: "91350100M000100Y43") { name } }'
OTHER = "{ __typename }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ext(text: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


def test_automatic_persisted_queries_round_trip() -> None:
    ops = PersistedOperations()
    with pytest.raises(PersistedQueryError) as caught:
        ops.resolve(None, ext(OTHER), "web")
    assert (
        caught.value.code == "PERSISTED_QUERY_NOT_FOUND"
        and caught.value.message == "PersistedQueryNotFound"
    )
    assert ops.resolve(OTHER, ext(OTHER), "web") == OTHER  # the client sends it once
    assert ops.resolve(None, ext(OTHER), "web") == OTHER  # and then only the hash


def test_a_document_sent_by_one_user_is_not_known_to_another() -> None:
    ops = PersistedOperations(cache_size=2)
    assert ops.resolve(OTHER, ext(OTHER), "web", user="alice") == OTHER
    for user in ("bob", ""):
        with pytest.raises(PersistedQueryError) as caught:
            ops.resolve(None, ext(OTHER), "web", user=user)  # as for a hash nobody ever sent
        assert caught.value.code == "PERSISTED_QUERY_NOT_FOUND"
    assert ops.resolve(None, ext(OTHER), "kiosk", user="alice") == OTHER  # hers, from any client
    for n in range(3):  # bounded however many users register
        ops.resolve(OTHER, ext(OTHER), "web", user=f"user{n}")
    assert len(ops._seen) == 2


def test_a_wrong_hash_is_refused() -> None:
    with pytest.raises(PersistedQueryError) as caught:
        PersistedOperations().resolve(OTHER, ext(TRUSTED), "web")
    assert caught.value.code == "PERSISTED_QUERY_HASH_MISMATCH"


def test_restricted_clients_run_only_trusted_operations(tmp_path: Path) -> None:
    path = tmp_path / "trusted.json"
    path.write_text(json.dumps({sha(TRUSTED): TRUSTED}))
    ops = PersistedOperations.from_file(path, frozenset({"kiosk"}))
    assert ops.resolve(None, ext(TRUSTED), "kiosk") == TRUSTED
    assert ops.resolve(TRUSTED, None, "kiosk") == TRUSTED
    ops.resolve(OTHER, ext(OTHER), "web")  # known to the cache, but not trusted
    for query, extensions in ((OTHER, None), (None, ext(OTHER))):
        with pytest.raises(PersistedQueryError) as caught:
            ops.resolve(query, extensions, "kiosk")
        assert caught.value.code == "PERSISTED_QUERY_NOT_ALLOWED" and caught.value.status == 403
    assert ops.resolve(OTHER, None, "web") == OTHER  # unrestricted clients send anything


def test_a_trusted_file_with_a_wrong_hash_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trusted.json"
    path.write_text(json.dumps({sha(OTHER): TRUSTED}))
    with pytest.raises(ValueError, match="not the sha256 of its query"):
        PersistedOperations.from_file(path)


# -- through the gateway ---------------------------------------------------------------------------

ENTERPRISE = "query Name($uscc: USCC!) { enterprise(uscc: $uscc) { name } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


async def _post(
    harness: Harness, body: dict[str, object], user: str = "jit.member", client: str = "web"
) -> httpx.Response:
    headers = harness.headers(user)
    headers["authorization"] = f"Bearer {mint_token(user, harness.data_dir, client=client)}"
    return await harness.client.post(
        "/graphql", json=body, headers=headers | {"accept": GRAPHQL_RESPONSE}
    )


async def test_a_hash_alone_runs_a_document_sent_once(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as harness:
        variables = {"uscc": uscc(1)}
        only_hash = {"variables": variables, "extensions": ext(ENTERPRISE)}
        unknown = await _post(harness, only_hash)
        assert unknown.status_code == 400
        assert [e["extensions"]["code"] for e in unknown.json()["errors"]] == [
            "PERSISTED_QUERY_NOT_FOUND"
        ]
        assert harness.audit.records[-1].error_codes == ["PERSISTED_QUERY_NOT_FOUND"]
        assert not harness.agencies["market"].calls  # nothing was asked of any agency

        registered = await _post(harness, {"query": ENTERPRISE, **only_hash})
        assert registered.status_code == 200, registered.text
        by_hash = await _post(harness, only_hash)
        assert by_hash.json() == registered.json()
        assert by_hash.json()["data"]["enterprise"]["name"].startswith("测试1号")
        record = harness.audit.records[-1]
        assert (record.query_text, record.query_hash) == (ENTERPRISE, sha(ENTERPRISE))

        # the same hash over GET, as CDN-friendly clients send it
        params = {"extensions": json.dumps(ext(ENTERPRISE)), "variables": json.dumps(variables)}
        got = await harness.client.get("/graphql", params=params, headers=harness.headers())
        assert got.json() == registered.json()

        # legacy application/json clients get the not-found error in a 200, as Apollo expects
        legacy = await harness.client.post(
            "/graphql",
            json={"extensions": ext(OTHER)},
            headers=harness.headers() | {"accept": "application/json"},
        )
        assert legacy.status_code == 200
        assert legacy.json()["errors"][0]["message"] == "PersistedQueryNotFound"


async def test_a_hash_lookup_does_not_tell_what_other_users_sent(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as harness:
        literal = '{ enterprise(uscc: "%s") { name } }' % uscc(4)  # who looked this one up?
        sent = await _post(harness, {"query": literal, "extensions": ext(literal)})
        assert sent.status_code == 200, sent.text
        probe = await _post(harness, {"extensions": ext(literal)}, user="police.investigator")
        never = await _post(harness, {"extensions": ext(OTHER)}, user="police.investigator")
        assert probe.status_code == never.status_code == 400
        assert probe.json() == never.json() == {
            "errors": [
                {"message": "PersistedQueryNotFound",
                 "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
            ]
        }  # fmt: skip
        again = await _post(harness, {"extensions": ext(literal)})  # the sender's own, by hash
        assert again.json() == sent.json()


async def test_a_hash_without_a_token_is_refused_before_it_is_looked_up(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as harness:
        refused = await harness.client.post("/graphql", json={"extensions": ext(OTHER)})
        assert refused.status_code == 401
        assert harness.audit.records[-1].error_codes == ["UNAUTHENTICATED"]


async def test_restricted_clients_are_held_to_the_trusted_list(tmp_path: Path) -> None:
    trusted = tmp_path / "trusted.json"
    trusted.write_text(json.dumps({sha(ENTERPRISE): ENTERPRISE}))
    settings = PersistedSettings(trusted, frozenset({"kiosk"}))
    async with open_harness(tmp_path, persisted=settings) as harness:
        variables = {"uscc": uscc(2)}
        ok = await _post(
            harness, {"variables": variables, "extensions": ext(ENTERPRISE)}, client="kiosk"
        )
        assert ok.status_code == 200 and ok.json()["data"]["enterprise"]["name"]
        for body in ({"query": OTHER}, {"query": OTHER, "extensions": ext(OTHER)}):
            refused = await _post(harness, body, client="kiosk")
            assert refused.status_code == 403
            [error] = refused.json()["errors"]
            assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
        other_client = await _post(harness, {"query": OTHER}, client="web")
        assert other_client.status_code == 200  # only the named clients are restricted


MINIMAL = {
    "auth": {"issuer": "https://idp.example", "audience": "jg", "jwks_url": "https://idp/jwks"},
    "agencies": {name: {"url": f"http://{name}.example"} for name in ("police", "market", "courts")}
    | {"banking": {"url": "http://bank.example", "key_file": "bank.key"}},
}


def test_the_trusted_file_is_checked_at_start(tmp_path: Path) -> None:
    (tmp_path / "bank.key").write_text("k")
    (tmp_path / "bad.json").write_text(json.dumps({"0" * 64: OTHER}))
    for table, message in (
        ({"trusted_file": "missing.json"}, "persisted_operations.trusted_file: cannot read"),
        ({"trusted_file": "bad.json"}, "is not the sha256 of its query"),
        ({"restricted_clients": ["kiosk"]}, "trusted_file: required with restricted_clients"),
        ({"restricted_clients": "kiosk", "trusted_file": "bad.json"}, "a list of client ids"),
        ({"trusted": "x"}, "persisted_operations.trusted: unknown key"),
    ):
        raw = {**MINIMAL, "persisted_operations": table}
        with pytest.raises(ConfigError, match=message):
            from_mapping(raw, base=tmp_path)
