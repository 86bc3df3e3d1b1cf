"""Tokens for the governance commands' tests: the demo issuer in a temporary data dir, whose
public keys the commands verify against exactly as a gateway would (commands/official.py)."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.issuer import mint_token, public_keys


def demo_issuer(data_dir: Path) -> Path:
    """Create the demo issuer in ``data_dir`` (as ``jointgate demo`` does); its public JWKS."""
    jwks = data_dir / "issuer" / "jwks.json"
    if not jwks.exists():
        keys = public_keys(data_dir)  # creates the private key set on first use
        jwks.write_text(json.dumps(keys.as_dict(private=False)))
    return jwks


def token(user: str, data_dir: Path, **kwargs: float) -> str:
    """A signed token of the demo issuer in ``data_dir`` for a demo user."""
    demo_issuer(data_dir)
    return mint_token(user, data_dir, **kwargs)  # type: ignore[arg-type]
