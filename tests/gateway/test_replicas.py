"""Two gateway processes on loopback against one Redis and one PostgreSQL: shared rate limits,
one audit trail with both replicas' logs, a policy and a team change made through replica A's
configuration in force on replica B within a second, and the record cache shared."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from audit.keys import load_or_create_signer
from commands.demo import prepare, start_sandbox
from gateway.app import create_app
from gateway.cache_settings import CacheSettings
from gateway.notify_settings import NotifySettings
from policies.db import Database
from policies.engine import DEFAULT_DIR
from policies.teams import TeamStore
from sandbox.credit import DEFAULT_INSTITUTION, DEFAULT_PASSWORD
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, mint_token
from sandbox.world import World
from tests.cases import register_fixture_cases
from tests.gateway.conftest import open_harness, uscc

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
SCALE = 0.05  # the session's `world` fixture (default seed)
START_TIMEOUT_S = 60.0
USER_BURST = 6

ACCOUNTS_UNKNOWN = "Cannot query field 'bankAccounts' on type 'Enterprise'."
FORBID_STATUS = """
@id("no-status-for-market-in-this-test")
forbid (principal, action == JointGate::Action::"read",
        resource == JointGate::Field::"Enterprise.status")
when { principal.agency == "market" };
"""


@dataclass
class Replica:
    name: str
    url: str
    config: Path
    process: subprocess.Popen[bytes]
    log: Path

    def readyz(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/readyz", timeout=5).json()
        return body

    def query(self, query: str, user: str, purpose: str, case: str | None = None,
              data_dir: Path | None = None) -> httpx.Response:  # fmt: skip
        assert data_dir is not None
        headers = {"authorization": f"Bearer {mint_token(user, data_dir)}", "x-purpose": purpose}
        if case is not None:
            headers["x-case-id"] = case
        return httpx.post(f"{self.url}/graphql", json={"query": query}, headers=headers, timeout=30)


@dataclass
class Stack:
    a: Replica
    b: Replica
    shared: Path  # issuer keys (for tokens), audit and rate-limit keys
    prefix: str  # of this run's Redis keys and channel
    agencies: dict[str, str]
    env: dict[str, str]

    def query(self, replica: Replica, query: str, user: str, purpose: str,
              case: str | None = None) -> httpx.Response:  # fmt: skip
        return replica.query(query, user, purpose, case, self.shared)

    def jointgate(self, *args: str, env: dict[str, str] | None = None) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "commands.main", *args],
            capture_output=True, text=True, timeout=60, env={**self.env, **(env or {})},
        )  # fmt: skip
        assert out.returncode == 0, f"jointgate {' '.join(args)}: {out.stdout}{out.stderr}"
        return out.stdout

    def token(self, user: str) -> list[str]:
        """``--token`` of a demo user, for the governance commands (verified with --config)."""
        return ["--token", mint_token(user, self.shared)]

    def market_requests(self) -> int:
        stats = httpx.get(f"{self.agencies['market']}/_sandbox/stats", timeout=5).json()
        return int(stats["requests"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _config(name: str, port: int, root: Path, shared: Path, schemas: tuple[str, str],
            prefix: str, agencies: dict[str, str]) -> Path:  # fmt: skip
    audit_schema, governance_schema = schemas
    data_dir = root / name
    data_dir.mkdir()
    (root / "credit.password").write_text(DEFAULT_PASSWORD)  # the sandbox's demo institution
    login = f'\ninstitution = "{DEFAULT_INSTITUTION}"\npassword_file = "{root / "credit.password"}"'
    agency_tables = "\n".join(
        f'[agencies.{agency}]\nurl = "{url}"'
        + (f'\nkey_file = "{shared}/sandbox/bank.key"' if agency == "banking" else "")
        + (login if agency == "credit" else "")
        for agency, url in agencies.items()
    )
    path = root / f"{name}.toml"
    path.write_text(f"""
