"""The ``jointgate`` command line, run as a user runs it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from gateway.authn import AuthSettings, TokenVerifier
from gateway.issuer import DEMO_AUDIENCE, DEMO_ISSUER, public_keys


def jointgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_every_command() -> None:
    out = jointgate("--help")
    assert out.returncode == 0
    for command in ("demo", "serve", "sandbox", "token", "schema"):
        assert command in out.stdout


def test_schema_print_prints_the_sdl() -> None:
    out = jointgate("schema", "print")
    assert out.returncode == 0
    assert "type Enterprise {" in out.stdout and "scalar USCC" in out.stdout


def test_token_is_a_valid_jwt_for_the_data_dir(tmp_path: Path) -> None:
    out = jointgate("token", "court.clerk", "--data-dir", str(tmp_path))
    assert out.returncode == 0
    verifier = TokenVerifier(
        AuthSettings(DEMO_ISSUER, DEMO_AUDIENCE), lambda: public_keys(tmp_path)
    )
    principal = asyncio.run(verifier.authenticate(f"Bearer {out.stdout.strip()}"))
    assert (principal.subject, principal.agency) == ("court.clerk", "courts")
    assert (tmp_path / "issuer" / "jwks-private.json").stat().st_mode & 0o077 == 0


def test_token_for_an_unknown_user_fails_clearly(tmp_path: Path) -> None:
    out = jointgate("token", "mallory", "--data-dir", str(tmp_path))
    assert out.returncode == 2
    assert "unknown user 'mallory'" in out.stderr and "police.investigator" in out.stderr


def test_sandbox_scenario_prints_the_identifiers() -> None:
    out = jointgate("sandbox", "scenario", "--scale", "0.05")
    assert out.returncode == 0
    scenario = json.loads(out.stdout)
    assert scenario["case_id"] == "JIT-2026-001"
    for key in ("enterprise_uscc", "person_id", "account_number", "police_case_number"):
        assert scenario[key]


def test_serve_with_a_bad_config_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "jointgate.toml"
    config.write_text('[auth]\nissuer = "x"\naudience = "y"\njwks_file = "k.json"\n')
    out = jointgate("serve", "--config", str(config))
    assert out.returncode == 2
    assert "agencies.police.url" in out.stderr
