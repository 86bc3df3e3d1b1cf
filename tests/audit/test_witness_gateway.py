"""The witness in the gateway: its settings (file and environment), ``config check``,
``/readyz`` (reported, never required) and ``/metrics``; a PostgreSQL store rolled back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import psycopg
import pytest

from audit.config import AuditSettings, load_config
from audit.merkle import CompactRange
from audit.publish import open_witness
from audit.trail import AuditTrail
from audit.verify import verify_store
from commands.demo import demo_settings, prepare
from commands.main import main
from gateway.settings import load
from sandbox.issuer import public_keys
from tests.audit.conftest import open_live, record
from tests.audit.test_postgres import DSN

CONFIG = """
[gateway]
data_dir = "data"
[auth]
issuer = "https://idp.example"
audience = "jointgate"
jwks_file = "jwks.json"
[agencies.police]
url = "http://police.example"
[agencies.market]
url = "http://market.example"
[agencies.banking]
url = "http://bank.example"
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


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JOINTGATE_BANK_KEY", "bank-secret")
    keys = public_keys(tmp_path / "issuer").as_dict(private=False)
    (tmp_path / "jwks.json").write_text(json.dumps(keys))
    (tmp_path / "jointgate.toml").write_text(CONFIG)
    return tmp_path / "jointgate.toml"


def test_the_witness_is_on_by_default_and_config_check_says_where(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load(config).audit.witnesses == ("file:witness/checkpoints.jsonl",)
    assert main(["config", "check", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"audit witnesses      file {config.parent / 'data/witness/checkpoints.jsonl'}" in out


def test_witnesses_from_the_environment_and_none_said_loudly(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "JOINTGATE_AUDIT__WITNESSES", '["file:/srv/witness/{log}.jsonl", "postgres://w@db/w"]'
    )
    assert load(config).audit.witnesses == ("file:/srv/witness/{log}.jsonl", "postgres://w@db/w")
    assert main(["config", "check", str(config)]) == 0
    out = capsys.readouterr().out
    assert "audit witnesses      file /srv/witness/{log}.jsonl; postgresql postgres://w@db/w" in out
    monkeypatch.setenv("JOINTGATE_AUDIT__WITNESSES", "[]")
    assert main(["config", "check", str(config)]) == 0
    assert "audit witnesses      NONE: a restored backup" in capsys.readouterr().out


def test_config_check_refuses_a_witness_beside_the_store_or_with_a_password(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text(CONFIG + '[audit]\nwitnesses = ["file:audit/w.jsonl"]\n')
    assert main(["config", "check", str(config)]) == 1
    err = capsys.readouterr().err
    assert "audit.witnesses: file:audit/w.jsonl: in the audit store's directory" in err
    config.write_text(CONFIG + '[audit]\nwitnesses = ["postgresql://w:hunter2@db/w"]\n')
    assert main(["config", "check", str(config)]) == 1
    err = capsys.readouterr().err
    assert "no password in the witness URL" in err and "hunter2" not in err


async def test_readyz_reports_the_witness_and_metrics_count_it(tmp_path: Path) -> None:
    async with open_live(tmp_path) as live:
        response = await live.query("{ __typename }")
        assert response.status_code == 200
        ready = (await live.client.get("/readyz")).json()
        witness = ready["checks"]["audit_witness"]
        assert witness["degraded"] is False
        [state] = witness["witnesses"]
        assert state["witness"] == "file:witness/checkpoints.jsonl"
        trail = live.trail
        assert trail.witness is not None
        for _ in range(100):  # the first checkpoint, published by the witness's thread
            if trail.witness.states[0].state == "ok":
                break
            await asyncio.sleep(0.02)
        trail.witness.states[0].state = "down"  # as a failed attempt leaves it
        trail.witness.states[0].failures = 3
        response = await live.client.get("/readyz")
        assert response.status_code == 200  # degraded, still in rotation
        assert response.json()["checks"]["audit_witness"]["degraded"] is True
        metrics = (await live.client.get("/metrics")).text
        shown = 'witness="file:witness/checkpoints.jsonl"'
        assert f"jointgate_audit_witness_failures_total{{{shown}}} 3" in metrics
        assert f"jointgate_audit_witness_up{{{shown}}} 0" in metrics
        assert f"jointgate_audit_witness_refusals_total{{{shown}}} 0" in metrics


async def test_a_postgresql_store_rolled_back_fails_verify_against_the_witness(
    tmp_path: Path,
) -> None:
    schema = "audit_witness_rollback"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    settings = AuditSettings(
        backend="postgres", postgres_dsn=DSN, postgres_schema=schema, log_id="gw-pg",
        checkpoint_every=5,
    )  # fmt: skip
    config = load_config(settings, tmp_path)
    try:
        trail = AuditTrail(config)
        for i in range(30):
            await trail.commit(record(i))
        await trail.aclose()
        # an administrator of the database rolls the log back to its checkpoint at 15
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'ALTER TABLE "{schema}".records DISABLE TRIGGER USER')
            conn.execute(f'ALTER TABLE "{schema}".checkpoints DISABLE TRIGGER USER')
            root, ts, sig = conn.execute(
                f'SELECT root, timestamp_us, signature FROM "{schema}".checkpoints'
                " WHERE tree_size = 15"
            ).fetchone()  # type: ignore[misc]
            leaves = [bytes(r[0]) for r in conn.execute(
                f'SELECT leaf FROM "{schema}".records WHERE seq < 15 ORDER BY seq')]  # fmt: skip
            tree = CompactRange()
            tree.extend(leaves)
            for statement in (
                f'DELETE FROM "{schema}".records WHERE seq >= 15',
                f'DELETE FROM "{schema}".entities WHERE seq >= 15',
                f'DELETE FROM "{schema}".checkpoints WHERE tree_size > 15',
            ):
                conn.execute(statement)
            conn.execute(
                f'UPDATE "{schema}".heads SET tree_size = 15, frontier = %s, root = %s,'
                " timestamp_us = %s, signature = %s",
                (tree.to_bytes(), root, ts, sig),
            )
        store = config.new_store()
        try:
            [alone] = verify_store(store, config.signer.public, config.archive_dir)
            assert alone.ok  # consistent with itself
            witness = open_witness(config.witnesses[0])
            reading = witness.read(config.signer.public)
            [report] = verify_store(
                store, config.signer.public, config.archive_dir,
                witnessed=[e.checkpoint for e in reading.entries],
            )  # fmt: skip
        finally:
            store.close()
        [problem] = report.problems
        assert problem.startswith("the witness saw log gw-pg at size 30 (")
        assert problem.endswith("the store holds 15: records 15–29 are missing")
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_the_demo_witnesses_its_trail_in_a_directory_beside_the_store(tmp_path: Path) -> None:
    jwks, bank_key = prepare(tmp_path)
    settings = demo_settings("127.0.0.1", 8400, tmp_path, jwks, bank_key, {})
    config = load_config(settings.audit, settings.data_dir)
    [witness] = config.witnesses
    assert witness.kind == "file"
    assert Path(witness.target) == tmp_path / "witness" / "checkpoints.jsonl"
    assert config.settings.path == tmp_path / "audit" / "trail.db"  # beside, not inside
