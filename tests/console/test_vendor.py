"""The workbench's vendored GraphiQL and React (console/static/vendor): each file is what the
manifest says (sha256), the manifest's versions are the lock's, and nothing the console serves
comes from another site."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from console.app import STATIC

VENDOR = STATIC / "vendor"
TEMPLATES = Path(STATIC).parent / "templates"


def test_every_vendored_file_matches_the_manifest() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    kept = {"MANIFEST.json", "package.json", "package-lock.json"}
    assert {p.name for p in VENDOR.iterdir()} == set(manifest) | kept
    for name, entry in manifest.items():
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], name


def test_the_manifest_versions_are_the_locks() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    lock = json.loads((VENDOR / "package-lock.json").read_text())
    wanted = json.loads((VENDOR / "package.json").read_text())["dependencies"]
    for entry in manifest.values():
        locked = lock["packages"][f"node_modules/{entry['package']}"]
        assert entry["version"] == locked["version"] == wanted[entry["package"]]
        assert locked["integrity"].startswith("sha512-")
    assert {e["package"] for e in manifest.values()} == set(wanted)


def test_no_template_or_console_script_loads_from_another_site() -> None:
    url = re.compile(r"""(?:src|href|url\()\s*=?\s*["']?(?:https?:)?//""", re.I)
    for template in TEMPLATES.glob("*.html"):
        assert not url.search(template.read_text()), template.name
    for script in STATIC.glob("*.js"):
        code = [
            line
            for line in script.read_text().splitlines()
            if not line.lstrip().startswith(("//", "*", "/*"))
        ]
        assert not any(re.search(r"https?://", line) for line in code), script.name
