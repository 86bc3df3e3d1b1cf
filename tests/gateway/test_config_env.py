"""JOINTGATE_* overrides: every setting can be set from the environment, values are typed and
validated like the file's, mistakes name the variable and the fix; every setting is documented."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from connectors.resilience import Resilience
from gateway.limits_settings import QueryLimits
from gateway.settings import SETTINGS, Settings, all_variables, load, overrides, variable_name
from kernel.config import ConfigError
from sandbox.issuer import public_keys
from sandbox.tls import ensure_certificates

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"

BASE = """
[auth]
issuer = "https://idp.example"
audience = "jointgate"
jwks_url = "https://idp.example/jwks.json"
[agencies.police]
url = "http://police.example"
[agencies.market]
url = "http://market.example"
[agencies.banking]
url = "https://bank.example"
[agencies.courts]
url = "http://courts.example"
[agencies.credit]
url = "http://credit.example"
institution = "B10011000H0001"
"""


@pytest.fixture(autouse=True)
def credit_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credit system's UsernameToken password, from its default variable."""
    monkeypatch.setenv("JOINTGATE_CREDIT_PASSWORD", "credit-secret")


# a valid value different from the default, by key
SAMPLES = {
    "host": "0.0.0.0",
    "request_timeout_s": "30",
    "cors_allowed_origins": "https://app.example, https://b.example",
    "trusted_proxies": "10.0.0.0/8, fd00::/8",
    "issuer": "https://other-idp.example",
    "jwks_url": "https://other-idp.example/jwks.json",
    "jwks_file": "jwks.json",  # read at load: a file with a key set
    "backend": "postgres",
    "postgres_dsn": "host=db.example dbname=jointgate",
    "mode": "reject",
    "enforcement": "off",
    "database": "postgresql://jointgate@db.example/jointgate",
    "url": "https://bank-2.example",
    "key_file": "other.key",
    "key_env": "OTHER_BANK_KEY",
    "retry_budget_ratio": "0.75",
    "breaker_failure_rate": "0.75",
    "unindexed_types": '["Person", "Transaction"]',
    "introspection_roles": "auditor",
    "enabled": "false",
    "volume": "{Person = 5}",
    "redis_url": "redis://redis.example:6379/1",
    "trusted_file": "trusted.json",
    "restricted_clients": "kiosk",
    "otlp_endpoint": "http://otel-collector:4318",
    "sample_ratio": "0.25",
    "log_format": "text",
    "log_level": "debug",
    "metrics": "false",
    "oidc_discovery_url": "https://idp.example/.well-known/openid-configuration",
    "public_url": "https://gateway.example",
    "concentrate_min_share": "0.75",
    "concentrate_min_out_share": "0.75",
    "pool_min_feeder_share": "0.75",
    "passthrough_min_ratio": "0.75",
}
BY_KIND = {"int": "7", "float": "7.5", "bool": "true", "list": "a,b", "str": "changed"}


def _variables() -> list[tuple[str, tuple[str, ...]]]:
    # every agency table takes the same keys; banking is the one that reads key_* (and is https)
    return [
        (variable, path)
        for variable, path in all_variables().items()
        if path[0] != "agencies" or path[1] == "banking"
    ]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JOINTGATE_BANK_KEY", "bank-secret")
    monkeypatch.setenv("OTHER_BANK_KEY", "other-secret")
    (tmp_path / "other.key").write_text("file-secret\n")
    (tmp_path / "trusted.json").write_text("{}")
    keys = public_keys(tmp_path / "issuer").as_dict(private=False)
    (tmp_path / "jwks.json").write_text(json.dumps(keys))
    (tmp_path / "jointgate.toml").write_text(BASE)
    return tmp_path / "jointgate.toml"


