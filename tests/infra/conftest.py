"""The deployment files, parsed once: Dockerfile instructions, compose, Kubernetes manifests.

No Docker engine or cluster runs here, so tests/infra checks these files statically: that they
parse, carry what a deployment needs, and agree with each other and with the code.
"""

from __future__ import annotations

import functools
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"


@dataclass(frozen=True)
class Instruction:
    stage: str  # the stage's name (FROM ... AS name), or its index
    keyword: str  # FROM, RUN, COPY, ...
    args: str  # the rest of the line, continuation lines joined


@functools.cache
def dockerfile() -> tuple[Instruction, ...]:
    text = (INFRA / "Dockerfile").read_text()
    logical: list[str] = []
    current = ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    found: list[Instruction] = []
    stage = "(global)"
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            parts = args.split()
            stage = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else str(len(found))
        found.append(Instruction(stage, keyword.upper(), " ".join(args.split())))
    return tuple(found)


def dockerfile_args() -> dict[str, str]:
    """Default values of the Dockerfile's ARGs (global and per stage)."""
    values = {}
    for i in dockerfile():
        if i.keyword == "ARG" and "=" in i.args:
            name, value = i.args.split("=", 1)
            values[name] = value
    return values


def expand(text: str) -> str:
    args = dockerfile_args()
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


def final_stage() -> list[Instruction]:
    last = dockerfile()[-1].stage
    return [i for i in dockerfile() if i.stage == last]


def exec_form(args: str) -> list[str]:
    """A JSON-array instruction argument (ENTRYPOINT, CMD, HEALTHCHECK ... CMD) as a list."""
    parsed = yaml.safe_load(args)
    assert isinstance(parsed, list), f"use the exec (JSON array) form: {args}"
    return [str(a) for a in parsed]


def shell_words(args: str) -> list[str]:
    return shlex.split(args)


@functools.cache
def compose() -> Mapping[str, Any]:
    loaded = yaml.safe_load((INFRA / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def services() -> Mapping[str, Any]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def gateway_services() -> dict[str, Any]:
    """The compose services that run ``jointgate serve``."""
    return {
        name: service
        for name, service in services().items()
        if service.get("command", [None])[0] == "serve"
    }


@functools.cache
def manifests() -> tuple[dict[str, Any], ...]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                doc["__file__"] = path.name
                docs.append(doc)
    return tuple(docs)


def manifest(kind: str, name: str | None = None) -> dict[str, Any]:
    """The one manifest of ``kind`` (named ``name``, where a kind has several)."""
    found = [
        m
        for m in manifests()
        if m.get("kind") == kind and (name is None or m["metadata"]["name"] == name)
    ]
    what = kind if name is None else f"{kind} {name}"
    assert len(found) == 1, f"expected one {what} in infra/k8s, found {len(found)}"
    return found[0]


def gateway_container() -> dict[str, Any]:
    containers = manifest("Deployment")["spec"]["template"]["spec"]["containers"]
    assert isinstance(containers, list)
    found = [c for c in containers if c["name"] == "gateway"]
    assert len(found) == 1
    return dict(found[0])


def configmap_toml() -> str:
    text = manifest("ConfigMap")["data"]["jointgate.toml"]
    assert isinstance(text, str)
    return text


def compose_toml() -> str:
    return (INFRA / "compose" / "jointgate.toml").read_text()


@functools.cache
def pyproject() -> Mapping[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def image_ref() -> str:
    """The image every deployment file should run: jointgate:<project version>."""
    return f"jointgate:{pyproject()['project']['version']}"
