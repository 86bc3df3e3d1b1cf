"""The demo's local identity provider: an EC key set in the data dir and the built-in users.

In production the gateway trusts the agencies' identity provider through its JWKS URL
(``jointgate serve --config``); this module exists so that the demo and the tests mint real,
signed tokens that go through exactly the same verification.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

DEMO_ISSUER = "https://issuer.jointgate.demo"
DEMO_AUDIENCE = "jointgate"
#: The password of every demo user at the demo issuer's login page (sandbox/oidc.py): a demo,
#: not a secret; printed by ``jointgate demo``.
DEMO_PASSWORD = "jointgate-demo"  # noqa: S105
KEYS_FILE = "issuer/jwks-private.json"


@dataclass(frozen=True, slots=True)
class DemoUser:
    subject: str
    name: str
    agency: str
    roles: tuple[str, ...]
    clearance: int
    description: str


DEMO_USERS: dict[str, DemoUser] = {
    u.subject: u
    for u in (
        DemoUser("police.investigator", "王建国", "police", ("investigator",), 3,
                 "economic-crime investigator at the police (公安经侦)"),
        DemoUser("market.officer", "李秀英", "market", ("officer",), 1,
                 "market-regulation officer (市场监管)"),
        DemoUser("bank.analyst", "张伟", "banking", ("analyst", "regulator"), 3,
                 "banking-regulator analyst (人民银行反洗钱)"),
        DemoUser("court.clerk", "刘洋", "courts", ("clerk",), 2,
                 "court enforcement clerk (法院执行局)"),
        DemoUser("jit.member", "陈静", "police", ("investigator", "jit-member"), 3,
                 "member of the joint investigation team for JIT-2026-001"),
        DemoUser("duty.officer", "周强", "police", ("investigator", "emergency"), 3,
                 "police duty officer who may use break-glass (X-Break-Glass)"),
        DemoUser("policy.admin", "赵磊", "office", ("policy-admin",), 1,
                 "administrator of access policies at the joint office"),
        DemoUser("policy.approver", "钱芳", "office", ("policy-admin",), 1,
                 "second policy administrator: approves what another proposes (dual control)"),
        DemoUser("office.coordinator", "吴敏", "office", ("case-admin",), 1,
                 "joint-office coordinator: registers cases, assigns officials, forms teams"),
        DemoUser("auditor", "孙丽", "office", ("auditor", "reviewer"), 3,
                 "auditor of the use of shared information; reviews break-glass accesses"),
    )
}  # fmt: skip


class NoDemoIssuer(Exception):
    """The data dir holds no demo issuer: ``jointgate demo`` creates one there."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(
            f"no demo issuer in {data_dir}: start `jointgate demo` there first, or pass"
            " --data-dir (the demo's data dir)"
        )


def keys_path(data_dir: Path) -> Path:
    return data_dir / KEYS_FILE


def load_keys(data_dir: Path) -> KeySet:
    """The demo issuer's private key set; NoDemoIssuer if the data dir has none. Never creates
    one: a key made here would sign tokens that no running gateway trusts."""
    path = keys_path(data_dir)
    if not path.exists():
        raise NoDemoIssuer(data_dir)
    return KeySet.import_key_set(json.loads(path.read_text()))


def load_or_create_keys(data_dir: Path) -> KeySet:
    """The demo issuer's private key set, created (mode 0600) on first use (``jointgate demo``)."""
    path = keys_path(data_dir)
    if path.exists():
        return load_keys(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key("P-256", auto_kid=True)
    keyset = KeySet([key])
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keyset.as_dict(private=True), f)
    tmp.replace(path)
    return keyset


def public_keys(data_dir: Path) -> KeySet:
    return KeySet.import_key_set(load_or_create_keys(data_dir).as_dict(private=False))


def mint_token(
    user: str,
    data_dir: Path,
    *,
    ttl_s: int = 8 * 3600,
    now: float | None = None,
    client: str = "jointgate-demo",
) -> str:
    """A token of the demo issuer in ``data_dir`` (NoDemoIssuer if it has none) for ``user``."""
    if user not in DEMO_USERS:
        raise KeyError(user)
    demo = DEMO_USERS[user]
    keyset = load_keys(data_dir)
    key = keyset.keys[0]
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": DEMO_ISSUER,
        "aud": DEMO_AUDIENCE,
        "sub": demo.subject,
        "name": demo.name,
        "agency": demo.agency,
        "roles": list(demo.roles),
        "clearance": demo.clearance,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "jti": uuid.uuid4().hex,
        "azp": client,
    }
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims, keyset)