@pytest.mark.parametrize(("variable", "path"), _variables(), ids=lambda v: str(v))
def test_every_setting_can_be_set_from_the_environment(
    config: Path, monkeypatch: pytest.MonkeyPatch, variable: str, path: tuple[str, ...]
) -> None:
    if path[0] == "rate_limits" and "rate_limits" not in Settings.__dataclass_fields__:
        pytest.skip("[rate_limits] is not read into Settings yet")
    before = load(config)
    if path[-2] == "tls":
        files = ensure_certificates(config.parent / "tls")
        tls = {"ca_file": files.ca, "cert_file": files.client_cert, "key_file": files.client_key}
        if path[-1] != "ca_file":  # a client certificate needs both halves
            for key in ("cert_file", "key_file"):
                monkeypatch.setenv(variable_name((*path[:-1], key)), str(tls[key]))
        monkeypatch.setenv(variable, str(tls[path[-1]]))
    else:
        if path == ("persisted_operations", "restricted_clients"):  # needs its trusted list
            monkeypatch.setenv(variable_name((*path[:-1], "trusted_file")), "trusted.json")
        table = ".".join(path[:-1]).replace(".banking", ".*")
        kind = SETTINGS[table][path[-1]]
        monkeypatch.setenv(variable, SAMPLES.get(path[-1], BY_KIND.get(kind, "")))
    if path == ("auth", "jwks_file"):  # one source of keys: the file's URL gives way
        config.write_text(
            config.read_text().replace('jwks_url = "https://idp.example/jwks.json"', "")
        )
        assert load(config).jwks_file == config.parent / "jwks.json"
        return
    assert load(config) != before, f"{variable} changed nothing"


def test_values_are_typed_like_toml() -> None:
    found = {
        o.key: o.value
        for o in overrides(
            {
                "JOINTGATE_GATEWAY__PORT": "9000",
                "JOINTGATE_GATEWAY__REQUEST_DEADLINE_S": "2.5",
                "JOINTGATE_GATEWAY__BATCHING": "TRUE",
                "JOINTGATE_GATEWAY__CORS_ALLOWED_ORIGINS": '["https://a.example"]',
                "JOINTGATE_AUDIT__UNINDEXED_TYPES": "Transaction, Person",
                "JOINTGATE_LIMITS__INTROSPECTION_ROLES": "",
                "JOINTGATE_RATE_LIMITS__VOLUME": "{Person = 100, BankAccount = 50}",
                "JOINTGATE_AUDIT__LOG_ID": "007",
                "JOINTGATE_BANK_KEY": "a secret, not a setting",
                "PATH": "/usr/bin",
            }
        )
    }
    assert found == {
        "gateway.port": 9000,
        "gateway.request_deadline_s": 2.5,
        "gateway.batching": True,
        "gateway.cors_allowed_origins": ["https://a.example"],
        "audit.unindexed_types": ["Transaction", "Person"],
        "limits.introspection_roles": [],
        "rate_limits.volume": {"Person": 100, "BankAccount": 50},
        "audit.log_id": "007",
    }


