"""``jointgate config check FILE``: exit 0 with a summary, or 1 naming the problem."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config_check import redact

CONFIG = """
[gateway]
port = 9000
[auth]
issuer = "https://idp.example"
audience = "jointgate"
jwks_file = "jwks.json"
[governance]
database = "postgresql://gateway:hunter2@db.example/jointgate"
[agencies.police]
url = "http://police.example"
[agencies.market]
url = "http://market.example"
[agencies.banking]
url = "http://bank.example"
[agencies.courts]
url = "http://courts.example"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JOINTGATE_BANK_KEY", "bank-secret")
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{"kty": "EC"}]}))
    (tmp_path / "jointgate.toml").write_text(CONFIG)
    return tmp_path / "jointgate.toml"


def test_a_good_config_prints_a_summary(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOINTGATE_AUDIT__LOG_ID", "gw-7")
    assert main(["config", "check", str(config)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{config}: OK") and err == ""
    assert "audit.log_id                 from JOINTGATE_AUDIT__LOG_ID" in out
    assert "0.0.0.0" not in out and "127.0.0.1:9000" in out
    assert "log gw-7" in out
    assert "postgresql://gateway:***@db.example/jointgate" in out
    assert "hunter2" not in out and "bank-secret" not in out
    assert "one replica only" in out  # the audit trail is SQLite in the data dir


@pytest.mark.parametrize(
    ("change", "env", "message"),
    [
        (lambda t: t.replace("port = 9000", "port = 0"), {}, "gateway.port: must be a positive"),
        (lambda t: t, {"JOINTGATE_GATEWAY__PORT": "x"}, "JOINTGATE_GATEWAY__PORT: gateway.port"),
        (lambda t: t, {"JOINTGATE_BANK_KEY": ""}, "agencies.banking.key_env: environment"),
        (lambda t: t.replace("jwks.json", "missing.json"), {}, "auth.jwks_file: cannot read"),
        (lambda t: t + '[policy]\ndir = "."\n', {}, "policy.dir: no \\*.cedar files"),
        (
            lambda t: t + '[audit]\nbackend = "postgres"\n',
            {},
            "audit.postgres_dsn: required for the postgres backend",
        ),
        (
            lambda t: t + '[audit]\ndata_key_env = "JG_TEST_DATA_KEY"\n',
            {},
            "audit.data_key_env: environment variable JG_TEST_DATA_KEY is not set",
        ),
    ],
)
def test_a_bad_config_exits_1_naming_the_problem(
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[str], str],
    env: dict[str, str],
    message: str,
) -> None:
    import re

    config.write_text(change(CONFIG))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["config", "check", str(config)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert re.search(f"^jointgate config check: {message}", err, re.M), err


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(tmp_path / "nope.toml")]) == 1
    assert "nope.toml: no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("postgresql://u:pw@db/x", "postgresql://u:***@db/x"),
        ("host=db user=u password=pw dbname=x", "host=db user=u password=*** dbname=x"),
        ("host=db password='a b' dbname=x", "host=db password=*** dbname=x"),
        ("sqlite:////var/lib/jointgate/governance.sqlite3", None),
        ("postgresql://u@db/x", None),
    ],
)
def test_passwords_are_redacted(location: str, shown: str | None) -> None:
    assert redact(location) == (shown or location)
