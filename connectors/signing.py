"""HMAC request signing as the banking system requires it (shared by the connector and the sandbox).

String to sign, one item per line::

    METHOD
    /path?query
    unix-timestamp
    nonce
    hex sha256 of the body

Signature: hex HMAC-SHA256 over that string with the key named by ``X-JG-Key-Id``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

KEY_ID = "X-JG-Key-Id"
TIMESTAMP = "X-JG-Timestamp"
NONCE = "X-JG-Nonce"
SIGNATURE = "X-JG-Signature"


def string_to_sign(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{target}\n{timestamp}\n{nonce}\n{digest}".encode()


def signature(key: bytes, method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(
        key, string_to_sign(method, target, timestamp, nonce, body), "sha256"
    ).hexdigest()


def sign_headers(key_id: str, key: bytes, method: str, target: str, body: bytes) -> dict[str, str]:
    """Headers to add to one request; a fresh nonce and the current time each call."""
    ts = str(int(time.time()))
    nonce = secrets.token_hex(12)
    return {
        KEY_ID: key_id,
        TIMESTAMP: ts,
        NONCE: nonce,
        SIGNATURE: signature(key, method, target, ts, nonce, body),
    }


def verify(
    key: bytes, method: str, target: str, timestamp: str, nonce: str, body: bytes, given: str
) -> bool:
    expected = signature(key, method, target, timestamp, nonce, body)
    # compare_digest refuses non-ASCII str; a garbled header is simply a wrong signature
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
