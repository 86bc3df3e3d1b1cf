"""``jointgate demo``: the five sandbox agencies and the gateway, on embedded defaults.

The sandbox runs in a child process (so gateway and agencies each get a core); the gateway
trusts the demo issuer whose keys live in the data dir, and talks real HTTP to the agencies.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from commands.demo_leads import seed_leads
from connectors.registry import AgencySettings
from connectors.tls import AgencyTLS
from console.app import mount
from gateway.console_settings import ConsoleSettings
from gateway.ratelimit_settings import RateLimits
from gateway.serve import run_gateway
from gateway.settings import Settings, TelemetrySettings
from policies.cases import CaseStore, Subject, subject_identifier
from policies.db import Database
from policies.teams import TeamDirectory, TeamStore
from sandbox import credit
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, DEMO_PASSWORD, DEMO_USERS, public_keys
from sandbox.tls import CertificateFiles, ensure_certificates

SANDBOX_START_TIMEOUT_S = 180.0
ISSUER = "issuer"  # the demo issuer's key in the sandbox's port file (sandbox/oidc.py)
DEMO_TEAM = "JIT-2026-001"
DEMO_SEEDER = "demo"  # who the demo's seeded cases and team are recorded as registered by
EXAMPLE_BODY = (
    '{"query": "{ enterprises(nameContains: \\"财富\\", first: 3) { nodes { uscc name } } }"}'
)


def console_redirects(host: str, port: int) -> list[str]:
    """The console's redirect URIs the demo issuer registers: the gateway's address (on every
    interface: as 127.0.0.1 and localhost)."""
    hosts = [host]
    if host in ("0.0.0.0", "::", "127.0.0.1", "localhost"):  # noqa: S104 - not binding
        hosts = ["127.0.0.1", "localhost"]
    return [f"http://{h}:{port}/console/auth/callback" for h in hosts]


def prepare(data_dir: Path, scenario: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Create the data dir's demo secrets (the issuer's JWKS and the banking HMAC key) and seed
    its case registry and joint team (:func:`seed_cases`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    jwks = data_dir / "issuer" / "jwks.json"
    jwks.write_text(json.dumps(public_keys(data_dir).as_dict(private=False)))
    seed_cases(data_dir, scenario)
    bank_key = data_dir / "sandbox" / "bank.key"
    if not bank_key.exists():
        bank_key.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(bank_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return jwks, bank_key


def governance_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'governance.sqlite3'}"


def seed_cases(data_dir: Path, scenario: dict[str, Any] | None = None) -> None:
    """The demo's cases in the registry of ``data_dir``'s governance database, each once:

    - ``JIT-2026-001``, the joint case, covered by the joint team of that name with jit.member
      in it; its subjects are the scenario's enterprise, its legal representative and their
      accounts (added once the scenario is known: the sandbox writes it at start);
    - with the scenario, the police case (police.investigator and duty.officer) and the court
      enforcement case (court.clerk) of ``jointgate sandbox scenario``, and the joint office's
      leads in every state (commands/demo_leads.py).
    """
    db = Database(governance_url(data_dir))
    try:
        cases, teams = CaseStore(db), TeamStore(db)
        known = {c.number for c in cases.cases()}
        if DEMO_TEAM not in known:
            cases.register(DEMO_TEAM, agency="office", title="鑫盛系非法集资案（联合专案）",
                           by=DEMO_SEEDER)  # fmt: skip
        if all(t.id != DEMO_TEAM for t in teams.list()):
            teams.create(
                DEMO_TEAM, [DEMO_TEAM], name="鑫盛系非法集资案联合专案组", created_by=DEMO_SEEDER
            )
            teams.add_member(DEMO_TEAM, "jit.member", by=DEMO_SEEDER)
        if scenario is None:
            return
        name = scenario["enterprise_name"]
        joint = [
            subject_identifier(scenario["enterprise_uscc"], "uscc"),
            subject_identifier(scenario["person_id"], "resident-id"),
            subject_identifier(scenario["account_number"], "account"),
            subject_identifier(scenario["person_account_number"], "account"),
        ]
        _add_subjects(cases, DEMO_TEAM, joint)
        demo = (
            (scenario["police_case_number"], "police", f"{name}涉嫌非法吸收公众存款案",
             ("police.investigator", "duty.officer"), joint[:2]),
            (scenario["enforcement_case_number"], "courts", f"{name}民间借贷纠纷执行案",
             ("court.clerk",), joint[:1]),
        )  # fmt: skip
        for number, agency, title, officials, subjects in demo:
            if number not in known:
                cases.register(number, agency=agency, title=title, by=DEMO_SEEDER,
                               subjects=subjects, officials=officials)  # fmt: skip
        seed_leads(db, scenario)
    finally:
        db.close()


def _add_subjects(cases: CaseStore, number: str, subjects: list[Subject]) -> None:
    have = cases.get(number).identifiers
    for subject in subjects:
        if subject.identifier not in have:
            cases.add_subject(number, subject, by=DEMO_SEEDER)


def usable_cases(data_dir: Path) -> dict[str, list[str]]:
    """Per demo user, the case ids it may send as X-Case-Id now (assigned, or through a team)."""
    db = Database(governance_url(data_dir))
    try:
        open_cases = CaseStore(db).cases(open_only=True)
        teams = TeamDirectory(TeamStore(db))
        found: dict[str, list[str]] = {}
        for user in DEMO_USERS:
            via_teams = {c for t in teams.memberships(user) for c in t.cases}
            found[user] = [
                c.number for c in open_cases if user in c.officials or c.number in via_teams
            ]
        return found
    finally:
        db.close()


def scenario_file(data_dir: Path) -> Path:
    """Where the demo's sandbox writes its scenario's identifiers (``jointgate sandbox
    scenario`` prints the same)."""
    return data_dir / "sandbox" / "scenario.json"


def start_sandbox(
    data_dir: Path, bank_key: Path, scale: float, seed: int, extra: list[str] | None = None
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Start ``jointgate sandbox`` as a child process and wait for its agencies' URLs."""
    port_file = data_dir / "sandbox" / "ports.json"
    port_file.unlink(missing_ok=True)
    scenario_file(data_dir).unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "commands.main", "sandbox",
        "--scale", str(scale), "--seed", str(seed),
        "--port-file", str(port_file), "--bank-key-file", str(bank_key), "--exit-with-parent",
        "--scenario-file", str(scenario_file(data_dir)),
        *(extra or []),
    ]  # fmt: skip
    child = subprocess.Popen(command)  # noqa: S603 - our own interpreter and arguments
    deadline = time.monotonic() + SANDBOX_START_TIMEOUT_S
    while not port_file.exists():
        if child.poll() is not None:
            raise RuntimeError(f"the sandbox exited with status {child.returncode}")
        if time.monotonic() > deadline:
            child.terminate()
            raise RuntimeError("the sandbox did not start in time")
        time.sleep(0.1)
    urls: dict[str, str] = json.loads(port_file.read_text())
    return child, urls


