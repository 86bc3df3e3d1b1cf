"""The administrators' commands, run as an administrator runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from policies.engine import DEFAULT_DIR


def jointgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_validate_and_test_the_default_set() -> None:
    out = jointgate("policy", "validate")
    assert out.returncode == 0 and "ok: 22 policies" in out.stdout
    out = jointgate("policy", "test")
    assert out.returncode == 0 and ", 0 failed" in out.stdout


def test_validate_names_file_and_line(tmp_path: Path) -> None:
    shutil.copytree(
        DEFAULT_DIR, tmp_path / "p", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    (tmp_path / "p" / "99-bad.cedar").write_text(
        '@id("bad")\npermit (principal, action, resource)\nwhen { resource.colour == "red" };\n'
    )
    out = jointgate("policy", "validate", str(tmp_path / "p"))
    assert out.returncode == 1
    assert "99-bad.cedar:1: for policy `bad`, attribute `colour`" in out.stderr


def test_explain_a_query_for_a_user() -> None:
    query = '{ enterprise(uscc: "91350100M000100Y43") { name bankAccounts { number balance } } }'
    out = jointgate(
        "policy", "explain", "--user", "market.officer", "--purpose", "supervision", query
    )
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()[1:]}
    assert lines["enterprise.bankAccounts.number"][:2] == [
        "mask(account)",
        "market-sees-account-numbers-masked",
    ]
    assert lines["enterprise.bankAccounts.balance"][:2] == ["deny", "default-deny"]


def test_diff_shows_the_impact_of_a_change(tmp_path: Path) -> None:
    new = tmp_path / "new"
    shutil.copytree(DEFAULT_DIR, new, ignore=shutil.ignore_patterns("*.py", "__pycache__", "tests"))
    text = (
        (new / "20-exceptions.cedar")
        .read_text()
        .replace(
            '@id("market-sees-account-numbers-masked")\n@mask\n',
            '@id("market-sees-account-numbers-masked")\n',
        )
    )
    (new / "20-exceptions.cedar").write_text(text)
    queries = tmp_path / "queries.json"
    queries.write_text(
        json.dumps(
            [
                {
                    "name": "accounts",
                    "query": '{ enterprise(uscc: "91350100M000100Y43") { bankAccounts { number } } }',
                }
            ]
        )
    )
    out = jointgate("policy", "diff", str(DEFAULT_DIR), str(new), "--queries", str(queries))
    assert out.returncode == 0, out.stderr
    assert (
        "accounts: market.officer supervision: enterprise.bankAccounts.number: mask(account) -> allow"
        in out.stdout
    )


def test_teams_and_review_commands(tmp_path: Path) -> None:
    dd = ["--data-dir", str(tmp_path)]
    assert (
        jointgate(
            "teams", "create", "JIT-9", "--case", "JIT-9", "--until", "2099-01-01", *dd
        ).returncode
        == 0
    )
    assert jointgate("teams", "add-member", "JIT-9", "alice", *dd).returncode == 0
    listed = jointgate("teams", "list", "--json", *dd)
    (team,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (
        team["members"] == ["alice"]
        and team["active"]
        and team["valid_until"].startswith("2099-01-01")
    )
    again = jointgate("teams", "add-member", "JIT-9", "alice", *dd)
    assert again.returncode == 1 and "already a member" in again.stderr
    assert jointgate("teams", "close", "JIT-9", *dd).returncode == 0
    assert json.loads(jointgate("teams", "list", "--json", *dd).stdout)["active"] is False
    pending = jointgate("review", "pending", *dd)
    assert pending.returncode == 0 and pending.stdout == ""
    missing = jointgate("review", "sign-off", "nope", "--reviewer", "bob", *dd)
    assert missing.returncode == 1 and "no break-glass access nope" in missing.stderr


def test_diff_covers_record_rules_given_principals_and_fails_on_change(tmp_path: Path) -> None:
    new = tmp_path / "new"
    shutil.copytree(DEFAULT_DIR, new, ignore=shutil.ignore_patterns("*.py", "__pycache__", "tests"))
    records = new / "40-records.cedar"
    # H2 records stop being readable outside one's agency, team or break-glass
    records.write_text(
        records.read_text().replace(
            'when { resource.handling != "H3" && resource.sensitivity <= principal.clearance };',
            'when { resource.handling != "H3" && resource.handling != "H2"'
            " && resource.sensitivity <= principal.clearance };",
        )
    )
    queries = tmp_path / "queries.json"
    queries.write_text(
        json.dumps(
            [{"name": "names", "query": '{ person(idNumber: "11010519491231002X") { name } }'}]
        )
    )
    principals = tmp_path / "principals.json"
    principals.write_text(
        json.dumps(
            [{"user": "tax.inspector", "agency": "tax", "roles": ["officer"], "clearance": 2}]
        )
    )
    base = ("policy", "diff", str(DEFAULT_DIR), str(new), "--queries", str(queries))
    out = jointgate(*base, "--principals", str(principals), "--fail-on-change")
    assert out.returncode == 1, out.stderr
    assert (
        "records: tax.inspector supervision: police H2 sensitivity 2: visible -> hidden"
        in out.stdout
    )
    assert "market.officer" not in out.stdout  # only the principals given
    unchanged = jointgate("policy", "diff", str(DEFAULT_DIR), str(DEFAULT_DIR), "--queries",
                          str(queries), "--fail-on-change")  # fmt: skip
    assert unchanged.returncode == 0, unchanged.stderr
    assert "0 field outcome(s) and 0 record label set(s) change" in unchanged.stdout
