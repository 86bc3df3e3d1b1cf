"""infra/Dockerfile: multi-stage, pinned, non-root, installs the project wheel, serves the config."""

from __future__ import annotations

import fnmatch
import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.infra.conftest import (
    INFRA,
    ROOT,
    dockerfile,
    dockerfile_args,
    exec_form,
    expand,
    final_stage,
    pyproject,
    shell_words,
)

PINNED_PYTHON = re.compile(r"^python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")
CONFIG_PATH = "/etc/jointgate/jointgate.toml"


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (INFRA / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"infra/constraints.txt: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    return pins


def test_every_stage_starts_from_a_pinned_python_3_11_slim() -> None:
    images = [expand(i.args.split()[0]) for i in dockerfile() if i.keyword == "FROM"]
    assert len(images) >= 2, "multi-stage: a build stage and a runtime stage"
    for image in images:
        assert PINNED_PYTHON.match(image), f"{image}: pin python:3.11.N-slim (or a digest)"


def test_the_runtime_stage_copies_only_the_built_environment() -> None:
    copies = [i.args for i in final_stage() if i.keyword == "COPY"]
    assert copies and all(c.startswith("--from=build ") for c in copies), copies
    assert not any(i.keyword == "RUN" and "pip " in i.args for i in final_stage())


def test_the_container_runs_as_a_numeric_non_root_user() -> None:
    users = [i.args for i in final_stage() if i.keyword == "USER"]
    assert users, "the runtime stage must set USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric, so Kubernetes runAsNonRoot can check it"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    assert dockerfile_args().get("UID") == uid, "the user created (ARG UID) is the one run as"
    run = " ".join(i.args for i in final_stage() if i.keyword == "RUN")
    assert "useradd" in run and "--uid ${UID}" in run


def test_it_builds_the_project_wheel_and_installs_it_with_the_pinned_constraints() -> None:
    runs = " && ".join(i.args for i in dockerfile() if i.keyword == "RUN")
    assert re.search(r"pip wheel .*--wheel-dir (\S+) \.", runs)
    wheel_dir = re.search(r"--wheel-dir (\S+)", runs)
    assert wheel_dir is not None
    assert f"--constraint infra/constraints.txt {wheel_dir[1]}/jointgate-*.whl" in runs
    assert "--constraint infra/constraints.txt setuptools" in runs  # the build backend too


def test_every_runtime_dependency_is_pinned_within_pyproject_ranges() -> None:
    pins = _constraints()
    for spec in pyproject()["project"]["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name}: not pinned in infra/constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} does not satisfy pyproject's {spec!r}"
        )
    missing = sorted(_installed_closure() - set(pins))
    assert missing == [], f"installed with the project but not pinned: {missing}"


def _installed_closure() -> set[str]:
    """Runtime distributions `pip install jointgate` brings in, as installed in this venv."""
    seen: set[str] = set()
    direct = [Requirement(r) for r in metadata.requires("jointgate") or []]
    pending = [
        (r, set(r.extras)) for r in direct if r.marker is None or r.marker.evaluate({"extra": ""})
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
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in (*extras, "")):
                pending.append((inner, set(inner.extras)))
    return seen


def _copied() -> list[str]:
    """Sources of the COPY instructions that read the build context."""
    return [
        source.rstrip("/")
        for i in dockerfile()
        if i.keyword == "COPY" and not i.args.startswith("--from")
        for source in shell_words(i.args)[:-1]
    ]


def test_the_build_copies_every_package_and_the_readme() -> None:
    copied = _copied()
    for pattern in pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"{pattern}: package not copied into the build"
    assert pyproject()["project"]["readme"] in copied
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"


def test_the_dockerignore_lets_exactly_the_copied_files_through() -> None:
    lines = (INFRA / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list: exclude everything, then re-include"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set(_copied())
    assert copied <= allowed, f"copied but ignored: {copied - allowed}"
    assert not allowed & {".venv", ".jointgate", ".git"}


def test_the_wheel_ships_every_data_file_of_its_packages() -> None:
    """A data file the package data globs miss is absent from the image (policies schema)."""
    package_data = pyproject()["tool"]["setuptools"].get("package-data", {})
    for pattern in pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        for path in (ROOT / package).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc"):
                continue
            relative = str(path.relative_to(ROOT / package))
            globs = package_data.get(package, [])
            assert any(fnmatch.fnmatch(relative, g) for g in globs), (
                f"{package}/{relative}: not in [tool.setuptools.package-data] {package}"
            )


def test_it_serves_the_mounted_config_and_checks_healthz_on_the_exposed_port() -> None:
    runtime = {i.keyword: i.args for i in final_stage()}  # the last of each keyword
    assert exec_form(runtime["ENTRYPOINT"]) == ["jointgate"]
    assert exec_form(runtime["CMD"]) == ["serve", "--config", CONFIG_PATH]
    (exposed,) = runtime["EXPOSE"].split()
    health = runtime["HEALTHCHECK"]
    assert "CMD " in health
    command = exec_form(health.split("CMD ", 1)[1])
    assert any(f"http://127.0.0.1:{exposed}/healthz" in part for part in command)
    assert Path(ROOT / "infra" / "Dockerfile").read_text().count("HEALTHCHECK") == 1
