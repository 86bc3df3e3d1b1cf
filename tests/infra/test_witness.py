"""The audit witness in the deployment files (issue 17): on by default in compose and Kubernetes,
on a volume of its own that every writer of a log mounts, and checked by the retention job."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from audit.witness import parse_witness
from tests.infra.conftest import (
    INFRA,
    K8S,
    compose_toml,
    configmap_toml,
    gateway_container,
    gateway_services,
    manifest,
)

WITNESS_CLAIM = "jointgate-audit-witness"


def _file_witness(config: dict[str, Any]) -> Path:
    """The one file witness of a config: a file per log, since several gateways share it."""
    specs = [parse_witness(w) for w in config["audit"]["witnesses"]]
    (spec,) = [s for s in specs if s.kind == "file"]
    assert "{log}" in spec.target, "one file per log: the gateways append to their own"
    return Path(spec.target)


def _compose_volumes() -> dict[str, Any]:
    volumes = yaml.safe_load((INFRA / "compose.yaml").read_text())["volumes"]
    assert isinstance(volumes, dict)
    return volumes


def test_compose_gateways_publish_to_a_witness_volume_of_its_own() -> None:
    config = tomllib.loads(compose_toml())
    witness = _file_witness(config)
    assert config["audit"]["backend"] == "postgres"  # the store: another service's volume
    for name, gateway in gateway_services().items():
        mounts = dict(reversed(v.split(":")[:2]) for v in gateway["volumes"])
        (target,) = [t for t in mounts if witness.is_relative_to(t)]
        assert mounts[target] == "witness", name
        assert target != config["gateway"]["data_dir"], "not the gateway's data dir"
        assert not Path(target).is_relative_to(config["gateway"]["data_dir"])
    assert "witness" in _compose_volumes()
    postgres = yaml.safe_load((INFRA / "compose.yaml").read_text())["services"]["postgres"]
    assert not any(v.startswith("witness:") for v in postgres["volumes"])


def _pod_volume(pod: dict[str, Any], container: dict[str, Any], path: Path) -> dict[str, Any]:
    (mount,) = [m for m in container["volumeMounts"] if path.is_relative_to(m["mountPath"])]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    return {**volume, "mount": mount}


def test_kubernetes_pods_publish_to_a_read_write_many_claim() -> None:
    config = tomllib.loads(configmap_toml())
    witness = _file_witness(config)
    pod = manifest("Deployment")["spec"]["template"]["spec"]
    volume = _pod_volume(pod, gateway_container(), witness)
    assert volume["persistentVolumeClaim"]["claimName"] == WITNESS_CLAIM
    assert not volume["mount"].get("readOnly")
    claim = manifest("PersistentVolumeClaim", WITNESS_CLAIM)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "every replica mounts it"
    assert (
        claim["__file__"] in yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    )
    assert not witness.is_relative_to(config["gateway"]["data_dir"]), "not the pod's emptyDir"
    assert not witness.is_relative_to(config["audit"]["archive_dir"])


def test_the_retention_job_verifies_against_the_witness_read_only() -> None:
    witness = _file_witness(tomllib.loads(configmap_toml()))
    job = manifest("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (verify,) = [c for c in job["containers"] if c["name"] == "verify"]
    volume = _pod_volume(job, verify, witness)
    assert volume["persistentVolumeClaim"]["claimName"] == WITNESS_CLAIM
    assert volume["mount"]["readOnly"] is True
    assert "--no-witness" not in verify["args"]
