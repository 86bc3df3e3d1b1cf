"""The ``jointgate`` command line, run as a user runs it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from commands.demo import prepare
from gateway.authn import AuthSettings, TokenVerifier
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, DEMO_USERS, public_keys

ROOT = Path(__file__).parents[2]


def jointgate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "commands.main", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def test_help_lists_every_command() -> None:
    out = jointgate("--help")
    assert out.returncode == 0
    for command in ("demo", "serve", "sandbox", "token", "schema"):
        assert command in out.stdout


def test_schema_print_prints_the_sdl() -> None:
    out = jointgate("schema", "print")
    assert out.returncode == 0
    assert "type Enterprise {" in out.stdout and "scalar USCC" in out.stdout


def test_output_into_a_pipe_closed_early_ends_quietly() -> None:
    """`jointgate schema print | head -1`: no BrokenPipeError traceback (the reader here
    goes away before the schema is built, so the first write meets a closed pipe)."""
    reader = subprocess.Popen(
        [sys.executable, "-m", "commands.main", "schema", "print"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # what head does after its line
    err = reader.stderr.read().decode()
    reader.stderr.close()
    assert reader.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_token_is_a_valid_jwt_for_the_data_dir(tmp_path: Path) -> None:
    prepare(tmp_path)  # what jointgate demo does first: the demo issuer's key set
    assert (tmp_path / "issuer" / "jwks-private.json").is_file()
    out = jointgate("token", "court.clerk", "--data-dir", str(tmp_path))
    assert out.returncode == 0
    verifier = TokenVerifier(
        AuthSettings(DEMO_ISSUER, DEMO_AUDIENCE), lambda: public_keys(tmp_path)
    )
    principal = asyncio.run(verifier.authenticate(f"Bearer {out.stdout.strip()}"))
    assert (principal.subject, principal.agency) == ("court.clerk", "courts")
    assert (tmp_path / "issuer" / "jwks-private.json").stat().st_mode & 0o077 == 0


def test_token_without_a_demo_issuer_refuses_and_creates_nothing(tmp_path: Path) -> None:
    """Outside the demo's directory (the README's bare ``jointgate token jit.member``), a new
    issuer key would sign tokens that no gateway trusts: refused, nothing written."""
    out = jointgate("token", "jit.member", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert "no demo issuer in .jointgate" in out.stderr
    assert "jointgate demo" in out.stderr and "--data-dir" in out.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    out = jointgate("token", "jit.member", "--data-dir", str(empty))
    assert out.returncode == 2 and f"no demo issuer in {empty}" in out.stderr
    assert list(tmp_path.rglob("*")) == [empty]


def test_the_docs_list_every_demo_user() -> None:
    """docs/cli.md (``jointgate token``) and the README: the users of sandbox/issuer.py, no
    more, no fewer, in its order."""
    import re

    cli = (ROOT / "docs" / "cli.md").read_text().split("## jointgate token", 1)[1]
    readme = (ROOT / "README.md").read_text()
    for where, text, start, end in (
        ("docs/cli.md", cli, "USER is one of", "\n## "),
        ("README.md", readme, "Demo users:", "What each may see"),
    ):
        section = text.split(start, 1)[1].split(end, 1)[0]
        assert re.findall(r"`([a-z]+(?:\.[a-z]+)?)`", section) == list(DEMO_USERS), where


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


# what only the commands that need them import: the gateway's settings and runtime, the schema
# (strawberry, graphql-core), the audit trail, the policies (cedarpy), Redis and PostgreSQL
HEAVY = ("gateway", "schema", "audit", "policies", "strawberry", "graphql", "redis", "psycopg")


def imported_by(*argv: str, data_dir: Path | None = None) -> set[str]:
    """The top-level packages of HEAVY a ``jointgate`` run imports."""
    code = (
        "import sys\nfrom commands.main import main\n"
        f"try:\n    main({list(argv)!r})\nexcept SystemExit:\n    pass\n"
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=data_dir
    )
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split("\n")[-2].split())


def test_help_and_token_start_without_the_gateway_schema_or_trail(tmp_path: Path) -> None:
    """``jointgate --help`` and ``jointgate token`` import what they run and no more: each
    command's runner is imported once it is chosen (commands/main.py)."""
    assert imported_by("--help") == set()
    assert imported_by("audit", "--help") == set()
    assert imported_by("policy", "explain", "--help") == set()
    prepare(tmp_path)
    assert imported_by("token", "court.clerk", "--data-dir", str(tmp_path)) == set()


def test_the_audit_commands_run_alone_as_a_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "commands.audit", "--help"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0 and "subject-report" in out.stdout
