"""The token attacks through the whole gateway: each one is 401 UNAUTHENTICATED, names no
internals, asks no agency and leaves exactly one audit record (tests/gateway/test_authn.py
checks the verifier itself)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, load_or_create_keys, public_keys
from tests.gateway.conftest import open_harness, uscc

QUERY = '{ enterprise(uscc: "%s") { name } }' % uscc(1)


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": "jit.member", "agency": "police",
        "roles": ["investigator"], "clearance": 2, "iat": now, "nbf": now, "exp": now + 600,
    }  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _signed(data_dir: Path, claims: dict[str, object]) -> str:
    private = load_or_create_keys(data_dir)
    return jwt.encode({"alg": "ES256", "kid": str(private.keys[0].kid)}, claims, private)


def _alg_none(data_dir: Path) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."


def _key_confusion(data_dir: Path) -> str:
    public = json.dumps(public_keys(data_dir).as_dict(private=False)["keys"][0]).encode()
    return jwt.encode({"alg": "HS256"}, _claims(), OctKey.import_key(public))


def _unknown_kid(data_dir: Path) -> str:
    foreign = ECKey.generate_key("P-256", auto_kid=True)
    return jwt.encode({"alg": "ES256", "kid": foreign.kid}, _claims(), foreign)


def _tampered(data_dir: Path) -> str:
    header, _, signature = _signed(data_dir, _claims()).split(".")
    return f"{header}.{_b64(_claims(roles=['policy-admin'], clearance=3))}.{signature}"


ATTACKS: dict[str, Callable[[Path], str]] = {
    "alg none": _alg_none,
    "HMAC with the public key (key confusion)": _key_confusion,
    "unknown kid": _unknown_kid,
    "tampered payload": _tampered,
    "expired": lambda d: _signed(d, _claims(exp=int(time.time()) - 120)),
    "not yet valid": lambda d: _signed(d, _claims(nbf=int(time.time()) + 600)),
    "wrong issuer": lambda d: _signed(d, _claims(iss="https://evil.example")),
    "wrong audience": lambda d: _signed(d, _claims(aud="another-service")),
    "missing agency": lambda d: _signed(d, _claims(agency=None)),
    "missing roles and clearance": lambda d: _signed(d, _claims(roles=None, clearance=None)),
    "not a JWT": lambda d: "not.a.jwt",
    "empty subject": lambda d: _signed(d, _claims(sub="")),
    "subject with a line break": lambda d: _signed(d, _claims(sub="jit.member\nadmin")),
    "clearance as a string": lambda d: _signed(d, _claims(clearance="3")),
    "clearance as a fraction": lambda d: _signed(d, _claims(clearance=3.9)),
    "clearance as a boolean": lambda d: _signed(d, _claims(clearance=True)),
    "clearance out of range": lambda d: _signed(d, _claims(clearance=9)),
}


@pytest.mark.parametrize("attack", ATTACKS)
async def test_every_token_attack_is_401_with_an_audit_record(tmp_path: Path, attack: str) -> None:
    async with open_harness(tmp_path) as harness:
        headers = harness.headers() | {"authorization": f"Bearer {ATTACKS[attack](tmp_path)}"}
        response = await harness.client.post("/graphql", json={"query": QUERY}, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "UNAUTHENTICATED"}
        assert "data" not in response.json()
        assert "Traceback" not in response.text and "joserfc" not in response.text.lower()
        [record] = harness.audit.records
        assert (record.status, record.outcome, record.error_codes) == (
            401,
            "refused",
            ["UNAUTHENTICATED"],
        )
        assert record.subject is None  # an unverified claim never names the caller
        assert all(not agency.calls for agency in harness.agencies.values())


async def test_the_leeway_admits_a_token_just_past_its_expiry(tmp_path: Path) -> None:
    async with open_harness(tmp_path, token_leeway_s=30) as harness:
        late = _signed(tmp_path, _claims(exp=int(time.time()) - 10))
        headers = harness.headers() | {"authorization": f"Bearer {late}"}
        response = await harness.client.post("/graphql", json={"query": QUERY}, headers=headers)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("sub", ["", " ", "\u202e"])
async def test_break_glass_with_a_nameless_subject_is_401_not_500(tmp_path: Path, sub: str) -> None:
    """An emergency read must name who made it: a token without a usable ``sub`` never gets as
    far as the review queue (it used to, and failed there with a 500)."""
    async with open_harness(tmp_path) as harness:
        token = _signed(
            tmp_path, _claims(sub=sub, roles=["investigator", "emergency"], clearance=3)
        )
        headers = harness.headers(case="J1101052026000004") | {
            "authorization": f"Bearer {token}",
            "x-break-glass": "suspect%20about%20to%20move%20funds",
        }
        balance = '{ enterprise(uscc: "%s") { bankAccounts { balance } } }' % uscc(4)
        response = await harness.client.post("/graphql", json={"query": balance}, headers=headers)
        assert response.status_code == 401, response.text
        [record] = harness.audit.records
        assert (record.status, record.error_codes, record.subject) == (
            401,
            ["UNAUTHENTICATED"],
            None,
        )
        assert all(not agency.calls for agency in harness.agencies.values())
