"""``[agencies.NAME]`` resilience and TLS keys: defaults, values, mistakes named by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.registry import build_connectors
from connectors.resilience import Resilience
from connectors.tls import AgencyTLS
from gateway.settings import from_mapping
from kernel.config import ConfigError
from sandbox.tls import ensure_certificates


def _config(**police: Any) -> dict[str, Any]:
    agencies: dict[str, Any] = {
        name: {"url": f"http://{name}.example"}
        for name in ("market", "banking", "courts", "credit")
    }
    agencies["banking"]["key_env"] = "JG_TEST_BANK_KEY"
    agencies["credit"].update(institution="B1", password_env="JG_TEST_CREDIT_PASSWORD")
    agencies["police"] = {"url": "https://police.example", **police}
    return {
        "auth": {"issuer": "i", "audience": "a", "jwks_url": "https://idp.example/jwks.json"},
        "agencies": agencies,
    }


@pytest.fixture(autouse=True)
def _bank_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JG_TEST_BANK_KEY", "k")
    monkeypatch.setenv("JG_TEST_CREDIT_PASSWORD", "p")


def test_defaults() -> None:
    settings = from_mapping(_config())
    assert settings.agencies["police"].resilience == Resilience()
    assert settings.agencies["police"].tls is None
    assert settings.request_deadline_s == 10.0


async def test_values_reach_the_connectors(tmp_path: Path) -> None:
    certs = ensure_certificates(tmp_path / "tls")
    raw = _config(
        retries=0,
        retry_backoff_s=0.1,
        breaker_failures=3,
        breaker_failure_rate=1,
        breaker_cooldown_s=2.5,
        max_concurrency=8,
        retry_budget_ratio=0,
        tls={
            "ca_file": "tls/ca.pem",
            "cert_file": "tls/client.pem",
            "key_file": "tls/client-key.pem",
        },
    )
    raw["gateway"] = {"request_deadline_s": 4}
    settings = from_mapping(raw, base=tmp_path)
    police = settings.agencies["police"]
    assert police.resilience == Resilience(
        retries=0,
        retry_backoff_s=0.1,
        breaker_failures=3,
        breaker_failure_rate=1.0,
        breaker_cooldown_s=2.5,
        max_concurrency=8,
        retry_budget_ratio=0.0,
    )
    assert police.tls == AgencyTLS(certs.ca, certs.client_cert, certs.client_key)
    assert settings.request_deadline_s == 4.0
    connectors = build_connectors(settings.agencies)
    try:
        status = connectors["police"].status()
        assert status["circuit"] == "closed" and status["max_concurrency"] == 8
    finally:
        for connector in connectors.values():
            await connector.aclose()


@pytest.mark.parametrize(
    ("police", "message"),
    [
        ({"retries": -1}, "agencies.police.retries: must be a whole number >= 0"),
        ({"retries": 1.5}, "agencies.police.retries: must be a whole number >= 0"),
        ({"max_concurrency": 0}, "agencies.police.max_concurrency: must be a whole number >= 1"),
        ({"breaker_failure_rate": 0}, "agencies.police.breaker_failure_rate: must be a share"),
        ({"retry_budget_ratio": 1.5}, "agencies.police.retry_budget_ratio: must be a share"),
        ({"breaker_cooldown_s": "10"}, "agencies.police.breaker_cooldown_s: must be a positive"),
        ({"tls": "yes"}, r"agencies.police.tls: must be a table"),
        ({"tls": {"ca": "x"}}, "agencies.police.tls.ca: unknown key"),
        ({"tls": {"ca_file": "missing.pem"}}, "agencies.police.tls.ca_file: cannot read"),
        ({"tls": {"key_file": "k.pem"}}, "agencies.police.tls.cert_file: required with key_file"),
        (
            {"url": "http://police.example", "tls": {"ca_file": "x"}},
            r"agencies.police.url: must be https://",
        ),
    ],
)
def test_mistakes_name_the_key(police: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_mapping(_config(**police))


def test_a_file_that_is_not_a_certificate_is_found_at_start(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"agencies.police.tls.ca_file: cannot load"):
        from_mapping(_config(tls={"ca_file": "ca.pem"}), base=tmp_path)
    certs = ensure_certificates(tmp_path / "tls")
    mismatched = {"cert_file": "tls/client.pem", "key_file": "tls/server-key.pem"}
    with pytest.raises(ConfigError, match=r"agencies.police.tls.cert_file: cannot load"):
        from_mapping(_config(tls=mismatched), base=tmp_path)
    assert certs.ca.exists()