def demo_settings(
    host: str,
    port: int,
    data_dir: Path,
    jwks: Path,
    bank_key: Path,
    urls: dict[str, str],
    tls: CertificateFiles | None = None,
) -> Settings:
    key = bank_key.read_text().strip().encode()
    issuer = urls.get(ISSUER)
    # the console signs in at the demo issuer (sandbox/oidc.py), when the sandbox serves it
    console = ConsoleSettings(
        oidc_discovery_url=f"{issuer}/.well-known/openid-configuration" if issuer else ""
    )
    client = AgencyTLS(tls.ca, tls.client_cert, tls.client_key) if tls is not None else None
    return Settings(
        issuer=DEMO_ISSUER,
        audience=DEMO_AUDIENCE,
        agencies={
            name: AgencySettings(
                url=url,
                key_id="jointgate",
                key=key if name == "banking" else b"",
                # the sandbox credit system's demo institution (sandbox/credit.py)
                institution=credit.DEFAULT_INSTITUTION if name == "credit" else "",
                password=credit.DEFAULT_PASSWORD.encode() if name == "credit" else b"",
                tls=client,
            )
            for name, url in urls.items()
            if name != ISSUER
        },
        console=console,
        host=host,
        port=port,
        data_dir=data_dir,
        jwks_file=jwks,
        # the policy set in force is kept in the governance database (SQLite in the data dir),
        # so that changing it takes two policy administrators (propose, approve): dual control
        policy_shared=True,
        rate_limits=RateLimits(redis_url=""),  # in-process: the demo needs no Redis
        telemetry=TelemetrySettings(log_format="text"),  # a terminal, beside the banner
    )


