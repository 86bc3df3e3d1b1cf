"""Persisted operations: hashes instead of documents, and clients held to a trusted list."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gateway.persisted import PersistedOperations, PersistedQueryError

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
