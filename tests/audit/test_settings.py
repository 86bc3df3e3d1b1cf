"""The [audit] table: defaults, paths under the data dir, secrets never inline."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.config import AuditSettings, load_config
from audit.errors import AuditConfigError, AuditKeyError
from gateway.settings import audit_settings, load_audit
from kernel.config import ConfigError


def test_defaults_live_in_the_data_dir(tmp_path: Path) -> None:
    config = load_config(AuditSettings(), tmp_path)
    assert config.settings.path == tmp_path / "audit" / "trail.db"
    assert config.archive_dir == tmp_path / "audit" / "archive"
    assert config.retention_days == 400
    key_file = tmp_path / "audit" / "keys" / "signing.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "audit" / "keys" / "data.key").stat().st_mode & 0o777 == 0o600
    assert config.log_id  # the host name
    again = load_config(AuditSettings(), tmp_path)  # keys are created once, then reused
    assert again.signer.key_id == config.signer.key_id and again.key.key_id == config.key.key_id


def test_a_config_file_names_backend_keys_and_retention(tmp_path: Path) -> None:
    toml = tmp_path / "jointgate.toml"
    toml.write_text(
        '[gateway]\ndata_dir = "state"\n[audit]\nbackend = "postgres"\n'
        'postgres_dsn = "host=127.0.0.1 dbname=test"\nlog_id = "gw-2"\nretention_days = 30\n'
        'signing_key_file = "keys/audit.key"\ndata_key_env = "AUDIT_KEY"\n'
        'unindexed_types = ["Transaction", "SuspiciousReport"]\n'
    )
    settings, data_dir = load_audit(toml)
    assert data_dir == tmp_path / "state"
    assert settings.backend == "postgres" and settings.log_id == "gw-2"
    assert settings.retention_days == 30
    assert settings.signing_key_file == (tmp_path / "keys" / "audit.key").absolute()
    assert settings.unindexed_types == ("Transaction", "SuspiciousReport")
    with pytest.raises(AuditKeyError, match="AUDIT_KEY"):
        load_config(settings, data_dir)  # the variable is not set


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"backend": "mysql"}, "audit.backend"),
        ({"data_key": "00" * 32}, "not read from the config"),
        ({"retention_days": 0}, "audit.retention_days"),
        ({"unindexed_types": "Transaction"}, "audit.unindexed_types"),
    ],
)
def test_bad_audit_settings_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        audit_settings(table)


def test_postgres_needs_a_dsn_and_a_plain_schema_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOINTGATE_AUDIT_DSN", raising=False)
    config = load_config(AuditSettings(backend="postgres"), tmp_path)
    with pytest.raises(AuditConfigError, match="postgres_dsn"):
        config.new_store()
    bad = load_config(
        AuditSettings(backend="postgres", postgres_dsn="host=x", postgres_schema="a; drop"),
        tmp_path,
    )
    with pytest.raises(AuditConfigError, match="postgres_schema"):
        bad.new_store()
