"""infra/k8s: the manifests a cluster needs, consistent with each other, the image and the code."""

from __future__ import annotations

import argparse
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
    "CronJob": "batch/v1",
    "PersistentVolumeClaim": "v1",
}
GATEWAY_POLICY = "jointgate"  # the NetworkPolicy of the gateway's pods
RETENTION_POLICY = "jointgate-audit-retention"  # the one of the retention CronJob's pods


def _pod_spec() -> dict[str, Any]:
    spec = manifest("Deployment")["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def _pod_labels() -> dict[str, str]:
    labels = manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert isinstance(labels, dict)
    return labels


def _policy_selector(name: str) -> dict[str, str]:
    selector = manifest("NetworkPolicy", name)["spec"]["podSelector"]["matchLabels"]
    assert isinstance(selector, dict)
    return selector


def _config() -> dict[str, Any]:
    return tomllib.loads(configmap_toml())


def _port() -> int:
    (port,) = [p for p in gateway_container()["ports"] if p["name"] == "http"]
    assert isinstance(port["containerPort"], int)
    return port["containerPort"]


def test_every_kind_is_there_with_its_api_version_and_namespace() -> None:
    for kind, api_version in API_VERSIONS.items():
        of_kind = [m for m in manifests() if m.get("kind") == kind]
        assert of_kind, f"no {kind} in infra/k8s"
        names = [m["metadata"]["name"] for m in of_kind]
        assert len(set(names)) == len(names), f"two {kind}s share a name: {names}"
        for found in of_kind:
            assert found["apiVersion"] == api_version, kind
            assert found["metadata"]["name"].startswith("jointgate"), kind
            if kind != "Namespace":
                namespace = manifest("Namespace")["metadata"]["name"]
                assert found["metadata"]["namespace"] == namespace, kind


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
        ("NetworkPolicy", _policy_selector(GATEWAY_POLICY)),
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
    policy = manifest("NetworkPolicy", GATEWAY_POLICY)["spec"]
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
    from gateway.ratelimit_settings import RateLimits

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


# -- audit retention: the CronJob that archives and verifies every log -------------------------
RETENTION_STEPS = ["archive", "verify"]  # the audit commands the job runs, in this order


def _cronjob() -> dict[str, Any]:
    return manifest("CronJob")


def _job_spec() -> dict[str, Any]:
    spec = _cronjob()["spec"]["jobTemplate"]["spec"]
    assert isinstance(spec, dict)
    return spec


def _job_pod_spec() -> dict[str, Any]:
    spec = _job_spec()["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def _job_pod_labels() -> dict[str, str]:
    labels = _job_spec()["template"]["metadata"]["labels"]
    assert isinstance(labels, dict)
    return labels


def _job_steps() -> list[dict[str, Any]]:
    """The job's containers in the order they run: init containers, then the main one."""
    pod = _job_pod_spec()
    steps = [*pod.get("initContainers", []), *pod["containers"]]
    assert len(pod["containers"]) == 1, "one main container: several would run side by side"
    return [dict(step) for step in steps]


def _job_volume(pod: dict[str, Any], container: dict[str, Any], kind: str) -> tuple[Any, Any]:
    """The pod's one volume of ``kind`` (configMap, secret, ...) and its mount in ``container``."""
    (volume,) = [v for v in pod["volumes"] if kind in v]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    return volume, mount


def _parsed(step: dict[str, Any]) -> Any:
    """``jointgate ARGS`` as the real command line parses them; every option spelled in full
    (argparse would take ``--config`` for a ``--config-file`` that replaced it)."""
    from commands.main import build_parser

    args = [str(a) for a in step["args"]]
    try:
        parsed = build_parser().parse_args(args)
    except SystemExit:  # pragma: no cover - argparse's way of refusing
        pytest.fail(f"{step['name']}: jointgate refuses {args}")
    parser = build_parser()
    for word in args[:2]:  # audit, then its subcommand
        (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = commands.choices[word]
    options = {o for action in parser._actions for o in action.option_strings}
    for arg in args[2:]:
        if arg.startswith("-"):
            assert arg.split("=", 1)[0] in options, f"{step['name']}: {arg} is not an option"
    return parsed


def _env(step: dict[str, Any]) -> dict[str, str]:
    """A step's environment as the pod gets it (secrets: 64 hex digits, they fit every key)."""
    values = {}
    for entry in step["env"]:
        assert "fieldRef" not in entry.get("valueFrom", {}), entry["name"]
        values[entry["name"]] = str(entry["value"]) if "value" in entry else "ab" * 32
    return values


def _job_audit(
    step: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Path]:
    """What the audit CLI of ``step`` loads: jointgate.toml from the ConfigMap, with its env."""
    from gateway.settings import load_audit

    for name in [k for k in os.environ if k.startswith("JOINTGATE_")]:
        monkeypatch.delenv(name)
    for name, value in _env(step).items():
        monkeypatch.setenv(name, value)
    (tmp_path / "jointgate.toml").write_text(configmap_toml())
    settings, data_dir = load_audit(tmp_path / "jointgate.toml")
    return settings.resolved(data_dir), data_dir


def test_the_retention_job_runs_daily_one_at_a_time_within_bounds() -> None:
    spec = _cronjob()["spec"]
    minute, hour, *every = spec["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and every == ["*", "*", "*"], "once a day"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] < 86_400
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = _job_spec()
    assert 0 <= job["backoffLimit"] <= 5
    assert 0 < job["activeDeadlineSeconds"] < 86_400, "over before the next day's run"
    assert _job_pod_spec()["restartPolicy"] == "Never", "podFailurePolicy needs Never"
    # exit 1 (verification failed) and 2 (configuration) are not retried (commands/audit/__init__.py)
    (fail,) = [r for r in job["podFailurePolicy"]["rules"] if r["action"] == "FailJob"]
    assert fail["onExitCodes"] == {"operator": "In", "values": [1, 2]}


def test_the_retention_job_runs_the_deployments_image_as_its_non_root_user() -> None:
    pod = _job_pod_spec()
    assert pod["securityContext"] == _pod_spec()["securityContext"]
    assert str(pod["securityContext"]["runAsUser"]) == dockerfile_args()["UID"]
    assert pod["automountServiceAccountToken"] is False
    for step in _job_steps():
        assert step["image"] == gateway_container()["image"] == image_ref(), step["name"]
        assert "command" not in step, "keep the image's ENTRYPOINT (jointgate): no shell"
        assert step["securityContext"] == gateway_container()["securityContext"], step["name"]
        assert step["securityContext"]["readOnlyRootFilesystem"] is True
        resources = step["resources"]
        for what in ("cpu", "memory"):
            assert _quantity(resources["requests"][what]) <= _quantity(resources["limits"][what])


def test_the_retention_job_archives_then_verifies_with_arguments_the_cli_accepts() -> None:
    parsed = [_parsed(step) for step in _job_steps()]
    assert [(p.command, p.audit_command) for p in parsed] == [
        ("audit", step) for step in RETENTION_STEPS
    ]
    for step, args in zip(_job_steps(), parsed, strict=True):
        # the gateway's own jointgate.toml, where the Deployment mounts it
        assert args.config == Path(gateway_container()["args"][-1]), step["name"]
        # no self-declared name (--as is gone) and no token in a manifest: archive and verify
        # show no record, and their records name the OS account and the job's pod
        assert args.token is None and not hasattr(args, "actor"), step["name"]
    archive, verify = parsed
    assert archive.older_than_days is None, "the retention period is audit.retention_days"
    assert verify.log is None, "every log, not only some"
    cpus = _quantity(_job_steps()[-1]["resources"]["limits"]["cpu"])
    assert verify.workers is not None and verify.workers <= cpus, "the default is the node's cores"


def test_the_retention_job_reads_the_same_configmap_and_keys_as_the_gateway() -> None:
    pod = _job_pod_spec()
    (gateway_config, _) = _job_volume(_pod_spec(), gateway_container(), "configMap")
    (gateway_keys, gateway_keys_mount) = _job_volume(_pod_spec(), gateway_container(), "secret")
    secret = manifest("Secret")
    gateway_refs = [
        e["valueFrom"]["secretKeyRef"]
        for e in gateway_container()["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    ]
    for step in _job_steps():
        config, config_mount = _job_volume(pod, step, "configMap")
        assert config["configMap"] == gateway_config["configMap"], step["name"]
        (item,) = config["configMap"]["items"]
        assert _parsed(step).config == Path(config_mount["mountPath"]) / item["path"]
        keys, keys_mount = _job_volume(pod, step, "secret")
        assert keys["secret"] == gateway_keys["secret"], step["name"]
        assert keys_mount["mountPath"] == gateway_keys_mount["mountPath"]
        assert keys_mount["readOnly"] is True
        refs = [
            e["valueFrom"]["secretKeyRef"]
            for e in step["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        ]
        # what the audit needs (data key, database password) and nothing else of the gateway's
        assert {r["key"] for r in refs} == {"audit-data-key", "postgres-password"}, step["name"]
        assert all(r in gateway_refs and r["name"] == secret["metadata"]["name"] for r in refs)
        names = {e["name"]: e for e in gateway_container()["env"]}
        for entry in step["env"]:
            if "secretKeyRef" in entry.get("valueFrom", {}):
                assert names[entry["name"]] == entry, "the same variable as in the Deployment"


def test_the_retention_job_writes_its_own_log_and_keeps_the_archives_on_the_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod = _job_pod_spec()
    claim = manifest("PersistentVolumeClaim", "jointgate-audit-archive")
    (volume,) = [
        v
        for v in pod["volumes"]
        if v.get("persistentVolumeClaim", {}).get("claimName") == claim["metadata"]["name"]
    ]
    log_ids = set()
    archive_dirs = set()
    for step in _job_steps():
        settings, data_dir = _job_audit(step, tmp_path, monkeypatch)
        assert settings.backend == "postgres", "the database the replicas write"
        assert settings.data_key_env in _env(step), step["name"]
        # a fixed log id of its own: not the pod name (a new log each day) nor a replica's
        assert settings.log_id and not settings.log_id.startswith(
            manifest("Deployment")["metadata"]["name"] + "-"
        ), step["name"]
        log_ids.add(settings.log_id)
        (mount,) = [m for m in step["volumeMounts"] if m["name"] == volume["name"]]
        assert settings.archive_dir == Path(mount["mountPath"]), step["name"]
        archive_dirs.add(settings.archive_dir)
        assert not settings.archive_dir.is_relative_to(data_dir), "not in the ephemeral data dir"
    assert len(log_ids) == 1 and len(archive_dirs) == 1, "archive and verify see the same trail"
    (archive, _verify) = _job_steps()
    (mount,) = [m for m in archive["volumeMounts"] if m["name"] == volume["name"]]
    assert not mount.get("readOnly"), "the archive step writes the files"
    writable = {m["mountPath"] for m in archive["volumeMounts"] if not m.get("readOnly")}
    assert "/tmp" in writable


def test_the_archive_claim_is_in_the_kustomization_with_a_size() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    claim = manifest("PersistentVolumeClaim", "jointgate-audit-archive")
    assert claim["__file__"] in kustomization["resources"]
    assert _cronjob()["__file__"] in kustomization["resources"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"], "only the job mounts it"
    assert _quantity(claim["spec"]["resources"]["requests"]["storage"]) >= 2**30


def test_the_retention_job_may_reach_postgresql_and_dns_only_and_no_service_selects_it() -> None:
    labels = _job_pod_labels()
    assert _policy_selector(RETENTION_POLICY).items() <= labels.items()
    for selector in (
        manifest("Service")["spec"]["selector"],
        _policy_selector(GATEWAY_POLICY),
        manifest("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        manifest("Deployment")["spec"]["selector"]["matchLabels"],
    ):
        assert not selector.items() <= labels.items(), "the job's pods are no gateway's"
    policy = manifest("NetworkPolicy", RETENTION_POLICY)["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert not policy.get("ingress"), "nothing connects to the job"
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    dsn = dict(
        part.split("=", 1) for part in _config()["audit"]["postgres_dsn"].split()
    )  # libpq key=value form
    assert egress_ports == {53, int(dsn.get("port", 5432))}
    gateway_rules = manifest("NetworkPolicy", GATEWAY_POLICY)["spec"]["egress"]
    for rule in policy["egress"]:
        assert rule in gateway_rules, "the same DNS and PostgreSQL rules as the gateway's"
