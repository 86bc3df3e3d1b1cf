"""infra/compose.yaml: two gateways, Redis, PostgreSQL, the sandbox agencies and an OpenTelemetry
collector, wired so that the gateway's own validation accepts what each gateway is given."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from gateway.settings import AGENCIES, load
from sandbox.issuer import DEMO_ISSUER
from tests.infra.conftest import (
    INFRA,
    ROOT,
    compose_toml,
    exec_form,
    final_stage,
    gateway_services,
    image_ref,
    services,
)

PINNED_IMAGE = re.compile(r"^[\w./-]+:\d+(\.\d+)+[\w.-]*$")


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> volume name or host path."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        found[target] = source
    return found


def test_the_stack_has_two_gateways_and_what_they_share() -> None:
    assert len(gateway_services()) == 2
    assert {"redis", "postgres", "sandbox", "otel-collector", "setup"} <= set(services())
    for name, gateway in gateway_services().items():
        needs = set(gateway["depends_on"])
        assert {"redis", "postgres", "sandbox", "setup"} <= needs, name
        assert gateway["depends_on"]["setup"]["condition"] == "service_completed_successfully"
        assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_our_services_run_the_image_the_dockerfile_builds() -> None:
    ours = {n: s for n, s in services().items() if s["image"].startswith("jointgate:")}
    assert set(gateway_services()) | {"sandbox", "setup"} <= set(ours)
    for name, service in ours.items():
        assert service["image"] == image_ref(), name
        build = service["build"]
        assert (INFRA / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]) == INFRA / "Dockerfile"


def test_every_other_image_is_pinned_to_a_version() -> None:
    for name, service in services().items():
        assert PINNED_IMAGE.match(service["image"]), f"{name}: pin {service['image']!r}"
        assert not service["image"].endswith(":latest")


def test_gateways_serve_the_mounted_config_on_the_port_they_publish() -> None:
    config = tomllib.loads(compose_toml())
    (runtime_cmd,) = [i.args for i in final_stage() if i.keyword == "CMD"]
    for name, gateway in gateway_services().items():
        assert gateway["command"] == exec_form(runtime_cmd), name
        config_path = gateway["command"][-1]
        assert _mounts(gateway)[config_path] == "./compose/jointgate.toml"
        assert (INFRA / "compose" / "jointgate.toml").is_file()
        published = [p.split(":") for p in gateway["ports"]]
        assert [int(inner) for _, inner in published] == [config["gateway"]["port"]]
        assert "healthcheck" not in gateway, "the image's HEALTHCHECK (/healthz) applies"
    host_ports = [p.split(":")[0] for g in gateway_services().values() for p in g["ports"]]
    assert len(set(host_ports)) == len(host_ports)
    assert config["gateway"]["host"] == "0.0.0.0"


def test_the_agency_urls_are_the_sandbox_services_ports() -> None:
    sandbox = services()["sandbox"]
    command = sandbox["command"]
    assert command[0] == "sandbox" and "--host=0.0.0.0" in command
    ports = dict(
        arg.removeprefix("--port=").split("=") for arg in command if arg.startswith("--port=")
    )
    assert set(ports) == set(AGENCIES)
    config = tomllib.loads(compose_toml())
    for agency in AGENCIES:
        url = urlsplit(config["agencies"][agency]["url"])
        assert (url.hostname, str(url.port)) == ("sandbox", ports[agency]), agency
    probe = " ".join(sandbox["healthcheck"]["test"])
    for port in ports.values():
        assert f"{port}" in probe
    # the key the sandbox bank accepts is the one the gateway signs with
    bank_key = config["agencies"]["banking"]["key_file"]
    assert f"--bank-key-file={bank_key}" in command


def test_redis_and_postgres_in_the_config_are_the_compose_services() -> None:
    config = tomllib.loads(compose_toml())
    assert urlsplit(config["rate_limits"]["redis_url"]).hostname == "redis"
    assert urlsplit(config["governance"]["database"]).hostname == "postgres"
    assert "host=postgres" in config["audit"]["postgres_dsn"].split()
    assert config["audit"]["backend"] == "postgres"
    postgres = services()["postgres"]["environment"]
    assert f"user={postgres['POSTGRES_USER']}" in config["audit"]["postgres_dsn"]
    assert f"dbname={postgres['POSTGRES_DB']}" in config["audit"]["postgres_dsn"]


def test_no_secret_is_written_in_the_compose_file() -> None:
    for name, service in services().items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key or key.endswith("_KEY"):
                assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", str(value)), f"{name}.{key}"


def test_each_gateway_keeps_its_own_audit_log() -> None:
    log_ids = [g["environment"]["JOINTGATE_AUDIT__LOG_ID"] for g in gateway_services().values()]
    assert len(set(log_ids)) == 2


@pytest.mark.parametrize("name", sorted(gateway_services()))
def test_each_gateways_config_passes_validation_with_what_setup_writes(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the setup service's code into a stand-in for the demo volume, point the config's
    mount paths at stand-ins, give the gateway's environment, and load as `serve` would."""
    from gateway.ratelimit_settings import RateLimits

    gateway = gateway_services()[name]
    mounts = {t: tmp_path / t.strip("/").replace("/", "_") for t in _mounts(gateway)}
    setup = services()["setup"]
    code = setup["entrypoint"][-1]
    (demo_target,) = [t for t in _mounts(setup) if t in code]
    assert _mounts(setup)[demo_target] == _mounts(gateway)[demo_target]  # the same volume
    exec(compile(code.replace(demo_target, str(mounts[demo_target])), "setup", "exec"), {})

    text = compose_toml()
    for target, stand_in in mounts.items():
        text = text.replace(f'"{target}/', f'"{stand_in}/').replace(f'"{target}"', f'"{stand_in}"')
    leftover = [p for p in re.findall(r'"(/[^"]+)"', text) if not p.startswith(str(tmp_path))]
    assert leftover == [], f"paths outside the gateway's volumes: {leftover}"
    (tmp_path / "jointgate.toml").write_text(text)
    for key in [k for k in os.environ if k.startswith("JOINTGATE_")]:
        monkeypatch.delenv(key)
    for key, value in gateway["environment"].items():
        monkeypatch.setenv(key, str(value))

    settings = load(tmp_path / "jointgate.toml")
    assert settings.issuer == DEMO_ISSUER
    assert settings.audit.log_id == gateway["environment"]["JOINTGATE_AUDIT__LOG_ID"]
    assert settings.agencies["banking"].key  # the sandbox bank's key, written by setup
    assert settings.jwks_file is not None and settings.jwks_file.is_file()
    RateLimits.from_mapping(tomllib.loads(text)["rate_limits"])


def test_the_collector_receives_what_the_gateways_send() -> None:
    collector = services()["otel-collector"]
    (config_arg,) = [a for a in collector["command"] if a.startswith("--config=")]
    path = config_arg.removeprefix("--config=")
    source = _mounts(collector)[path]
    config = yaml.safe_load((INFRA / source).read_text())
    # the gateway's exporter speaks OTLP/HTTP (gateway/telemetry.py)
    http = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    for name, gateway in gateway_services().items():
        endpoint = urlsplit(gateway["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert endpoint.hostname == "otel-collector", name
        assert endpoint.port == int(http.rsplit(":", 1)[1]), name
    pipelines = config["service"]["pipelines"]
    assert {"traces", "metrics", "logs"} <= set(pipelines)
    for signal, pipeline in pipelines.items():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                assert component in config[section], f"{signal}: {component} is not defined"
