"""The administrators' commands, run as an administrator runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from policies.db import Database
from policies.engine import DEFAULT_DIR
from policies.reload import PolicyVersions
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER
from tests.commands.officials import demo_issuer, token


def jointgate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "commands.main", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def test_validate_and_test_the_default_set() -> None:
    out = jointgate("policy", "validate")
    # 17 of them 60-workflow.cedar, 8 61-workflow-fields.cedar, 3 45-credit.cedar
    assert out.returncode == 0 and "ok: 52 policies" in out.stdout
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


def test_explain_says_which_person_field_decided_a_tagged_field() -> None:
    query = '{ enterprise(uscc: "91350100M000100Y43") { legalRepName bankAccounts { holderId } } }'
    out = jointgate(
        "policy", "explain", "--user", "bank.analyst", "--purpose", "supervision", query
    )
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert lines["enterprise.bankAccounts.holderId"].split()[1:] == [
        "mask(party_id)", "identity-masked-for-monitoring;", "decided", "as", "Person.idNumber",
        "(category", "resident-id)",
    ]  # fmt: skip
    assert lines["enterprise.legalRepName"].endswith(
        "; decided as Person.name (category person-name)"
    )
    out = jointgate("policy", "explain", "--user", "bank.analyst", "--purpose", "supervision",
                    "Person.idNumber")  # fmt: skip
    assert "decided as" not in out.stdout  # the Person field decides itself


def test_explain_refuses_an_invalid_query_without_a_traceback() -> None:
    query = '{ person(idNumber: "110101199003070015") { name } }'  # a wrong check character
    out = jointgate(
        "policy", "explain", "--user", "bank.analyst", "--purpose", "supervision", query
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "the query is not valid: Invalid input in an argument: invalid resident" in out.stderr


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
    admin = [
        "--data-dir",
        str(tmp_path),
        "--notify",
        "",
        "--token",
        token("office.coordinator", tmp_path),
    ]
    unregistered = jointgate("teams", "create", "JIT-9", "--case", "jit-2026-009", *admin)
    assert unregistered.returncode == 1
    assert "registered open cases only, and these are not: JIT-2026-009" in unregistered.stderr
    register = ("cases", "register", "JIT-2026-009", "--agency", "office", "--title", "专案")
    assert jointgate(*register, *admin).returncode == 0
    assert (
        jointgate(
            "teams", "create", "JIT-9", "--case", "jit-2026-009", "--until", "2099-01-01", *admin
        ).returncode
        == 0
    )
    assert jointgate("teams", "add-member", "JIT-9", "alice", *admin).returncode == 0
    listed = jointgate("teams", "list", "--json", *admin)
    (team,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (
        team["members"] == ["alice"]
        and team["active"]
        and team["valid_until"].startswith("2099-01-01")
        and team["cases"] == ["JIT-2026-009"]  # as the gateway takes X-Case-Id
    )
    refused = jointgate("teams", "create", "JIT-10", "--case", "bad case!", *admin)
    assert refused.returncode == 1 and "--case bad case! is not a valid case id" in refused.stderr
    again = jointgate("teams", "add-member", "JIT-9", "alice", *admin)
    assert again.returncode == 1 and "already a member" in again.stderr
    assert jointgate("teams", "close", "JIT-9", *admin).returncode == 0
    assert json.loads(jointgate("teams", "list", "--json", *admin).stdout)["active"] is False
    reviewer = ["--data-dir", str(tmp_path), "--token", token("auditor", tmp_path)]
    pending = jointgate("review", "pending", *reviewer)
    assert pending.returncode == 0 and pending.stdout == ""
    missing = jointgate("review", "sign-off", "nope", *reviewer)
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


TEAM_QUESTION = ("policy", "explain", "--user", "police.investigator", "--purpose",
                 "investigation", "--case", "JIT-2026-001", "BankAccount.balance")  # fmt: skip


def test_explain_refuses_a_team_question_it_cannot_answer(tmp_path: Path) -> None:
    """Whether the user is in a team for the case decides the answer: without a governance
    database to ask (or --in-team / --no-in-team) explain refuses, and creates nothing."""
    out = jointgate(*TEAM_QUESTION, cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == "", out.stdout
    assert "--data-dir" in out.stderr and "--in-team" in out.stderr
    out = jointgate(*TEAM_QUESTION, "--data-dir", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert out.returncode == 1 and "no governance database" in out.stderr
    assert list(tmp_path.iterdir()) == []  # no ./.jointgate, no data dir made up
    out = jointgate(*TEAM_QUESTION, "--no-in-team", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "in team: no" in out.stdout and "BankAccount.balance  deny" in out.stdout
    assert list(tmp_path.iterdir()) == []


def test_explain_asks_the_governance_database_about_teams(tmp_path: Path) -> None:
    dd = ("--data-dir", str(tmp_path))
    admin = (*dd, "--notify", "", "--token", token("office.coordinator", tmp_path))
    jointgate("cases", "register", "JIT-2026-001", "--agency", "office", "--title", "专案", *admin)
    jointgate("teams", "create", "JIT-2026-001", "--case", "JIT-2026-001", *admin)
    jointgate("teams", "add-member", "JIT-2026-001", "police.investigator", *admin)
    out = jointgate(*TEAM_QUESTION, *dd)
    assert out.returncode == 0, out.stderr
    assert "in team: yes" in out.stdout and "BankAccount.balance  allow" in out.stdout
    # the case in any spelling the gateway takes is that case; anything else is refused
    for spelling in ("ＪＩＴ－２０２６－００１", "jit-2026-001"):
        question = [spelling if a == "JIT-2026-001" else a for a in TEAM_QUESTION]
        out = jointgate(*question, *dd)
        assert "case JIT-2026-001; in team: yes" in out.stdout, out.stdout + out.stderr
    bad = [a if a != "JIT-2026-001" else "bad case!" for a in TEAM_QUESTION]
    out = jointgate(*bad, *dd)
    assert out.returncode == 1 and out.stdout == ""
    assert "--case is not a valid case id: expected a police case number" in out.stderr


def test_explain_names_a_record_level_denial(tmp_path: Path) -> None:
    """The market officer's clearance (1) is below a person record's sensitivity (2): the
    record is left out whole, so its ID number is not "masked" for them, it is not shown."""
    base = ("policy", "explain", "--user", "market.officer", "--purpose", "supervision",
            "Person.idNumber")  # fmt: skip
    out = jointgate(*base, "--record", "sensitivity=2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    [row] = [line for line in out.stdout.splitlines() if "Person.idNumber" in line]
    assert row.split()[1:] == ["hidden(record)", "default-deny"]
    assert (
        "  record police H0 sensitivity 2: hidden: no readRecord policy permits it"
        " (default-deny)" in out.stdout
    )
    out = jointgate(*base, "--record", "sensitivity=1", cwd=tmp_path)
    assert "Person.idNumber  mask(resident_id)" in out.stdout
    assert "record police H0 sensitivity 1: visible (records-within-clearance)" in out.stdout
    # without --record: the field's outcome, and which of its records are hidden and why
    out = jointgate(*base, cwd=tmp_path)
    assert "Person.idNumber  mask(resident_id)" in out.stdout
    assert (
        "  records of police hidden: H0-H2 with sensitivity >= 2, H3 (default-deny)" in out.stdout
    ), out.stdout
    out = jointgate(*base, "--record", "handling=H9", cwd=tmp_path)
    assert out.returncode == 1 and "--record" in out.stderr


def write_config(tmp_path: Path, tables: str = "") -> Path:
    """A gateway configuration trusting the demo issuer of ``tmp_path`` (tokens: ``token``)."""
    demo_issuer(tmp_path)
    config = tmp_path / "jointgate.toml"
    config.write_text(
        f'[auth]\nissuer = "{DEMO_ISSUER}"\naudience = "{DEMO_AUDIENCE}"\n'
        'jwks_file = "issuer/jwks.json"\n' + tables
    )
    return config


def as_user(user: str, tmp_path: Path) -> tuple[str, str]:
    return ("--token", token(user, tmp_path))


def test_a_proposal_is_refused_when_the_gateways_read_policies_from_files(tmp_path: Path) -> None:
    """A gateway without policy.shared never looks at the database, and files have no dual
    control: a proposal refuses, says how to change the files, and changes nothing."""
    config = write_config(tmp_path)  # no governance database: policy.shared is off
    out = jointgate("policy", "propose", str(DEFAULT_DIR), "--why", "x", "--config", str(config),
                    "--notify", "", *as_user("policy.admin", tmp_path), cwd=tmp_path)  # fmt: skip
    assert out.returncode == 1 and "proposed" not in out.stdout, out.stdout
    assert "read their policies from files" in out.stderr
    assert "SIGHUP" in out.stderr and "policy.shared" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["issuer", "jointgate.toml"]

    url = f"sqlite:///{tmp_path / 'gov.sqlite3'}"
    config = write_config(tmp_path, f'[governance]\ndatabase = "{url}"\n[policy]\nshared = false\n')
    out = jointgate("policy", "propose", str(DEFAULT_DIR), "--why", "x", "--config", str(config),
                    "--notify", "", *as_user("policy.admin", tmp_path), cwd=tmp_path)  # fmt: skip
    assert out.returncode == 1 and "read their policies from files" in out.stderr
    assert not (tmp_path / "gov.sqlite3").exists()


def test_publish_is_gone_and_says_what_replaces_it(tmp_path: Path) -> None:
    out = jointgate("policy", "publish", str(DEFAULT_DIR), "--data-dir", str(tmp_path))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "jointgate policy propose DIR" in out.stderr and "jointgate policy approve" in out.stderr


def test_a_proposal_without_a_config_needs_a_database_gateways_share(tmp_path: Path) -> None:
    admin = ("--data-dir", str(tmp_path), *as_user("policy.admin", tmp_path))
    out = jointgate("policy", "propose", str(DEFAULT_DIR), "--why", "x", "--notify", "", *admin)
    assert out.returncode == 1 and "proposed" not in out.stdout
    assert "--config" in out.stderr
    url = f"sqlite:///{tmp_path / 'gov.sqlite3'}"
    Database(url).close()  # a database, but no gateway has ever shared its policies through it
    out = jointgate("policy", "propose", str(DEFAULT_DIR), "--why", "x", "--database", url,
                    "--notify", "", *admin)  # fmt: skip
    assert out.returncode == 1 and "no gateway reads its policies from" in out.stderr
    db = Database(url)
    assert PolicyVersions(db).active() is None
    db.close()


def test_a_set_is_in_force_for_gateways_that_share_it_once_a_second_admin_approves(
    tmp_path: Path,
) -> None:
    """With a configuration whose gateways share policies, the first change may come before
    the first gateway starts; the proposer cannot approve it."""
    url = f"sqlite:///{tmp_path / 'gov.sqlite3'}"
    config = write_config(tmp_path, f'[governance]\ndatabase = "{url}"\n')  # shared: default on
    where = ("--config", str(config), "--notify", "")
    out = jointgate("policy", "propose", str(DEFAULT_DIR), "--why", "first set", *where,
                    *as_user("policy.admin", tmp_path))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "not in force until another policy administrator" in out.stdout
    proposal = out.stdout.split(" as ")[1].split()[0]
    db = Database(url)
    assert PolicyVersions(db).active() is None
    out = jointgate("policy", "approve", proposal, *where, *as_user("policy.admin", tmp_path))
    assert out.returncode == 1 and "another policy administrator (dual control)" in out.stderr
    assert PolicyVersions(db).active() is None
    out = jointgate("policy", "approve", proposal, *where, *as_user("policy.approver", tmp_path))
    assert out.returncode == 0, out.stderr
    active = PolicyVersions(db).active()
    db.close()
    assert active is not None and active.version in out.stdout
    assert active.activated_by == "policy.approver"


def test_explain_with_a_config_uses_the_set_its_gateways_enforce(
    tmp_path: Path, policy_copy: Path
) -> None:
    """Shared: the set published in the governance database, not the files at hand; files:
    the configured policy directory."""
    (policy_copy / "50-test.cedar").write_text(
        '@id("market-balances-for-a-test")\npermit (principal, action == JointGate::Action::'
        '"read", resource == JointGate::Field::"BankAccount.balance")\n'
        'when { principal.agency == "market" };\n'
    )
    question = ("policy", "explain", "--user", "market.officer", "--purpose", "supervision",
                "BankAccount.balance")  # fmt: skip
    url = f"sqlite:///{tmp_path / 'gov.sqlite3'}"
    shared = write_config(tmp_path, f'[governance]\ndatabase = "{url}"\n')
    where = ("--config", str(shared), "--notify", "")
    proposed = jointgate("policy", "propose", str(policy_copy), "--why", "test", *where,
                         *as_user("policy.admin", tmp_path))  # fmt: skip
    assert proposed.returncode == 0, proposed.stderr
    proposal = proposed.stdout.split(" as ")[1].split()[0]
    approved = jointgate("policy", "approve", proposal, *where,
                         *as_user("policy.approver", tmp_path))  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    out = jointgate(*question, "--config", str(shared))
    assert "BankAccount.balance  allow" in out.stdout and "market-balances-for-a-test" in out.stdout
    assert "BankAccount.balance  deny" in jointgate(*question).stdout  # the shipped set
    files = write_config(tmp_path, f'[policy]\ndir = "{policy_copy.name}"\n')
    out = jointgate(*question, "--config", str(files))
    assert "BankAccount.balance  allow" in out.stdout, out.stdout + out.stderr


def test_cases_commands(tmp_path: Path) -> None:
    dd = (
        "--data-dir",
        str(tmp_path),
        "--notify",
        "",
        "--token",
        token("office.coordinator", tmp_path),
    )
    person, account = "510105197001010972", "6212269932713262975"
    out = jointgate("cases", "register", "ｊ１１０１０２２０２６０００９４６", "--agency", "police",
                    "--title", "某公司涉嫌非法吸收公众存款案", "--subject", "911101022155460B0T",
                    "--subject", f"resident-id={person}", "--subject", account,
                    "--official", "police.investigator", *dd)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "registered case J1101022026000946 (police): 3 subjects" in out.stdout
    assert "not announced" in out.stdout  # --notify "": replicas see it at their next check
    assert jointgate("cases", "assign", "J1101022026000946", "duty.officer", *dd).returncode == 0
    assert jointgate("cases", "unassign", "J1101022026000946", "duty.officer", *dd).returncode == 0
    shown = jointgate("cases", "show", "j1101022026000946", "--json", *dd)
    case = json.loads(shown.stdout)
    assert (
        case["case"] == "J1101022026000946"
        and case["open"]
        and case["officials"] == ["police.investigator"]
    )
    assert {(s["kind"], s["identifier"]) for s in case["subjects"]} == {
        ("uscc", "911101022155460B0T"), ("resident-id", person), ("account", account)
    }  # fmt: skip
    history = [(a["official"], a["assigned_by"], a["removed_by"]) for a in case["assignments"]]
    coordinator = "office.coordinator"  # the verified subject of the token, nothing typed
    assert history == [
        ("police.investigator", coordinator, None), ("duty.officer", coordinator, coordinator)
    ]  # fmt: skip
    for args, message in (
        (("add-subject", "J1101022026000946", "911101022155460B0X"), "check characters"),
        (("add-subject", "J1101022026000946", person), "subject of J1101022026000946 already"),
        (("assign", "J1101022026000946", " duty.officer"), "subject of their token"),
        (("assign", "J1101022026009999", "duty.officer"), "no case J1101022026009999"),
        (("register", "C-1", "--agency", "police", "--title", "t"), "not a valid case number"),
    ):
        refused = jointgate("cases", *args, *dd)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    added = jointgate("cases", "add-subject", "J1101022026000946", "6225881483977236", *dd)
    assert added.returncode == 0 and "account 6225881483977236 is a subject" in added.stdout
    assert jointgate("cases", "close", "J1101022026000946", *dd).returncode == 0
    assert jointgate("cases", "list", *dd).stdout == ""  # open cases only
    listed = jointgate("cases", "list", "--all", *dd).stdout
    assert listed.startswith("J1101022026000946") and "closed" in listed


def test_members_have_windows_of_their_own(tmp_path: Path) -> None:
    dd = (
        "--data-dir",
        str(tmp_path),
        "--notify",
        "",
        "--token",
        token("office.coordinator", tmp_path),
    )
    jointgate("cases", "register", "JIT-2026-011", "--agency", "office", "--title", "专案", *dd)
    assert jointgate("teams", "create", "T11", "--case", "JIT-2026-011", *dd).returncode == 0
    out = jointgate("teams", "add-member", "T11", "alice", "--valid-from", "2099-01-01",
                    "--valid-until", "2099-02-01T00:00:00+00:00", *dd)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "from 2099-01-01T00:00:00+00:00 until 2099-02-01T00:00:00+00:00" in out.stdout
    jointgate("teams", "add-member", "T11", "bob", *dd)
    (team,) = [
        json.loads(line) for line in jointgate("teams", "list", "--json", *dd).stdout.splitlines()
    ]
    windows = {m["member"]: (m["active"], m["valid_until"]) for m in team["memberships"]}
    assert windows == {"alice": (False, "2099-02-01T00:00:00+00:00"), "bob": (True, None)}
    bad = jointgate("teams", "add-member", "T11", "carol", "--valid-until", "someday", *dd)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_case_changes_need_a_case_administrators_token_and_are_recorded(tmp_path: Path) -> None:
    """No token, or a token without the role case-admin: refused, nothing registered; a change
    by the case administrator is a governance record in the trail, and the trail verifies."""
    dd = ("--data-dir", str(tmp_path), "--notify", "")
    register = ("cases", "register", "JIT-2026-012", "--agency", "office", "--title", "专案")
    missing = jointgate(*register, *dd)
    assert missing.returncode == 1 and "JOINTGATE_TOKEN" in missing.stderr, missing.stderr
    wrong = jointgate(*register, *dd, "--token", token("police.investigator", tmp_path))
    assert wrong.returncode == 1 and "needs the role case-admin" in wrong.stderr, wrong.stderr
    admin = ("--token", token("office.coordinator", tmp_path))
    assert jointgate("cases", "list", "--all", *dd, *admin).stdout == ""  # nothing registered
    assert jointgate(*register, *dd, *admin).returncode == 0
    auditor = ("--data-dir", str(tmp_path), "--token", token("auditor", tmp_path))
    found = jointgate("audit", "search", "--purpose", "governance", "--json", *auditor)
    records = [json.loads(line) for line in found.stdout.splitlines()]
    actions = [(r["operation_name"], r["subject"], r["outcome"]) for r in records]
    assert ("case.register", "office.coordinator", "ok") in actions, actions
    assert ("case.register", "police.investigator", "refused") in actions, actions
    assert jointgate("audit", "verify", *auditor).returncode == 0
