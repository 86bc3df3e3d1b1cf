"""Key material of the audit trail: the checkpoint signing key and the data key.

- The **signing key** (Ed25519) signs checkpoints. It lives in a file (PKCS#8 PEM, mode 0600),
  created on first use; its public half is written beside it (``.pub``) for auditors, who pin
  it when they check proofs offline.
- The **data key** (32 random bytes, hex in a file or an environment variable) never signs
  anything: HKDF derives from it an AES-256-GCM key that encrypts personal data in records, and a
  BLAKE2b key for the blind index (keyed hashes that make record keys searchable without storing
  them). Keep it away from the database: a copy of the database alone then reveals neither who
  was looked at nor why.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from audit.errors import AuditKeyError


def write_secret(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600, atomically; never overwrites an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created the key first: keep theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def public_key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_b64(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@dataclass(frozen=True, slots=True)
class Signer:
    private: Ed25519PrivateKey
    key_id: str = field(init=False)  # named in every checkpoint: derived once, not per append

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_id", public_key_id(self.public))

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def load_or_create_signer(path: Path) -> Signer:
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_secret(path, pem)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise AuditKeyError(f"{path}: cannot load the audit signing key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{path}: the audit signing key must be an Ed25519 key (PKCS#8 PEM)")
    pub = path.with_suffix(".pub")
    if not pub.exists():
        pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return Signer(key)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file or a file holding its raw 32 bytes in base64."""
    data = path.read_bytes()
    try:
        if data.lstrip().startswith(b"-----"):
            key = serialization.load_pem_public_key(data)
            if isinstance(key, Ed25519PublicKey):
                return key
            raise ValueError("not an Ed25519 key")
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip()))
    except ValueError as exc:
        raise AuditKeyError(f"{path}: not an Ed25519 public key: {exc}") from None


def public_key_from_b64(value: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(value))


def verify_signature(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _derive(secret: bytes, label: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=b"jointgate-audit/v1", info=label).derive(secret)


class DataKey:
    """Encrypts personal data (AES-256-GCM) and computes blind-index terms (keyed BLAKE2b)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise AuditKeyError("the audit data key must be 32 bytes (64 hex characters)")
        self._aead = AESGCM(_derive(secret, b"encrypt"))
        index = _derive(secret, b"blind-index")
        # keyed once; each hash copies the keyed state (cheaper than keying it again)
        self._term = hashlib.blake2b(key=index, digest_size=16, person=b"jg-audit-term")
        self._mac = hashlib.blake2b(key=index, digest_size=16, person=b"jg-audit-mac")
        self.key_id = _derive(secret, b"key-id")[:6].hex()

    def term(self, value: str) -> str:
        """The blind-index term of a record key: same key, same term; no key, no way back."""
        h = self._term.copy()
        h.update(value.strip().upper().encode())
        return h.hexdigest()

    def mac(self, data: bytes) -> str:
        """A keyed hash of arbitrary bytes (variables, query text)."""
        h = self._mac.copy()
        h.update(data)
        return h.hexdigest()

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext, aad)
        return f"{self.key_id}.{base64.b64encode(nonce + ct).decode()}"

    def open(self, sealed: str, aad: bytes) -> bytes:
        key_id, _, blob = sealed.partition(".")
        if key_id != self.key_id:
            raise AuditKeyError(
                f"sealed with data key {key_id}, but the configured key is {self.key_id}"
            )
        raw = base64.b64decode(blob)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], aad)
        except InvalidTag:
            raise AuditKeyError(
                "sealed data does not decrypt: altered, or moved between records"
            ) from None


def load_or_create_data_key(path: Path | None, env: str = "") -> DataKey:
    """The data key from the environment variable ``env`` if given, else from ``path``
    (created on first use: convenient for the demo; in production configure it)."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise AuditKeyError(f"audit.data_key_env: environment variable {env} is not set")
        return DataKey(_hex_key(value, env))
    if path is None:
        raise AuditKeyError("audit.data_key_file: required when audit.data_key_env is not set")
    if not path.exists():
        write_secret(path, secrets.token_hex(32).encode() + b"\n")
    try:
        return DataKey(_hex_key(path.read_text(), str(path)))
    except OSError as exc:
        raise AuditKeyError(f"{path}: cannot read the audit data key: {exc.strerror}") from None


def _hex_key(value: str, where: str) -> bytes:
    try:
        return bytes.fromhex(value.strip())
    except ValueError:
        raise AuditKeyError(f"{where}: the audit data key must be 64 hex characters") from None
