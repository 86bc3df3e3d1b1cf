"""Token verification: real signed JWTs, and the classic attacks on them."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey

from gateway.authn import AuthSettings, TokenVerifier
from gateway.errors import Unauthenticated
from gateway.issuer import DEMO_AUDIENCE, DEMO_ISSUER, load_or_create_keys, mint_token, public_keys

SETTINGS = AuthSettings(DEMO_ISSUER, DEMO_AUDIENCE, leeway_s=5)


@pytest.fixture
def keys(tmp_path: Path) -> KeySet:
    load_or_create_keys(tmp_path)
    return public_keys(tmp_path)


@pytest.fixture
def verifier(keys: KeySet) -> TokenVerifier:
    return TokenVerifier(SETTINGS, lambda: keys)


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": "u1", "agency": "police",
        "roles": ["investigator"], "clearance": 2, "iat": now, "nbf": now, "exp": now + 600,
    }  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(tmp_path: Path, claims: dict[str, object], **header: str) -> str:
    private = load_or_create_keys(tmp_path)
    key = private.keys[0]
    return jwt.encode({"alg": "ES256", "kid": str(key.kid), **header}, claims, private)


async def test_a_demo_token_yields_the_principal(tmp_path: Path, verifier: TokenVerifier) -> None:
    principal = await verifier.authenticate(f"Bearer {mint_token('bank.analyst', tmp_path)}")
    assert principal.subject == "bank.analyst"
    assert principal.agency == "banking"
    assert principal.roles == frozenset({"analyst", "regulator"})
    assert principal.clearance == 3


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not yet valid"),
        ({"iss": "https://evil.example"}, "wrong value"),
        ({"aud": "someone-else"}, "wrong value"),
        ({"agency": None}, "missing claims agency"),
        ({"roles": None, "clearance": None}, "missing claims roles, clearance"),
        ({"roles": "investigator"}, "'roles' must be a list"),
        ({"clearance": "top"}, "'clearance' must be an integer"),
    ],
)
async def test_claims_are_checked(
    tmp_path: Path, verifier: TokenVerifier, overrides: dict[str, object], reason: str
) -> None:
    token = _sign(tmp_path, _claims(**overrides))
    with pytest.raises(Unauthenticated, match=reason):
        await verifier.authenticate(f"Bearer {token}")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_alg_none_is_rejected(verifier: TokenVerifier) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    with pytest.raises(Unauthenticated, match="signature"):
        await verifier.authenticate(f"Bearer {token}")


async def test_hmac_token_signed_with_the_public_key_is_rejected(
    keys: KeySet, verifier: TokenVerifier
) -> None:
    public = json.dumps(keys.as_dict(private=False)["keys"][0]).encode()
    confused = OctKey.import_key(public)
    token = jwt.encode({"alg": "HS256"}, _claims(), confused)
    with pytest.raises(Unauthenticated, match="signature"):
        await verifier.authenticate(f"Bearer {token}")


async def test_unknown_key_and_foreign_signature_are_rejected(verifier: TokenVerifier) -> None:
    foreign = ECKey.generate_key("P-256", auto_kid=True)
    token = jwt.encode({"alg": "ES256", "kid": foreign.kid}, _claims(), foreign)
    with pytest.raises(Unauthenticated):
        await verifier.authenticate(f"Bearer {token}")


async def test_tampered_payload_is_rejected(tmp_path: Path, verifier: TokenVerifier) -> None:
    header, _, signature = _sign(tmp_path, _claims()).split(".")
    forged = f"{header}.{_b64(_claims(clearance=3, roles=['policy-admin']))}.{signature}"
    with pytest.raises(Unauthenticated):
        await verifier.authenticate(f"Bearer {forged}")


async def test_verified_tokens_are_cached_until_they_expire(tmp_path: Path, keys: KeySet) -> None:
    calls = []

    def counting() -> KeySet:
        calls.append(1)
        return keys

    verifier = TokenVerifier(SETTINGS, counting)
    token = f"Bearer {mint_token('auditor', tmp_path)}"
    assert await verifier.authenticate(token) == await verifier.authenticate(token)
    assert len(calls) == 1
    expired = f"Bearer {_sign(tmp_path, _claims(exp=int(time.time()) - 60))}"
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await verifier.authenticate(expired)


async def test_a_rotated_key_is_fetched_once_and_unknown_kids_cannot_flood_the_issuer(
    tmp_path: Path,
) -> None:
    from gateway.jwks import KeySource

    load_or_create_keys(tmp_path)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_keys(tmp_path).as_dict(private=False)))
    source = KeySource(file=jwks, min_refetch_s=60)
    await source.refresh()
    verifier = TokenVerifier(SETTINGS, source, source.refetch_for)
    rotated = ECKey.generate_key("P-256", auto_kid=True)
    token = jwt.encode({"alg": "ES256", "kid": rotated.kid}, _claims(), rotated)
    # the issuer publishes the new key: the first token naming it triggers one refetch
    jwks.write_text(
        json.dumps(KeySet([*public_keys(tmp_path).keys, rotated]).as_dict(private=False))
    )
    assert (await verifier.authenticate(f"Bearer {token}")).subject == "u1"
    assert source.refreshes == 2
    for _ in range(5):  # made-up kids: at most one refetch per interval
        bogus = ECKey.generate_key("P-256", auto_kid=True)
        with pytest.raises(Unauthenticated):
            await verifier.authenticate(
                f"Bearer {jwt.encode({'alg': 'ES256', 'kid': bogus.kid}, _claims(), bogus)}"
            )
    assert source.refreshes == 2
