"""jointgate.toml: valid files load; mistakes are named by key; secrets never inline."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import load
from kernel.config import ConfigError

VALID = """
[gateway]
port = 9000
[auth]
issuer = "https://idp.example"
audience = "jointgate"
jwks_url = "https://idp.example/jwks.json"
[agencies.police]
url = "http://police.example/"
[agencies.market]
url = "http://market.example"
timeout_s = 2.5
[agencies.banking]
url = "http://bank.example"
key_file = "bank.key"
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


def test_a_valid_config_loads(tmp_path: Path) -> None:
    (tmp_path / "bank.key").write_text("s3cret\n")
    (tmp_path / "jointgate.toml").write_text(VALID)
    settings = load(tmp_path / "jointgate.toml")
    assert settings.port == 9000
    assert settings.agencies["police"].url == "http://police.example"
    assert settings.agencies["market"].timeout_s == 2.5
    assert settings.agencies["banking"].key == b"s3cret"
    assert settings.data_dir == tmp_path / ".jointgate"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('url = "http://courts.example"', ""), "agencies.courts.url: required"),
        (
            lambda t: t.replace("timeout_s = 2.5", "timeout_s = -1"),
            "agencies.market.timeout_s: must be a positive number",
        ),
        (
            lambda t: t.replace('key_file = "bank.key"', 'key = "inline"'),
            "agencies.banking.key: secrets are not read",
        ),
        (
            lambda t: t.replace('key_file = "bank.key"', 'key_file = "missing.key"'),
            "agencies.banking.key_file: cannot read",
        ),
        (
            lambda t: t.replace('jwks_url = "https://idp.example/jwks.json"', ""),
            "auth.jwks_url: required",
        ),
        (lambda t: t.replace('audience = "jointgate"', ""), "auth.audience: required"),
        (lambda t: t + "\n[agencies.tax]\nurl = 'x'\n", "agencies.tax: unknown agency"),
        (lambda t: t + "\n[[broken", "not valid TOML"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bank.key").write_text("s3cret\n")
    (tmp_path / "jointgate.toml").write_text(change(VALID))
    with pytest.raises(ConfigError, match=message):
        load(tmp_path / "jointgate.toml")


def test_the_bank_key_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOINTGATE_BANK_KEY", "from-env")
    (tmp_path / "jointgate.toml").write_text(VALID.replace('key_file = "bank.key"', ""))
    assert load(tmp_path / "jointgate.toml").agencies["banking"].key == b"from-env"


BANK_KEY = "hmac-8f1c0e5a9d7b4c3e"


@pytest.mark.parametrize("source", ["file", "env"])
def test_the_bank_key_is_never_in_a_repr_str_or_log(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    source: str,
) -> None:
    import logging

    from commands.main import main

    config = VALID
    if source == "file":
        (tmp_path / "bank.key").write_text(BANK_KEY + "\n")
    else:
        monkeypatch.setenv("JOINTGATE_BANK_KEY", BANK_KEY)
        config = VALID.replace('key_file = "bank.key"', "")
    (tmp_path / "jointgate.toml").write_text(config)
    settings = load(tmp_path / "jointgate.toml")
    assert settings.agencies["banking"].key == BANK_KEY.encode()  # loaded, and ...
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("jointgate").info("settings: %s", settings)
        logging.getLogger("jointgate").info("settings: %r", settings)
        logging.getLogger("jointgate").info("banking: %s", settings.agencies["banking"])
    assert main(["config", "check", str(tmp_path / "jointgate.toml")]) == 0
    shown = [repr(settings), str(settings), str(settings.agencies), caplog.text]
    shown += list(capsys.readouterr())
    for text in shown:  # ... shown nowhere, in any encoding we print bytes with
        assert BANK_KEY not in text and repr(BANK_KEY.encode()) not in text
        assert BANK_KEY.encode().hex() not in text


def test_the_loader_knows_every_table_the_overrides_know() -> None:
    from gateway.settings import SETTINGS, TABLES

    assert set(TABLES) == {table.split(".")[0] for table in SETTINGS}


def test_every_problem_of_a_file_is_one_error_a_line_each(tmp_path: Path) -> None:
    """A wrong key does not hide the keys after it, in its table or in others; nor does a
    required key that is missing; a secret in an open table is named as one."""
    (tmp_path / "bank.key").write_text("s3cret\n")
    (tmp_path / "jointgate.toml").write_text(
        VALID.replace('url = "http://courts.example"', "timeout_s = 0")
        .replace("port = 9000", 'port = 9000\nkey = "inline"\nhost = 5')
        .replace("timeout_s = 2.5", "timeout_s = -1\nmax_connections = 0\nretries = -2")
        + "[policy]\nreload_s = 0\nshared = 'yes'\n"
    )
    with pytest.raises(ConfigError) as refused:
        load(tmp_path / "jointgate.toml")
    assert refused.value.problems == (
        "gateway.key: secrets are not read from the config (docs/configuration.md)",
        "gateway.host: must be text (a TOML string), got 5",
        "agencies.market.timeout_s: must be a positive number, got -1",
        "agencies.market.max_connections: must be a positive number, got 0",
        "agencies.market.retries: must be a whole number >= 0, got -2",
        "agencies.courts.timeout_s: must be a positive number, got 0",
        "agencies.courts.url: required; the base URL of the courts system",
        "policy.reload_s: must be a positive number, got 0",
        "policy.shared: true or false, got 'yes'",
    )
    assert str(refused.value) == "\n".join(refused.value.problems)
