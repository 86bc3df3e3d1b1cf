"""Governance commands act as a verified official, with the role the action needs, and leave a
governance record in the tamper-evident trail (issue 17: "Governance is authenticated and
witnessed"). Run in-process through ``jointgate``'s own ``main``."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

import commands.main
from audit.config import AuditSettings, load_config
from audit.reader import AuditReader, SearchFilter
from policies.cases import CaseStore
from policies.db import Database
from policies.engine import DEFAULT_DIR
from policies.reload import PolicyStore, PolicyVersions
from policies.review import ReviewQueue
from policies.teams import TeamStore
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, load_keys
from schema.unified import build_schema
from tests.commands.officials import demo_issuer, token

CATALOG = build_schema().catalog


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A demo issuer, and the case JIT-2026-009 registered (a team covers registered cases)."""
    demo_issuer(tmp_path)
    monkeypatch.delenv("JOINTGATE_TOKEN", raising=False)
    db = Database(f"sqlite:///{tmp_path / 'governance.sqlite3'}")
    try:
        CaseStore(db).register("JIT-2026-009", agency="office", title="专案", by="fixture")
    finally:
        db.close()
    return tmp_path


def run(
    capsys: pytest.CaptureFixture[str], data_dir: Path, user: str | None, *argv: str
) -> tuple[int, str, str]:
    """``jointgate ARGV --data-dir DATA_DIR [--token TOKEN-of-user]``: status, out, err."""
    who = ["--token", token(user, data_dir)] if user else []
    status = commands.main.main([*argv, "--data-dir", str(data_dir), "--notify", "", *who]
                                if argv[0] in ("teams", "cases", "policy") else
                                [*argv, "--data-dir", str(data_dir), *who])  # fmt: skip
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def governance(data_dir: Path) -> list[dict[str, object]]:
    """The governance records of the trail in ``data_dir``, oldest first."""
    config = load_config(AuditSettings(), data_dir)
    store = config.new_store()
    try:
        rows = AuditReader(store, config.key).search(SearchFilter(), None)
    finally:
        store.close()
    return sorted(
        (r for r in rows if r["operation_type"] == "governance"), key=lambda r: str(r["received"])
    )


def no_team_made(data_dir: Path) -> bool:
    """The governance database holds no team (the fixture registered a case, nothing else)."""
    db = Database(f"sqlite:///{data_dir / 'governance.sqlite3'}")
    try:
        return TeamStore(db).list() == []
    finally:
        db.close()


def trail_verifies(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> bool:
    """``jointgate audit verify`` over the trail in ``data_dir`` says ok."""
    status, out, err = run(capsys, data_dir, "auditor", "audit", "verify")
    return status == 0 and ": ok:" in out and "FAILED" not in out + err


def forged(data_dir: Path, **claims: object) -> str:
    """A token of the demo issuer's shape: signed by the issuer's key unless ``key`` says."""
    now = int(time.time())
    body = {
        "iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": "office.coordinator",
        "agency": "office", "roles": ["case-admin"], "clearance": 1, "iat": now, "nbf": now,
        "exp": now + 600,
    }  # fmt: skip
    key = claims.pop("key", None)
    body.update(claims)
    keys = KeySet([key]) if isinstance(key, ECKey) else load_keys(data_dir)
    kid = keys.keys[0].kid
    return jwt.encode({"alg": "ES256", "kid": kid}, body, keys)


# -- who is acting ---------------------------------------------------------------------------
def test_no_token_is_refused_and_says_how_to_get_one(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, data_dir, None, "teams", "create", "JIT-9", "--case",
                           "JIT-2026-009")  # fmt: skip
    assert status == 1 and out == ""
    assert "give --token or set JOINTGATE_TOKEN" in err and "jointgate token USER" in err
    assert no_team_made(data_dir)


@pytest.mark.parametrize(
    ("claims", "said"),
    [
        ({"exp": int(time.time()) - 3600}, "the token has expired"),
        ({"key": ECKey.generate_key("P-256", auto_kid=True)}, "signature could not be verified"),
        ({"iss": "https://elsewhere.example"}, "the issuer is not trusted"),
        ({"sub": " office.coordinator"}, "'sub' must be a non-empty string without spaces"),
    ],
    ids=["expired", "forged", "wrong-issuer", "spaced-subject"],
)
def test_a_token_that_does_not_verify_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str], claims: dict[str, object], said: str
) -> None:
    status = commands.main.main(["teams", "create", "JIT-9", "--case", "JIT-2026-009",
                                 "--data-dir", str(data_dir), "--notify", "",
                                 "--token", forged(data_dir, **claims)])  # fmt: skip
    _, err = capsys.readouterr()
    assert status == 1 and "the token is refused" in err and said in err, err
    assert "Traceback" not in err
    assert no_team_made(data_dir)


