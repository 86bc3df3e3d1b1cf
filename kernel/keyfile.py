"""Key files: secrets written once, readable by their owner only.

Shared by the audit trail's keys (audit/keys.py) and the rate limits' hash key
(gateway/ratelimit.py): every replica reading one data directory must end up with the same key,
so a key is created atomically and never overwritten.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


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
