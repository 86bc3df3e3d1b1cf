"""Key files are created once, readable by their owner only (kernel/keyfile.py)."""

from __future__ import annotations

import stat
from pathlib import Path

from kernel.keyfile import write_secret


def test_a_key_is_written_owner_only_in_a_new_directory(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "hash.key"
    write_secret(path, b"first\n")
    assert path.read_bytes() == b"first\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["hash.key"], "no temporary file left"


def test_an_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    """Two replicas starting at once on one data directory end with the same key."""
    path = tmp_path / "hash.key"
    write_secret(path, b"first\n")
    write_secret(path, b"second\n")
    assert path.read_bytes() == b"first\n"
