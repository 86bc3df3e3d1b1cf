"""infra/k8s: the manifests a cluster needs, consistent with each other, the image and the code."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from gateway.settings import Settings, load
from tests.infra.conftest import (
    K8S,
    configmap_toml,
    dockerfile_args,
    exec_form,
    final_stage,
    gateway_container,
    image_ref,
    manifest,
    manifests,
    services,
)

API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}


def _pod_spec() -> dict[str, Any]:
    spec = manifest("Deployment")["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def _pod_labels() -> dict[str, str]:
    labels = manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert isinstance(labels, dict)
    return labels


def _config() -> dict[str, Any]:
    return tomllib.loads(configmap_toml())


def _port() -> int:
    (port,) = [p for p in gateway_container()["ports"] if p["name"] == "http"]
    assert isinstance(port["containerPort"], int)
    return port["containerPort"]


def test_every_kind_is_there_once_with_its_api_version_and_namespace() -> None:
    for kind, api_version in API_VERSIONS.items():
        found = manifest(kind)
        assert found["apiVersion"] == api_version, kind
        assert found["metadata"]["name"].startswith("jointgate"), kind
        if kind != "Namespace":
            assert found["metadata"]["namespace"] == manifest("Namespace")["metadata"]["name"]


def test_kustomization_applies_everything_but_the_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {m["__file__"] for m in manifests() if m.get("kind") in API_VERSIONS}
    assert set(kustomization["resources"]) == files - {manifest("Secret")["__file__"]}
    (image,) = kustomization["images"]
    name, tag = image_ref().split(":")
    assert (image["name"], image["newTag"]) == (name, tag)


def test_the_deployment_runs_the_image_the_way_the_dockerfile_says() -> None:
    container = gateway_container()
    assert container["image"] == image_ref()
    assert services()["gateway-1"]["image"] == container["image"]
    (cmd,) = [i.args for i in final_stage() if i.keyword == "CMD"]
    assert container["args"] == exec_form(cmd)
    assert "command" not in container, "keep the image's ENTRYPOINT (jointgate)"
    (expose,) = [i.args for i in final_stage() if i.keyword == "EXPOSE"]
    assert _port() == int(expose) == _config()["gateway"]["port"]
    assert _config()["gateway"]["host"] == "0.0.0.0"


def test_it_runs_as_the_images_non_root_user_with_nothing_extra() -> None:
    pod = _pod_spec()["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert str(pod["runAsUser"]) == dockerfile_args()["UID"] != "0"
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    container = gateway_container()["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"]["drop"] == ["ALL"]
    assert _pod_spec()["automountServiceAccountToken"] is False
    # a read-only root needs writable mounts where the gateway writes
    writable = {
        m["mountPath"] for m in gateway_container()["volumeMounts"] if not m.get("readOnly")
    }
    assert {_config()["gateway"]["data_dir"], "/tmp"} <= writable


def test_probes_point_at_the_real_endpoints_on_the_real_port() -> None:
    container = gateway_container()
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


async def test_the_probed_paths_are_routes_of_the_app() -> None:
    from gateway.app import create_app

    paths = {
        gateway_container()[probe]["httpGet"]["path"]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    settings = Settings(issuer="https://idp.example", audience="jointgate", agencies={})
    app = create_app(cast(Any, SimpleNamespace(settings=settings)))
    assert paths <= {getattr(route, "path", None) for route in app.routes}
    # liveness needs nothing started: it answers before the lifespan has run
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        assert (await c.get("/healthz")).status_code == 200


def test_resources_are_requested_and_limited() -> None:
    resources = gateway_container()["resources"]
    for what in ("cpu", "memory"):
        assert _quantity(resources["requests"][what]) <= _quantity(resources["limits"][what])


def _quantity(value: str | int) -> float:
    units = {"Mi": 2**20, "Gi": 2**30, "m": 1e-3}
    text = str(value)
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * factor
    return float(text)


def test_service_pdb_hpa_and_network_policy_select_the_deployments_pods() -> None:
    labels = _pod_labels()
    deployment = manifest("Deployment")
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for kind, selector in (
        ("Service", manifest("Service")["spec"]["selector"]),
        ("PodDisruptionBudget", manifest("PodDisruptionBudget")["spec"]["selector"]["matchLabels"]),
        ("NetworkPolicy", manifest("NetworkPolicy")["spec"]["podSelector"]["matchLabels"]),
    ):
        assert selector and selector.items() <= labels.items(), kind
    target = manifest("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    (port,) = manifest("Service")["spec"]["ports"]
    assert port["targetPort"] in ("http", _port())


def test_scaling_keeps_a_replica_through_disruptions() -> None:
    hpa = manifest("HorizontalPodAutoscaler")["spec"]
    pdb = manifest("PodDisruptionBudget")["spec"]
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    assert 1 <= pdb["minAvailable"] < hpa["minReplicas"], "or drains could never evict a pod"
    assert manifest("Deployment")["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_network_policy_lets_in_the_gateway_port_and_out_what_the_config_uses() -> None:
    policy = manifest("NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    ingress_ports = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
    assert ingress_ports == {_port()}
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    config = _config()
    redis = urlsplit(config["rate_limits"]["redis_url"]).port or 6379
    postgres = urlsplit(config["governance"]["database"]).port or 5432
    agencies = {urlsplit(a["url"]).port or 443 for a in config["agencies"].values()}
    assert {53, redis, postgres, *agencies} <= egress_ports


def test_every_secret_the_deployment_uses_is_in_the_secret_and_empty_in_git() -> None:
    secret = manifest("Secret")
    keys = secret["stringData"]
    assert all(value == "" for value in keys.values()), "no real secret in the repository"
    used = [
        e["valueFrom"]["secretKeyRef"]
        for e in gateway_container()["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    ]
    for ref in used:
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in keys
    (volume,) = [v for v in _pod_spec()["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert {item["key"] for item in volume["secret"]["items"]} <= set(keys)
    assert set(keys) <= {r["key"] for r in used} | {i["key"] for i in volume["secret"]["items"]}


def test_the_signing_key_and_its_public_half_come_from_the_secret_volume() -> None:
    """The audit signer writes KEY.pub beside its key when missing; a Secret mount is read-only,
    so the public half must be in the Secret too."""
    (volume,) = [v for v in _pod_spec()["volumes"] if "secret" in v]
    (mount,) = [m for m in gateway_container()["volumeMounts"] if m["name"] == volume["name"]]
    signing = Path(_config()["audit"]["signing_key_file"])
    assert signing.parent == Path(mount["mountPath"])
    paths = {item["path"] for item in volume["secret"]["items"]}
    assert {signing.name, signing.with_suffix(".pub").name} <= paths


def test_the_config_path_is_where_the_configmap_is_mounted() -> None:
    config_path = Path(gateway_container()["args"][-1])
    (volume,) = [v for v in _pod_spec()["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == manifest("ConfigMap")["metadata"]["name"]
    (mount,) = [m for m in gateway_container()["volumeMounts"] if m["name"] == volume["name"]]
    (item,) = volume["configMap"]["items"]
    assert config_path == Path(mount["mountPath"]) / item["path"]
    assert item["key"] == "jointgate.toml"


def test_the_configmap_passes_the_gateways_validation_with_the_deployments_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.ratelimit import RateLimits

    for name in [k for k in os.environ if k.startswith("JOINTGATE_")]:
        monkeypatch.delenv(name)
    for entry in gateway_container()["env"]:
        source = entry.get("valueFrom", {})
        if "value" in entry:
            value = str(entry["value"])
        elif "fieldRef" in source:
            value = "jointgate-7d9f8c6b5-x2x4z"  # metadata.name of a pod
        else:
            value = "ab" * 32  # a secret: 64 hex digits fit every key
        monkeypatch.setenv(entry["name"], value)
    (tmp_path / "jointgate.toml").write_text(configmap_toml())
    settings = load(tmp_path / "jointgate.toml")
    assert settings.audit.log_id == "jointgate-7d9f8c6b5-x2x4z"  # JOINTGATE_AUDIT__LOG_ID
    assert settings.agencies["banking"].key == b"ab" * 32
    assert settings.audit.backend == "postgres" and settings.governance_db  # shared state
    env = {e["name"] for e in gateway_container()["env"]}
    assert settings.audit.data_key_env in env
    limits = RateLimits.from_mapping(_config()["rate_limits"])
    assert limits.redis_url and {limits.key_env, limits.redis_password_env} <= env
