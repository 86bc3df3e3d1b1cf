"""uv.lock: the exact versions every install uses (make demo, make test, CI, the image).

The lock must satisfy pyproject.toml, record what pyproject.toml asks for today (else
`uv sync --locked` refuses it on a fresh machine), carry a hash for every file it may install,
and be what this environment was installed from.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parents[1]


@cache
def lock() -> dict[str, Any]:
    return tomllib.loads((ROOT / "uv.lock").read_text())


@cache
def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def locked() -> dict[str, dict[str, Any]]:
    return {canonicalize_name(p["name"]): p for p in lock()["package"]}


def group(name: str) -> Iterator[Requirement]:
    """A dependency group's requirements, its included groups expanded (PEP 735)."""
    for item in project()["dependency-groups"][name]:
        if isinstance(item, dict):
            yield from group(item["include-group"])
        else:
            yield Requirement(item)


def declared() -> list[tuple[str, Requirement]]:
    found = [("dependencies", Requirement(r)) for r in project()["project"]["dependencies"]]
    for name in project()["dependency-groups"]:
        found += [(f"dependency-groups.{name}", r) for r in group(name)]
    return found


def applies(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate()


@pytest.mark.parametrize(("where", "requirement"), declared(), ids=lambda v: str(v))
def test_the_locked_version_satisfies_pyproject(where: str, requirement: Requirement) -> None:
    package = locked().get(canonicalize_name(requirement.name))
    assert package is not None, f"{where}: {requirement.name} is not in uv.lock (run make lock)"
    version = package["version"]
    assert requirement.specifier.contains(version, prereleases=True), (
        f"{where}: uv.lock has {requirement.name}=={version}, pyproject.toml asks {requirement}"
    )
    for extra in requirement.extras:
        assert extra in package.get("optional-dependencies", {}), (
            f"{requirement.name}[{extra}]: the extra is not locked"
        )


def _recorded(entries: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    return {
        (
            canonicalize_name(e["name"]),
            ",".join(sorted(e.get("extras", []))),
            str(e.get("specifier", "")),
            str(Marker(e["marker"])) if "marker" in e else "",
        )
        for e in entries
    }


def _asked(requirements: list[Requirement]) -> set[tuple[str, str, str, str]]:
    return {
        (
            canonicalize_name(r.name),
            ",".join(sorted(r.extras)),
            str(r.specifier),
            str(r.marker) if r.marker else "",
        )
        for r in requirements
    }


def test_the_lock_records_what_pyproject_asks_for_today() -> None:
    """A changed pyproject.toml without `make lock` fails here, as `uv sync --locked` would."""
    (me,) = [p for p in lock()["package"] if p["name"] == project()["project"]["name"]]
    recorded = me["metadata"]
    dependencies = [Requirement(r) for r in project()["project"]["dependencies"]]
    assert _recorded(recorded["requires-dist"]) == _asked(dependencies)
    for name in project()["dependency-groups"]:
        direct = [
            Requirement(r) for r in project()["dependency-groups"][name] if isinstance(r, str)
        ]
        groups = recorded.get("requires-dev", {})
        included = _recorded(groups.get(name, []))
        assert _asked(direct) <= included, f"dependency-groups.{name} changed since the lock"


def test_every_locked_file_from_the_registry_has_a_hash() -> None:
    for package in lock()["package"]:
        if "registry" not in package["source"]:
            continue  # the project itself
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        assert files, f"{package['name']}: no files locked"
        for file in files:
            assert str(file.get("hash", "")).startswith("sha256:"), (package["name"], file)


def test_this_environment_was_installed_from_the_lock() -> None:
    """Every distribution installed here that the lock knows has the locked version."""
    pins = {name: p["version"] for name, p in locked().items()}
    drifted = []
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in pins and name != "jointgate" and Version(dist.version) != Version(pins[name]):
            drifted.append(f"{name} {dist.version} (locked {pins[name]})")
    assert drifted == [], f"not what uv.lock pins (run make test, which syncs): {drifted}"


def test_every_runtime_dependency_installed_is_locked() -> None:
    """The runtime closure of the installed project, walked through the installed metadata."""
    pins = locked()
    seen: set[str] = set()
    pending = [
        (r, set(r.extras))
        for r in map(Requirement, metadata.requires("jointgate") or [])
        if r.marker is None or r.marker.evaluate({"extra": ""})
    ]
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen and not extras:
            continue
        seen.add(name)
        for dependency in metadata.requires(requirement.name) or []:
            inner = Requirement(dependency)
            marker = inner.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in (*extras, "")):
                pending.append((inner, set(inner.extras)))
    assert sorted(seen - set(pins)) == []


def test_uv_itself_installs_from_the_lock() -> None:
    """`make` installs uv from the line this script prints: the locked version, every hash."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "uv-requirement.py")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    uv = locked()["uv"]
    assert out[0] == f"uv=={uv['version']}"
    hashes = {f"--hash={f['hash']}" for f in [*uv["wheels"], uv["sdist"]]}
    assert set(out[1:]) == hashes
    assert metadata.version("uv") == uv["version"]
