"""infra/Dockerfile: multi-stage, pinned, non-root, installs from uv.lock, serves the config."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

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


def test_it_installs_uv_and_the_project_from_the_lock() -> None:
    joined = " && ".join(i.args for i in dockerfile() if i.keyword == "RUN")
    # uv itself: the version and hashes uv.lock records (scripts/uv-requirement.py), nothing else
    assert "scripts/uv-requirement.py" in joined
    pips = re.findall(r"pip install [^&]*", joined)
    assert len(pips) == 1, f"pip installs only uv: {pips}"
    assert "--require-hashes" in pips[0] and "--no-deps" in pips[0], pips[0]
    syncs = re.findall(r"uv sync[^&]*", joined)
    assert syncs, "the environment is built by uv sync from uv.lock"
    for sync in syncs:
        assert "--locked" in sync, f"{sync}: must refuse a lock that disagrees with pyproject.toml"
        assert "--no-default-groups" in sync, f"{sync}: no test or lint tools in the image"
    assert "--no-editable" in syncs[-1], "the image holds the installed package, not the sources"
    env = " ".join(i.args for i in dockerfile() if i.keyword == "ENV" and i.stage == "build")
    assert "UV_PROJECT_ENVIRONMENT=/opt/jointgate" in env
    assert "UV_PYTHON_DOWNLOADS=never" in env, "the image's Python, never a downloaded one"


def test_the_build_backend_is_pinned_exactly() -> None:
    """The project is built in the image: its backend must not float with the registry."""
    (requirement,) = pyproject()["build-system"]["requires"]
    assert re.fullmatch(r"setuptools==[0-9.]+", requirement.split()[0]), requirement


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
    assert "uv.lock" in copied, "the lock the image installs from"
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