def banner(
    host: str, port: int, data_dir: Path, urls: dict[str, str],
    cases: dict[str, list[str]] | None = None,
) -> str:  # fmt: skip
    dd = "" if data_dir == Path(".jointgate") else f" --data-dir {data_dir}"
    usable = cases or {}
    users = "\n".join(
        f"    {u:<22} {d.description}\n{'':26}X-Case-Id: {', '.join(usable.get(u, [])) or '-'}"
        for u, d in DEMO_USERS.items()
    )
    agencies = "\n".join(f"    {name:<8} {url}" for name, url in urls.items() if name != ISSUER)
    site = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - shown, not bound
    y, coordinator = time.strftime("%Y"), f"office.coordinator{dd}"
    return f"""
JointGate demo is running.

  GraphQL endpoint:  http://{host}:{port}/graphql
  Web console:       http://{site}:{port}/console
    (sign in as any demo user below, password {DEMO_PASSWORD})
  Agency systems (sandbox):
{agencies}

  Get a token for a demo user:
    jointgate token police.investigator{dd}
  Demo users, and the cases each may declare in X-Case-Id (assigned, or through a team):
{users}
  The case registry (cases, subjects, officials; the coordinator registers and assigns):
    jointgate cases list --token $(jointgate token office.coordinator{dd}){dd}
  The joint office's leads (every state, a case opened from a lead, an overdue major event):
    jointgate leads list --token $(jointgate token office.coordinator{dd}){dd}
    jointgate indicators --from {y}-01 --to {y}-12 --token $(jointgate token {coordinator}){dd}
  Demo scenario identifiers:
    jointgate sandbox scenario

  Change the policies: one administrator proposes, another approves (dual control):
    jointgate policy propose DIR --why "..." --token $(jointgate token policy.admin{dd}){dd}
    jointgate policy approve ID --token $(jointgate token policy.approver{dd}){dd}

  Try it:
    TOKEN=$(jointgate token jit.member{dd})
    curl -s http://{host}:{port}/graphql -H "Authorization: Bearer $TOKEN" \\
      -H 'X-Purpose: investigation' -H 'X-Case-Id: JIT-2026-001' \\
      -H 'Content-Type: application/json' \\
      -d '{EXAMPLE_BODY}'

  Stop with Ctrl-C.
"""


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run_demo(
    host: str, port: int, data_dir: Path, scale: float, seed: int, tls: bool = False
) -> int:
    # uvicorn drains, then re-raises the signal it caught; turning SIGTERM into SystemExit lets
    # the finally below stop the sandbox too, and the demo exit with status 0.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    jwks, bank_key = prepare(data_dir)
    # mTLS: the sandbox serves the CA's server certificate, the gateway presents its client one
    certs = ensure_certificates(data_dir / "tls") if tls else None
    extra = ["--tls", str(certs.directory), "--require-client-cert"] if certs else []
    extra += ["--issuer-dir", str(data_dir)]
    for uri in console_redirects(host, port):
        extra += ["--console-redirect", uri]
    print(f"Generating the synthetic world (scale {scale}) and starting the agency systems ...")
    child, urls = start_sandbox(data_dir, bank_key, scale, seed, extra)
    try:
        seed_cases(data_dir, json.loads(scenario_file(data_dir).read_text()))
        print(banner(host, port, data_dir, urls, usable_cases(data_dir)), flush=True)
        if certs is not None:
            print(f"  Agencies over mutual TLS; CA and certificates in {certs.directory}\n")
        run_gateway(demo_settings(host, port, data_dir, jwks, bank_key, urls, certs), [mount])
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0