def test_an_override_wins_over_the_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_text(BASE.replace("[auth]", "[gateway]\nport = 9000\n[auth]"))
    monkeypatch.setenv("JOINTGATE_GATEWAY__PORT", "9100")
    monkeypatch.setenv("JOINTGATE_AGENCIES__POLICE__URL", "http://police-2.example/")
    settings = load(config)
    assert settings.port == 9100
    assert settings.agencies["police"].url == "http://police-2.example"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "JOINTGATE_GATEWAY__PROT",
            "1",
            "gateway.prot is not a setting; did you mean JOINTGATE_GATEWAY__PORT?",
        ),
        (
            "JOINTGATE_GATEWAY_PORT",
            "1",
            "did you mean JOINTGATE_GATEWAY__PORT\\? \\(two underscores",
        ),
        (
            "JOINTGATE_GATEWAY__PORT",
            "eighty",
            "JOINTGATE_GATEWAY__PORT: gateway.port must be a whole number",
        ),
        ("JOINTGATE_GATEWAY__BATCHING", "yes", "gateway.batching must be true or false"),
        (  # no example borrowed from another key (it said "such as 8400", a port)
            "JOINTGATE_GATEWAY__WORKERS",
            "two",
            r"gateway.workers must be a whole number \(digits only\)$",
        ),
        (  # int() reads other scripts' digits: 9000 in Arabic-Indic
            "JOINTGATE_GATEWAY__PORT",
            "٩٠٠٠",
            "JOINTGATE_GATEWAY__PORT: gateway.port must be a whole number",
        ),
        (
            "JOINTGATE_GATEWAY__PORT",
            "-1",
            r"gateway.port: a whole number from 1 to 65535, got -1 \(set by JOINTGATE_GATEWAY__PORT\)",
        ),
        ("JOINTGATE_POLICY__MODE", "lenient", r"policy.mode: .* \(set by JOINTGATE_POLICY__MODE\)"),
        ("JOINTGATE_AGENCIES__TAX__URL", "http://tax", "unknown agency 'tax'; known: police"),
        ("JOINTGATE_AGENCIES__BANKING__KEY", "inline", "secrets are not settings"),
        ("JOINTGATE_TRACING__ENDPOINT", "x", r"no table \[tracing\]; tables: agencies.NAME"),
        (
            "JOINTGATE_TELEMETRY__ENDPOINT",
            "x",
            "did you mean JOINTGATE_TELEMETRY__OTLP_ENDPOINT",
        ),
        (
            "JOINTGATE_TELEMETRY__SAMPLE_RATIO",
            "2",
            r"telemetry.sample_ratio: a share from 0 to 1, got 2.0 \(set by JOINTGATE_TELEMETRY",
        ),
        ("JOINTGATE___PORT", "1", "write JOINTGATE_TABLE__KEY"),
        (
            "JOINTGATE_RATE_LIMITS__VOLUME__PERSON",
            "1",
            "JOINTGATE_RATE_LIMITS__VOLUME takes the whole table",
        ),
        ("JOINTGATE_RATE_LIMITS__VOLUME", "[1]", "must be a TOML inline table"),
    ],
)
def test_mistakes_name_the_variable_and_the_fix(
    config: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load(config)


def test_other_jointgate_variables_are_left_alone(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOINTGATE_AUDIT_DATA_KEY", "ab" * 32)  # secrets have single underscores
    monkeypatch.setenv("JOINTGATE_GATEWAY", "x")
    assert load(config).port == 8400


def test_a_secret_variable_named_by_a_setting_is_not_mistaken_for_an_override(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text(BASE + '\n[audit]\npostgres_dsn_env = "JOINTGATE_AUDIT_POSTGRES_DSN"\n')
    monkeypatch.setenv("JOINTGATE_AUDIT_POSTGRES_DSN", "host=db password=secret")
    assert load(config).audit.postgres_dsn_env == "JOINTGATE_AUDIT_POSTGRES_DSN"


def test_the_registry_follows_the_declarations() -> None:
    from gateway.ratelimit_settings import RateLimits

    agency = SETTINGS["agencies.*"]
    assert {f.name for f in dataclasses.fields(Resilience)} <= set(agency)
    assert set(SETTINGS["limits"]) == {f.name for f in dataclasses.fields(QueryLimits)}
    assert set(SETTINGS["rate_limits"]) == {f.name for f in dataclasses.fields(RateLimits)}


def _documented() -> dict[str, str]:
    """``key -> default`` from the table rows of docs/configuration.md."""
    rows: dict[str, str] = {}
    for line in DOCS.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = [n.strip().strip("`") for n in cells[0].split("/")]
        table = names[0].rsplit(".", 1)[0]
        for name in names:
            key = name if name.count(".") >= table.count(".") + 1 else f"{table}.{name}"
            rows.setdefault(key.replace(".NAME", ".*").replace(".banking", ".*"), cells[1])
    return rows


def test_every_setting_is_documented_with_its_default() -> None:
    documented = _documented()
    settings = {f"{table}.{key}" for table, keys in SETTINGS.items() for key in keys}
    assert settings - set(documented) == set(), "settings missing from docs/configuration.md"
    stale = {k for k in set(documented) - settings if re.match(r"^[a-z_]+(\.[a-z_*]+)+$", k)}
    assert stale == set(), "docs/configuration.md lists keys that are not settings"
    assert all(documented[k] for k in settings), "every row says the default"


def test_the_docs_describe_the_variable_scheme() -> None:
    text = DOCS.read_text()
    for variable in ("JOINTGATE_GATEWAY__PORT", "JOINTGATE_AGENCIES__POLICE__URL"):
        assert variable in text
        assert variable in all_variables()
