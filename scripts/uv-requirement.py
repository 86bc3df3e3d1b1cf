"""Print uv's pinned requirement, with its hashes, as uv.lock records it.

`make` installs uv itself from this line (``pip install --require-hashes -r /dev/stdin``), so the
tool that installs everything else from the lock is locked too: the same version and the same
files on every machine. Standard library only: this runs before anything is installed.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "uv.lock"


def requirement(lock: Path = LOCK) -> str:
    packages = tomllib.loads(lock.read_text())["package"]
    uv = next((p for p in packages if p["name"] == "uv"), None)
    if uv is None:
        raise SystemExit(f"{lock}: uv is not locked (it belongs to pyproject's dev group)")
    files = [*uv.get("wheels", ()), *([uv["sdist"]] if "sdist" in uv else [])]
    hashes = " ".join(f"--hash={f['hash']}" for f in files)
    return f"uv=={uv['version']} {hashes}"


if __name__ == "__main__":
    print(requirement(Path(sys.argv[1]) if len(sys.argv) > 1 else LOCK))
