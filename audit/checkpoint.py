"""Signed checkpoints (signed tree heads): "log L had N records with Merkle root R at time T".

The signed message is a small text note, so anyone can check a checkpoint with any Ed25519
implementation::

    jointgate-audit-checkpoint/v1
    log gw-1
    size 1024
    root 5dc9da79a706...
    time 1795460380123456
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.errors import ProofError
from audit.keys import Signer, public_key_id, verify_signature

NOTE_HEADER = "jointgate-audit-checkpoint/v1"


def iso_us(timestamp_us: int) -> str:
    """UTC, microseconds, ``Z``: 2026-11-23T19:19:40.123456Z."""
    moment = dt.datetime.fromtimestamp(timestamp_us / 1e6, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    log_id: str
    tree_size: int
    root: bytes
    timestamp_us: int
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        return note(self.log_id, self.tree_size, self.root, self.timestamp_us)

    def verify(self, public: Ed25519PublicKey) -> bool:
        return self.key_id == public_key_id(public) and verify_signature(
            public, self.signature, self.message()
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "time": iso_us(self.timestamp_us),
            "timestamp_us": self.timestamp_us,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        try:
            return cls(
                log_id=str(data["log_id"]),
                tree_size=int(data["tree_size"]),
                root=bytes.fromhex(data["root"]),
                timestamp_us=int(data["timestamp_us"]),
                key_id=str(data["key_id"]),
                signature=base64.b64decode(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProofError(f"not a checkpoint: {exc!r}") from None


def note(log_id: str, tree_size: int, root: bytes, timestamp_us: int) -> bytes:
    return (
        f"{NOTE_HEADER}\nlog {log_id}\nsize {tree_size}\nroot {root.hex()}\ntime {timestamp_us}\n"
    ).encode()


def sign(signer: Signer, log_id: str, tree_size: int, root: bytes, timestamp_us: int) -> Checkpoint:
    signature = signer.sign(note(log_id, tree_size, root, timestamp_us))
    return Checkpoint(log_id, tree_size, root, timestamp_us, signer.key_id, signature)
