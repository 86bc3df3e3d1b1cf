"""Stage 2, authn: ``Authorization: Bearer <JWT>`` → :class:`Principal`.

Tokens are verified against a JWKS with joserfc (authlib's JOSE implementation since authlib
1.7 deprecated ``authlib.jose``): asymmetric algorithms only, so an HMAC token signed with a
public key (key confusion) or ``alg: none`` never verifies; then issuer, audience, expiry and the
JointGate claims (``agency``, ``roles``, ``clearance``) and every other claim read are checked
for type and content (:func:`_principal`). Verified tokens are cached
until they expire, keyed by the token's hash, so the signature is checked once per token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwk import KeySet

from kernel.errors import Unauthenticated
from kernel.lru import LRU
from kernel.text import unfit_name, unprintable
from kernel.types import Principal

ALGORITHMS = ("ES256", "RS256", "EdDSA")
REQUIRED_CLAIMS = ("sub", "exp", "iat", "agency", "roles", "clearance")
NUMERIC_DATES = ("exp", "iat", "nbf")
CLEARANCES = range(4)  # 0-3, as the policies compare them (docs/policies.md)


@dataclass(frozen=True, slots=True)
class AuthSettings:
    issuer: str
    audience: str
    leeway_s: int = 30
    max_cached_tokens: int = 10_000


class TokenVerifier:
    """Verifies bearer tokens against a key set supplied by ``keys()`` (file or JWKS URL)."""

    def __init__(
        self,
        settings: AuthSettings,
        keys: Callable[[], KeySet],
        refetch: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.settings = settings
        self._keys = keys
        self._refetch = refetch
        # token digest -> (principal, expiry), least recently used first
        self._cache: LRU[bytes, tuple[Principal, float]] = LRU(settings.max_cached_tokens)

    async def authenticate(self, authorization: str | None) -> Principal:
        return (await self.verify(authorization))[0]

    async def verify(self, authorization: str | None) -> tuple[Principal, float]:
        """The principal and its token's expiry (``exp``, epoch seconds): a WebSocket
        connection authenticated once ends then (gateway/subscriptions.py)."""
        if not authorization:
            raise Unauthenticated("Missing bearer token (Authorization: Bearer <JWT>).")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("The Authorization header must be 'Bearer <JWT>'.")
        token = token.strip()
        digest = hashlib.blake2b(token.encode(), digest_size=20).digest()
        now = time.time()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] + self.settings.leeway_s > now:
            return cached
        kid = _kid(token)
        if kid is not None and self._refetch is not None and not _has_kid(self._keys(), kid):
            await self._refetch(kid)  # rate-limited inside; verification below decides
        verified = self._verify(token, now)
        self._cache[digest] = verified
        return verified

    def _verify(self, token: str, now: float) -> tuple[Principal, float]:
        try:
            decoded = jwt.decode(token, self._keys(), algorithms=list(ALGORITHMS))
        except (JoseError, ValueError) as exc:
            raise Unauthenticated("Invalid token: the signature could not be verified.") from exc
        claims = decoded.claims
        missing = [c for c in REQUIRED_CLAIMS if c not in claims]
        if missing:
            raise Unauthenticated(f"Invalid token: missing claims {', '.join(missing)}.")
        for claim in NUMERIC_DATES:  # else joserfc reports "iat": "x" as issued in the future
            value = claims.get(claim, 0)
            if type(value) not in (int, float) or not math.isfinite(value):
                raise Unauthenticated(
                    f"Invalid token: '{claim}' must be a number (seconds since 1970, NumericDate)."
                )
        leeway = self.settings.leeway_s
        registry = jwt.JWTClaimsRegistry(
            now=int(now),
            leeway=leeway,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise Unauthenticated(f"Invalid token: {_describe(exc)}.") from exc
        return _principal(claims), float(claims["exp"])


def _kid(token: str) -> str | None:
    """The ``kid`` of a compact JWS header, or None (verification then reports the problem)."""
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys.keys)


def _describe(exc: JoseError) -> str:
    if isinstance(exc, ExpiredTokenError):
        return "the token has expired"
    claim = getattr(exc, "claim", "")
    if isinstance(exc, MissingClaimError):
        return f"the '{claim}' claim is missing"
    return {
        "nbf": "the token is not yet valid",
        "iat": "the token was issued in the future",
        "iss": "the issuer is not trusted (wrong value)",
        "aud": "the token is for another audience (wrong value)",
    }.get(claim, f"the '{claim}' claim has a wrong value")


def _principal(claims: Mapping[str, Any]) -> Principal:
    """The principal the claims describe, every claim read checked for its type: nothing is
    coerced (``clearance: "3"``, ``3.9`` or ``true`` are refused, not read as 3). The claims that
    name someone or something (``sub``, ``agency``, roles, ``jti``, ``azp`` / ``client_id``) are
    names (:func:`kernel.text.unfit_name`: no spaces, nothing invisible, one spelling), since
    they identify the caller in audit records, rate limits and policy decisions and must not
    look like another; ``name`` is display text, spaces allowed, nothing invisible."""
    roles = claims["roles"]
    if not isinstance(roles, list) or any(unfit_name(r) for r in roles):
        raise Unauthenticated(f"Invalid token: 'roles' must be a list, each role {_NAME}.")
    clearance = claims["clearance"]
    if type(clearance) is not int or clearance not in CLEARANCES:
        raise Unauthenticated(
            f"Invalid token: 'clearance' must be an integer from {CLEARANCES[0]} to"
            f" {CLEARANCES[-1]}."
        )
    for claim in ("sub", "agency"):
        if unfit_name(claims[claim]):
            raise Unauthenticated(f"Invalid token: '{claim}' must be {_NAME}.")
    for claim in ("jti", "azp", "client_id"):  # optional: absent or empty is none
        value = claims.get(claim, "")
        if value != "" and unfit_name(value):
            raise Unauthenticated(f"Invalid token: '{claim}' must be {_NAME}.")
    name = claims.get("name", "")
    if not isinstance(name, str) or unprintable(name):
        raise Unauthenticated(
            "Invalid token: 'name' must be a string without control or invisible characters."
        )
    return Principal(
        subject=claims["sub"],
        agency=claims["agency"],
        roles=frozenset(roles),
        clearance=clearance,
        name=name,
        token_id=claims.get("jti", ""),
        client=claims.get("azp") or claims.get("client_id") or "",
    )


_NAME = "a non-empty string without spaces and without control or invisible characters"
