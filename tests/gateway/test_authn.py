"""Token verification: real signed JWTs, and the classic attacks on them."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet, OctKey

from gateway.authn import AuthSettings, TokenVerifier, _principal
from kernel.errors import Unauthenticated
from kernel.text import unfit_name, unprintable
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, load_or_create_keys, mint_token, public_keys

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
    payload = json.dumps(claims)  # ASCII, \u escapes: also a lone surrogate a JSON string may hold
    return jws.serialize_compact({"alg": "ES256", "kid": str(key.kid), **header}, payload, private)


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
        # the subject names the caller in every audit record: a real, clean name
        ({"sub": ""}, "'sub' must be"),
        ({"sub": " u1"}, "'sub' must be"),
        ({"sub": "u1\n"}, "'sub' must be"),
        ({"sub": "u\u0000 1"}, "'sub' must be"),
        ({"sub": "\u202eu1"}, "'sub' must be"),
        ({"sub": "u\u2028 1"}, "'sub' must be"),
        ({"sub": "\ud800"}, "'sub' must be"),
        # typed claims are typed: nothing is coerced
        ({"clearance": "3"}, "'clearance' must be an integer from 0 to 3"),
        ({"clearance": 3.9}, "'clearance' must be an integer from 0 to 3"),
        ({"clearance": 3.0}, "'clearance' must be an integer from 0 to 3"),
        ({"clearance": True}, "'clearance' must be an integer from 0 to 3"),
        ({"clearance": -1}, "'clearance' must be an integer from 0 to 3"),
        ({"clearance": 4}, "'clearance' must be an integer from 0 to 3"),
        ({"clearance": 10**30}, "'clearance' must be an integer from 0 to 3"),
        ({"roles": [""]}, "'roles' must be a list"),
        ({"roles": ["investigator", 1]}, "'roles' must be a list"),
        ({"roles": ["investigator\r"]}, "'roles' must be a list"),
        ({"roles": [" investigator"]}, "'roles' must be a list"),
        ({"agency": ""}, "'agency' must be"),
        ({"agency": ["police"]}, "'agency' must be"),
        ({"agency": "police\u0000"}, "'agency' must be"),
        ({"agency": " police"}, "'agency' must be"),
        ({"name": 7}, "'name' must be"),
        ({"name": "王\u202e建国"}, "'name' must be"),
        ({"jti": 7}, "'jti'"),
        ({"azp": ["app"]}, "'azp' must be"),
        ({"azp": "app\n"}, "'azp' must be"),
        ({"client_id": 7}, "'client_id' must be"),
        # names that show as nothing, or as another name (docs/configuration.md#tokens)
        ({"sub": "\u3164"}, "'sub' must be"),
        ({"sub": "\u2800"}, "'sub' must be"),
        ({"sub": "\uffa0"}, "'sub' must be"),
        ({"sub": "u1\u034f"}, "'sub' must be"),
        ({"sub": "u1\ufe0f"}, "'sub' must be"),
        ({"sub": "u\u00a01"}, "'sub' must be"),
        ({"sub": "u 1"}, "'sub' must be"),
        ({"sub": "\u0301u1"}, "'sub' must be"),
        ({"sub": "mu\u0308ller"}, "'sub' must be"),
        ({"sub": "u1\ue000"}, "'sub' must be"),
        ({"sub": "u1\uffff"}, "'sub' must be"),
        ({"agency": "police\u3164"}, "'agency' must be"),
        ({"roles": ["investigator\u034f"]}, "'roles' must be a list"),
        ({"roles": ["jit member"]}, "'roles' must be a list"),
        ({"jti": "a b"}, "'jti' must be"),
        ({"jti": "\u2800"}, "'jti' must be"),
        ({"azp": "app\u3164"}, "'azp' must be"),
        ({"name": "\u3164"}, "'name' must be"),
        ({"name": "王\u0336建国"}, "'name' must be"),
        # dates are numbers, and said to be wrong as such
        ({"iat": "x"}, "'iat' must be a number"),
        ({"nbf": "x"}, "'nbf' must be a number"),
        ({"exp": str(int(time.time()) + 600)}, "'exp' must be a number"),
        ({"exp": True}, "'exp' must be a number"),
        ({"iat": [1]}, "'iat' must be a number"),
        ({"exp": float("inf")}, "'exp' must be a number"),  # json.dumps writes Infinity
    ],
)
async def test_claims_are_checked(
    tmp_path: Path, verifier: TokenVerifier, overrides: dict[str, object], reason: str
) -> None:
    token = _sign(tmp_path, _claims(**overrides))
    with pytest.raises(Unauthenticated, match=reason):
        await verifier.authenticate(f"Bearer {token}")


async def test_optional_claims_may_be_absent_or_empty(
    tmp_path: Path, verifier: TokenVerifier
) -> None:
    token = _sign(tmp_path, _claims(name="", jti="", roles=[], clearance=0, client_id="app"))
    principal = await verifier.authenticate(f"Bearer {token}")
    assert (principal.name, principal.token_id, principal.client) == ("", "", "app")
    assert (principal.roles, principal.clearance) == (frozenset(), 0)


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


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=5,
)
_CLAIM_VALUES = {
    "sub": st.text() | _JSON,
    "agency": st.sampled_from(["police", "", " police"]) | st.text() | _JSON,
    "roles": st.lists(st.text(), max_size=3) | _JSON,
    "clearance": st.integers(-2, 5) | _JSON,
    "name": st.text() | _JSON,
    "jti": st.text() | _JSON,
    "azp": st.text() | _JSON,
    "client_id": st.text() | _JSON,
}


@given(st.fixed_dictionaries({}, optional=_CLAIM_VALUES))
def test_whatever_the_claims_hold_the_principal_is_well_formed_or_refused(
    claims: dict[str, object],
) -> None:
    """Nothing downstream (audit record, rate-limit keys, policy entities, review queue) can
    trip over a principal: every one that is made has clean, typed attributes."""
    claims = {"sub": "u1", "agency": "police", "roles": [], "clearance": 0} | claims
    try:
        principal = _principal(claims)
    except Unauthenticated:
        return
    for text in (principal.subject, principal.agency, *principal.roles):
        assert not unfit_name(text)
    for text in (principal.token_id, principal.client):
        assert text == "" or not unfit_name(text)
    assert isinstance(principal.name, str) and not unprintable(principal.name)
    assert type(principal.clearance) is int and 0 <= principal.clearance <= 3
    orjson.dumps([principal.subject, principal.agency, sorted(principal.roles), principal.name])
    principal.digest  # noqa: B018  (hashes the UTF-8 of every attribute)