[gateway]
port = {port}
data_dir = "{data_dir}"
[auth]
issuer = "{DEMO_ISSUER}"
audience = "{DEMO_AUDIENCE}"
jwks_file = "{shared}/issuer/jwks.json"
[audit]
backend = "postgres"
postgres_dsn = "host=127.0.0.1 port=5432 dbname=test user=postgres"
postgres_schema = "{audit_schema}"
log_id = "{name}"
signing_key_file = "{shared}/keys/audit-signing.key"
data_key_file = "{shared}/keys/audit-data.key"
checkpoint_every = 5
[governance]
database = "{PG}?options=-csearch_path%3D{governance_schema}"
[rate_limits]
redis_url = "{REDIS}"
key_prefix = "{prefix}rl:"
user_rate = 0.01
user_burst = {USER_BURST}
key_file = "{shared}/keys/ratelimit.key"
[notifications]
channel = "{prefix}changes"
recheck_s = 60    # within a second can only be the notification
[cache]
registry_market_ttl_s = 60
key_prefix = "{prefix}cache:"
[telemetry]
log_format = "text"
{agency_tables}
""")
    return path


def _start(name: str, config: Path, env: dict[str, str], logs: Path) -> Replica:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # our own interpreter and arguments
            [sys.executable, "-m", "commands.main", "serve", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    port = int(config.read_text().split("port = ", 1)[1].split()[0])
    return Replica(name, f"http://127.0.0.1:{port}", config, process, log)


def _wait_ready(replica: Replica, deadline: float) -> None:
    while True:
        assert replica.process.poll() is None, f"{replica.name} exited:\n{replica.log.read_text()}"
        try:
            if httpx.get(f"{replica.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{replica.name} not ready:\n{replica.log.read_text()}"
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("replicas")
    shared = root / "shared"
    prepare(shared)  # the demo issuer's keys (tokens) and the sandbox bank's HMAC key
    keys = shared / "keys"
    keys.mkdir()
    for secret in ("audit-data.key", "ratelimit.key"):  # the same on every replica
        (keys / secret).write_text(secrets.token_hex(32) + "\n")
    load_or_create_signer(keys / "audit-signing.key")
    run = uuid.uuid4().hex[:10]
    schemas = (f"jg_audit_{run}", f"jg_gov_{run}")
    prefix = f"jg-test:{run}:"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schemas[1]}")
    # the cases the tests declare, in the replicas' shared governance database
    register_fixture_cases(f"{PG}?options=-csearch_path%3D{schemas[1]}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOINTGATE_")}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        sandbox, agencies = start_sandbox(shared, shared / "sandbox" / "bank.key", SCALE, 20261123)
        processes.append(sandbox)
        replicas = []
        for name in ("replica-a", "replica-b"):  # started together, as a Deployment would
            config = _config(name, _free_port(), root, shared, schemas, prefix, agencies)
            replicas.append(_start(name, config, env, root))
            processes.append(replicas[-1].process)
        deadline = time.monotonic() + START_TIMEOUT_S
        for replica in replicas:
            _wait_ready(replica, deadline)
        yield Stack(replicas[0], replicas[1], shared, prefix, agencies, env)
    finally:
        for process in reversed(processes):
            _stop(process)
        with psycopg.connect(PG, autocommit=True) as admin:
            for schema in schemas:
                admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        client.close()


def _storable(world: World, n: int) -> str:
    """The n-th enterprise the cache may hold (no case links, not H3) with public labels."""
    found = [
        uscc
        for uscc, e in sorted(world.enterprises.items())
        if not e.get("linked_cases") and e.get("handling_code") != "H3" and e["sensitivity"] == 0
    ]
    return found[n]


def test_both_replicas_share_redis_and_the_database(stack: Stack) -> None:
    for replica in (stack.a, stack.b):
        checks = replica.readyz()["checks"]
        assert checks["rate_limits"]["mode"] == "redis"
        assert checks["notifications"]["mode"] == "redis"
        assert checks["cache"]["mode"] == "redis"
        assert checks["policy_store"]["source"] == "database"
    assert stack.a.readyz()["checks"]["policy"] == stack.b.readyz()["checks"]["policy"]


def test_rate_limits_count_requests_to_both_replicas_together(stack: Stack, world: World) -> None:
    query = '{ enterprise(uscc: "%s") { name } }' % _storable(world, 0)
    statuses = []
    for i in range(USER_BURST + 2):  # alternately to A and B
        replica = stack.a if i % 2 == 0 else stack.b
        statuses.append(stack.query(replica, query, "bank.analyst", "supervision").status_code)
    # each replica alone saw only 4 requests, below the burst: the count is shared
    assert statuses == [200] * USER_BURST + [429, 429]


def test_one_audit_trail_holds_both_replicas_logs(stack: Stack, world: World) -> None:
    query = '{ enterprise(uscc: "%s") { name } }' % _storable(world, 1)
    ids = []
    for replica in (stack.a, stack.b):
        response = stack.query(replica, query, "court.clerk", "supervision")
        assert response.status_code == 200
        ids.append(response.headers.get("x-request-id"))
    reader = {"JOINTGATE_AUDIT__LOG_ID": "auditor-cli"}  # the CLI writes its reads to its own log
    found = [
        json.loads(line)
        for line in stack.jointgate(
            "audit", "search", "--config", str(stack.a.config), "--user", "court.clerk", "--json",
            *stack.token("auditor"), env=reader,
        ).splitlines()
    ]  # fmt: skip
    assert {r["log_id"] for r in found} == {"replica-a", "replica-b"}
    if all(ids):
        assert set(ids) <= {r["request_id"] for r in found}
    verified = [
        json.loads(line)
        for line in stack.jointgate(
            "audit", "verify", "--config", str(stack.b.config), "--json", env=reader
        ).splitlines()
    ]
    logs = {v["log_id"]: v for v in verified}
    assert {"replica-a", "replica-b"} <= set(logs)
    assert all(v["ok"] for v in verified)


def test_a_team_change_made_through_one_replica_is_in_force_on_the_other(
    stack: Stack, world: World
) -> None:
    team, case = f"JIT-T-{uuid.uuid4().hex[:6]}", "JIT-2026-777"
    query = '{ enterprise(uscc: "%s") { bankAccounts { number } } }' % _storable(world, 2)

    def denied() -> bool:
        body = stack.query(stack.b, query, "police.investigator", "investigation", case).json()
        return [e["message"] for e in body.get("errors", [])] == [ACCOUNTS_UNKNOWN]

    assert denied()  # not in a team: the accounts are not police data, not even in the schema
    config = ["--config", str(stack.a.config), *stack.token("office.coordinator")]
    stack.jointgate("teams", "create", team, "--case", case, *config)
    out = stack.jointgate("teams", "add-member", team, "police.investigator", *config)
    assert "announced to the replicas" in out
    time.sleep(1.0)
    assert not denied()


def test_a_policy_approved_through_one_replica_is_in_force_on_the_other(
    stack: Stack, world: World, tmp_path: Path
) -> None:
    new = tmp_path / "policies"
    new.mkdir()
    for path in [*DEFAULT_DIR.glob("*.cedar"), DEFAULT_DIR / "jointgate.cedarschema"]:
        (new / path.name).write_text(path.read_text())
    (new / "95-test.cedar").write_text(FORBID_STATUS)
    query = '{ enterprise(uscc: "%s") { name status } }' % _storable(world, 3)
    before = stack.query(stack.b, query, "market.officer", "supervision").json()
    assert before["data"]["enterprise"]["status"] is not None
    version_before = stack.b.readyz()["checks"]["policy"]
    config = ["--config", str(stack.a.config)]
    out = stack.jointgate("policy", "propose", str(new), "--why", "test", *config,
                          *stack.token("policy.admin"))  # fmt: skip
    assert "not in force until another policy administrator" in out
    proposal = out.split(" as ")[1].split()[0]
    out = stack.jointgate("policy", "approve", proposal, *config, *stack.token("policy.approver"))
    assert "announced to the replicas" in out
    time.sleep(1.0)
    after = stack.query(stack.b, query, "market.officer", "supervision").json()
    # forbidden for the market whatever it declares: not in its schema any more
    assert [e["message"] for e in after["errors"]] == [
        "Cannot query field 'status' on type 'Enterprise'."
    ]
    versions = {r.readyz()["checks"]["policy"] for r in (stack.a, stack.b)}
    assert len(versions) == 1 and versions != {version_before}


def test_the_record_cache_is_shared_and_asks_the_agency_once(stack: Stack, world: World) -> None:
    query = '{ enterprise(uscc: "%s") { name industry } }' % _storable(world, 4)
    before = stack.market_requests()
    first = stack.query(stack.a, query, "jit.member", "investigation", "JIT-2026-001").json()
    assert stack.market_requests() == before + 1
    second = stack.query(stack.b, query, "jit.member", "investigation", "JIT-2026-001").json()
    assert second == first and "errors" not in second
    assert stack.market_requests() == before + 1  # B answered from what A cached
    cache = stack.b.readyz()["checks"]["cache"]
    assert cache["hits"] >= 1 and cache["hit_ratio"] is not None


async def test_without_redis_a_replica_keeps_serving_polls_and_bypasses_the_cache(
    tmp_path: Path,
) -> None:
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings = {
        "notifications": NotifySettings(redis_url=dead, poll_s=0.1, retry_s=60),
        "cache": CacheSettings(registry_market_ttl_s=60, redis_url=dead),
    }
    query = '{ enterprise(uscc: "%s") { name bankAccounts { number } } }' % uscc(2)
    async with open_harness(tmp_path / "data", **settings) as harness:
        app = create_app(harness.gateway)
        async with app.router.lifespan_context(app):
            first = (await harness.query(query)).json()  # jit.member, in the demo's team
            assert "errors" not in first and first["data"]["enterprise"]["name"]
            checks = (await harness.client.get("/readyz")).json()["checks"]
            assert checks["notifications"]["mode"] == "polling"
            assert "ConnectionError" in checks["notifications"]["error"]
            assert checks["cache"]["mode"] == "bypass" and checks["cache"]["bypassed"] == 1
            # another process takes jit.member off the team, and cannot announce it
            other = Database(harness.gateway.settings.governance_url)
            TeamStore(other).remove_member("JIT-2026-001", "jit.member")
            other.close()
            await asyncio.sleep(0.5)  # a few poll_s
            after = (await harness.query(query)).json()  # its case was its through the team
            assert [e["extensions"]["code"] for e in after["errors"]] == ["CASE_NOT_ASSIGNED"]