def test_the_token_may_come_from_the_environment(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOINTGATE_TOKEN", token("office.coordinator", data_dir))
    status, _, err = run(capsys, data_dir, None, "teams", "create", "JIT-9", "--case",
                         "JIT-2026-009")  # fmt: skip
    assert status == 0, err
    assert governance(data_dir)[-1]["subject"] == "office.coordinator"


@pytest.mark.parametrize(
    ("user", "argv", "role"),
    [
        ("police.investigator", ("teams", "create", "T", "--case", "JIT-2026-009"), "case-admin"),
        ("policy.admin", ("teams", "add-member", "T", "x"), "case-admin"),
        ("duty.officer", ("review", "sign-off", "abc"), "reviewer"),
        ("office.coordinator", ("policy", "approve", "abc"), "policy-admin"),
        ("police.investigator", ("audit", "search"), "auditor"),
        ("policy.admin", ("teams", "list"), "case-admin or auditor"),
    ],
)
def test_a_missing_role_is_refused_by_name_and_recorded(
    data_dir: Path, capsys: pytest.CaptureFixture[str], user: str, argv: tuple[str, ...],
    role: str,
) -> None:  # fmt: skip
    status, out, err = run(capsys, data_dir, user, *argv)
    assert status in (1, 2) and out == ""
    assert f"needs the role {role}; {user} has" in err, err
    [refusal] = governance(data_dir)
    assert refusal["subject"] == user and refusal["outcome"] == "refused"


# -- break-glass sign-off --------------------------------------------------------------------
def break_glass(data_dir: Path, subject: str, at: float | None = None) -> str:
    db = Database(f"sqlite:///{data_dir / 'governance.sqlite3'}")
    try:
        queue = ReviewQueue(db)
        access = queue.record(
            request_id="r1", subject=subject, agency="police", purpose="investigation",
            case_id="JIT-2026-001", reason="suspect fleeing", fields=["BankAccount.balance"],
        )  # fmt: skip
        if at is not None:
            db.query("UPDATE jg_break_glass SET at = ? WHERE id = ?", (at, access))
        return access
    finally:
        db.close()


def test_a_reviewer_cannot_be_declared_only_verified(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--reviewer " duty.officer"`` signed off duty.officer's own break-glass: the option is
    gone, and the reviewer is the token's verified subject."""
    access = break_glass(data_dir, "duty.officer")
    for spelling in (" duty.officer", "DUTY.OFFICER", "anyone"):
        with pytest.raises(SystemExit) as exited:
            commands.main.main(["review", "sign-off", access, "--reviewer", spelling,
                                "--data-dir", str(data_dir)])  # fmt: skip
        assert exited.value.code == 2
        assert "unrecognized arguments: --reviewer" in capsys.readouterr().err
    status, out, err = run(capsys, data_dir, "auditor", "review", "sign-off", access,
                           "--note", "checked")  # fmt: skip
    assert status == 0 and f"{access} signed off by auditor" in out, err
    [record] = [r for r in governance(data_dir) if r["operation_name"] == "review.sign-off"]
    assert record["subject"] == "auditor" and record["outcome"] == "ok"
    assert record["variables"] == {"access": access, "note": "checked"}


def test_a_reviewer_cannot_sign_off_their_own_access(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    access = break_glass(data_dir, "auditor")  # the auditor holds the reviewer role
    status, _, err = run(capsys, data_dir, "auditor", "review", "sign-off", access)
    assert status == 1 and "cannot be signed off by the user who made it" in err
    db = Database(f"sqlite:///{data_dir / 'governance.sqlite3'}")
    assert [a.id for a in ReviewQueue(db).pending()] == [access]
    db.close()
    [refused] = governance(data_dir)
    assert refused["outcome"] == "refused" and refused["operation_name"] == "review.sign-off"


# -- recorded, or not made -------------------------------------------------------------------
def test_every_team_change_is_a_governance_record_and_the_trail_verifies(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = "office.coordinator"
    assert run(capsys, data_dir, admin, "teams", "create", "JIT-9", "--case", "jit-2026-009",
               "--until", "2099-01-01")[0] == 0  # fmt: skip
    assert run(capsys, data_dir, admin, "teams", "add-member", "JIT-9", "alice")[0] == 0
    assert run(capsys, data_dir, admin, "teams", "remove-member", "JIT-9", "alice")[0] == 0
    assert run(capsys, data_dir, admin, "teams", "close", "JIT-9")[0] == 0
    assert run(capsys, data_dir, "auditor", "teams", "list")[0] == 0
    records = governance(data_dir)
    assert [(r["operation_name"], r["outcome"]) for r in records] == [
        ("team.create", "ok"), ("team.add-member", "ok"), ("team.remove-member", "ok"),
        ("team.close", "ok"), ("team.list", "ok"),
    ]  # fmt: skip
    assert {r["subject"] for r in records[:4]} == {admin}
    assert records[0]["agency"] == "office" and records[0]["roles"] == ["case-admin"]
    assert records[0]["variables"]["case"] == ["jit-2026-009"]
    assert records[0]["variables"]["valid_until"] == "2099-01-01"
    assert records[1]["variables"] == {"team": "JIT-9", "user": "alice"}
    assert trail_verifies(data_dir, capsys)
    # an auditor finds them with the audit command, itself recorded
    status, out, _ = run(capsys, data_dir, "auditor", "audit", "search", "--purpose",
                         "governance", "--json")  # fmt: skip
    assert status == 0 and len(out.splitlines()) == 5


def test_teams_list_says_which_members_do_not_count_now(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A member whose window has not begun (or has ended) is listed as such, not among those
    who may declare the team's case now."""
    admin = "office.coordinator"
    assert (
        run(capsys, data_dir, admin, "teams", "create", "JIT-9", "--case", "JIT-2026-009")[0] == 0
    )
    assert run(capsys, data_dir, admin, "teams", "add-member", "JIT-9", "alice")[0] == 0
    assert run(capsys, data_dir, admin, "teams", "add-member", "JIT-9", "bob",
               "--valid-from", "2099-01-01T00:00:00")[0] == 0  # fmt: skip
    status, out, _ = run(capsys, data_dir, "auditor", "teams", "list")
    assert status == 0
    assert "members: alice, bob (from 2099-01-01T00:00:00+00:00, not yet);" in out


def test_a_change_whose_record_cannot_be_written_is_not_made(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("commands.official.append_records", refuse)
    status, out, err = run(capsys, data_dir, "office.coordinator", "teams", "create", "JIT-9",
                           "--case", "JIT-2026-009")  # fmt: skip
    assert status == 1 and out == ""
    assert "cannot record team.create in the audit trail: disk full" in err
    assert "nothing was changed" in err
    db = Database(f"sqlite:///{data_dir / 'governance.sqlite3'}")
    from policies.teams import TeamStore

    assert TeamStore(db).list() == []
    db.close()


# -- dual control ----------------------------------------------------------------------------
def shared(data_dir: Path, directory: Path) -> Database:
    """A governance database a replica shares its policies through (it bootstrapped it)."""
    db = Database(f"sqlite:///{data_dir / 'governance.sqlite3'}")
    PolicyStore(directory, CATALOG, PolicyVersions(db), publisher="replica-1")
    return db


def changed_copy(tmp_path: Path, name: str, text: str) -> Path:
    target = tmp_path / name
    target.mkdir()
    for path in [*DEFAULT_DIR.glob("*.cedar"), DEFAULT_DIR / "jointgate.cedarschema"]:
        shutil.copy(path, target)
    (target / "50-test.cedar").write_text(text)
    return target


ALLOW = (
    '@id("market-balances-{n}")\npermit (principal, action == JointGate::Action::"read",'
    ' resource == JointGate::Field::"BankAccount.balance")\nwhen {{ principal.agency =='
    ' "market" }};\n'
)


def proposal_of(out: str) -> str:
    return out.split(" as ")[1].split()[0]


def test_a_proposal_is_in_force_only_once_another_admin_approves(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = shared(data_dir, DEFAULT_DIR)
    versions = PolicyVersions(db)
    first = versions.active()
    assert first is not None
    new = changed_copy(data_dir, "new", ALLOW.format(n=1))
    status, out, err = run(capsys, data_dir, "policy.admin", "policy", "propose", str(new),
                           "--why", "market needs balances")  # fmt: skip
    assert status == 0, err
    proposal = proposal_of(out)
    assert versions.active() == first  # proposed, not in force
    status, out, _ = run(capsys, data_dir, "auditor", "policy", "proposals", "--json")
    [pending] = [json.loads(line) for line in out.splitlines()]
    assert pending["proposed_by"] == "policy.admin" and pending["base"] == first.version
    # the proposer approving their own proposal: refused, recorded, nothing changes
    status, _, err = run(capsys, data_dir, "policy.admin", "policy", "approve", proposal)
    assert status == 1 and "dual control" in err
    assert versions.active() == first
    status, out, err = run(capsys, data_dir, "policy.approver", "policy", "approve", proposal,
                           "--note", "reviewed the diff")  # fmt: skip
    assert status == 0, err
    active = versions.active()
    assert active is not None and active.version == pending["version"] != first.version
    assert active.activated_by == "policy.approver"
    actions = [(r["operation_name"], r["subject"], r["outcome"]) for r in governance(data_dir)]
    assert actions == [
        ("policy.propose", "policy.admin", "ok"), ("policy.proposals", "auditor", "ok"),
        ("policy.approve", "policy.admin", "refused"), ("policy.approve", "policy.approver", "ok"),
    ]  # fmt: skip
    assert governance(data_dir)[0]["variables"]["version"] == active.version
    assert governance(data_dir)[0]["variables"]["why"] == "market needs balances"
    assert trail_verifies(data_dir, capsys)
    db.close()


def test_a_rollback_is_a_proposal_and_the_history_says_who_when_why(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = shared(data_dir, DEFAULT_DIR)
    versions = PolicyVersions(db)
    first = versions.active()
    assert first is not None
    new = changed_copy(data_dir, "new", ALLOW.format(n=1))
    _, out, _ = run(capsys, data_dir, "policy.admin", "policy", "propose", str(new), "--why", "a")
    run(capsys, data_dir, "policy.approver", "policy", "approve", proposal_of(out))
    second = versions.active()
    assert second is not None and second.version != first.version
    status, out, err = run(capsys, data_dir, "policy.approver", "policy", "rollback",
                           first.version, "--why", "the change leaks balances")  # fmt: skip
    assert status == 0 and "not in force until another policy administrator" in out, err
    assert versions.active() == second  # a rollback waits for approval like any proposal
    status, _, err = run(capsys, data_dir, "policy.admin", "policy", "approve", proposal_of(out))
    assert status == 0, err
    third = versions.active()
    assert third is not None and third.version == first.version and third.serial > second.serial
    status, out, _ = run(capsys, data_dir, "policy.admin", "policy", "history", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["kind"], r["version"], r["in_force"]) for r in rows] == [
        ("rollback", first.version, True), ("change", second.version, False),
        ("bootstrap", first.version, False),
    ]  # fmt: skip
    rollback, change, bootstrap = rows
    assert rollback["proposed_by"] == "policy.approver" and rollback["decided_by"] == "policy.admin"
    assert rollback["why"] == "the change leaks balances"
    assert change["activations"][0]["superseded"] == rollback["activations"][0]["activated"]
    assert bootstrap["proposed_by"] == "replica-1" and bootstrap["state"] == "approved"
    assert bootstrap["activations"][0]["superseded"] is not None
    status, text, _ = run(capsys, data_dir, "auditor", "policy", "history")
    assert status == 0 and "IN FORCE" in text and "why: the change leaks balances" in text
    db.close()


def test_a_proposal_whose_base_is_no_longer_in_force_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = shared(data_dir, DEFAULT_DIR)
    one = changed_copy(data_dir, "one", ALLOW.format(n=1))
    two = changed_copy(data_dir, "two", ALLOW.format(n=2))
    _, out, _ = run(capsys, data_dir, "policy.admin", "policy", "propose", str(one), "--why", "1")
    first = proposal_of(out)
    _, out, _ = run(capsys, data_dir, "policy.admin", "policy", "propose", str(two), "--why", "2")
    second = proposal_of(out)
    assert run(capsys, data_dir, "policy.approver", "policy", "approve", first)[0] == 0
    status, _, err = run(capsys, data_dir, "policy.approver", "policy", "approve", second)
    assert status == 1 and "must be proposed again against the version in force" in err
    status, _, err = run(capsys, data_dir, "policy.admin", "policy", "reject", second, "--why",
                         "stale")  # fmt: skip
    assert status == 0, err
    status, _, err = run(capsys, data_dir, "policy.approver", "policy", "approve", second)
    assert status == 1 and "was rejected by policy.admin" in err
    db.close()


# -- review deadlines ------------------------------------------------------------------------
def test_review_pending_shows_deadlines_and_overdue_accesses_first(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    late = break_glass(data_dir, "duty.officer", at=now - 80 * 3600)  # past the 72 h default
    fresh = break_glass(data_dir, "duty.officer", at=now - 3600)
    status, out, _ = run(capsys, data_dir, "auditor", "review", "pending", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [(r["id"], r["overdue"]) for r in rows] == [(late, True), (fresh, False)]
    assert rows[0]["due"] < rows[1]["due"]
    _, out, _ = run(capsys, data_dir, "auditor", "review", "pending")
    assert "OVERDUE" in out.splitlines()[0] and "OVERDUE" not in out.splitlines()[1]
    _, out, _ = run(capsys, data_dir, "auditor", "review", "pending", "--overdue", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [late]
    # a configured deadline: 2 h makes the fresh one due in an hour, 0.5 h overdue
    config = data_dir / "jointgate.toml"
    config.write_text(
        f'[auth]\nissuer = "{DEMO_ISSUER}"\naudience = "{DEMO_AUDIENCE}"\n'
        'jwks_file = "issuer/jwks.json"\n[gateway]\ndata_dir = "."\n'
        "[governance]\nreview_deadline_h = 0.5\n"
    )
    status = commands.main.main(["review", "pending", "--overdue", "--json", "--config",
                                 str(config), "--token", token("auditor", data_dir)])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == [late, fresh]


def test_an_audit_read_cannot_be_recorded_under_a_declared_name(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``audit ... --as anyone`` recorded a read under any name: the option is gone, and the
    reader is the auditor of the token."""
    with pytest.raises(SystemExit) as exited:
        commands.main.main(["audit", "search", "--as", "anyone", "--data-dir", str(data_dir)])
    assert exited.value.code == 2 and "unrecognized arguments: --as" in capsys.readouterr().err
    status, _, err = run(capsys, data_dir, "auditor", "audit", "search", "--user", "x")
    assert status == 0, err
    [read] = governance(data_dir)
    assert (read["subject"], read["operation_name"], read["roles"]) == (
        "auditor", "audit.search", ["auditor", "reviewer"],
    )  # fmt: skip
