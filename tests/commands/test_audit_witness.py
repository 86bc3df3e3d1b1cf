"""``jointgate audit verify`` against the witness (issue 17): by default, ``--witness URL``,
``--no-witness``; a restored backup fails naming the missing records, exit 1."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

import commands.main
from audit.config import AuditConfig
from audit.trail import AuditTrail
from commands.audit.run import run
from tests.audit.conftest import make_config, record


def cli(data_dir: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = commands.main.build_parser().parse_args(
        ["audit", argv[0], "--data-dir", str(data_dir), *argv[1:]]
    )
    return run(args, out, err), out.getvalue(), err.getvalue()


async def commit(config: AuditConfig, start: int, count: int) -> None:
    trail = AuditTrail(config)
    try:
        for i in range(start, start + count):
            await trail.commit(record(i))
    finally:
        await trail.aclose()


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    """A gateway's trail of 12 records, witnessed in DATA_DIR/witness/ (the default); the log
    is this host's (the CLI's default log, so that its own records join it)."""
    await commit(make_config(tmp_path, log_id="", checkpoint_every=4), 0, 12)
    return tmp_path


async def test_a_clean_store_verifies_against_the_witness(data_dir: Path) -> None:
    status, out, err = cli(data_dir, "verify")
    assert status == 0, out + err
    assert " witnessed, root " in out
    assert "witness file:witness/checkpoints.jsonl: ok: " in out
    assert err == ""
    status, out, _ = cli(data_dir, "verify", "--json")
    [log] = [json.loads(line) for line in out.splitlines()]  # one object per log, as before
    # How many of the 3 kept checkpoints (4, 8, 12) the witness got depends on the publisher's
    # timing (a newer one replaces one not yet published); the last one is published at close.
    assert status == 0 and log["ok"] and log["witnessed_checkpoints_checked"] >= 1
    assert [(w["witness"], w["ok"]) for w in log["witnesses"]] == [
        ("file:witness/checkpoints.jsonl", True)
    ]


async def test_a_restored_backup_fails_verify_naming_what_is_missing(
    data_dir: Path, tmp_path: Path
) -> None:
    store = data_dir / "audit" / "trail.db"
    shutil.copy2(store, tmp_path / "backup.db")  # the trail is closed: no WAL to copy
    config = make_config(data_dir, log_id="", checkpoint_every=4)
    await commit(config, 12, 10)
    store.unlink()
    shutil.copy2(tmp_path / "backup.db", store)
    status, out, _err = cli(data_dir, "verify")
    assert status == 1
    assert f"the witness saw log {config.log_id} at size 22 (" in out
    assert "the store holds 12: records 12–21 are missing" in out
    assert cli(data_dir, "verify", "--no-witness")[0] == 0  # the store alone verifies


async def test_no_witness_is_said_loudly(data_dir: Path) -> None:
    status, _, err = cli(data_dir, "verify", "--no-witness")
    assert status == 0
    assert "--no-witness: the store is checked only against itself" in err
    status, _, err = cli(data_dir, "verify", "--no-witness", "--witness", "w.jsonl")
    assert status == 2 and "--witness and --no-witness: give one or the other" in err


async def test_an_explicit_witness_and_a_tampered_one(data_dir: Path, tmp_path: Path) -> None:
    witness = data_dir / "witness" / "checkpoints.jsonl"
    copy = tmp_path / "elsewhere" / "copy.jsonl"
    copy.parent.mkdir()
    lines = witness.read_bytes().splitlines(keepends=True)
    copy.write_bytes(b"".join(lines[:1] + lines[2:]))  # a line removed
    status, out, _ = cli(data_dir, "verify", "--witness", f"file:{copy}")
    assert status == 1
    assert f"witness file:{copy}: FAILED: " in out
    assert f"{copy}: line 2 does not follow the line before it" in out
    copy.write_bytes(b"".join(lines)[:-10])  # the tail cut
    status, out, _ = cli(data_dir, "verify", "--witness", f"file:{copy}")
    assert status == 1 and "ends in an incomplete line" in out
    status, _, err = cli(data_dir, "verify", "--witness", "s3://bucket/x")
    assert status == 2 and "--witness: 's3://bucket/x': a witness is file:PATH" in err


async def test_a_witness_that_cannot_be_read_is_exit_3(data_dir: Path, tmp_path: Path) -> None:
    down = "postgresql://postgres@127.0.0.1:1/witness"  # nothing listens there
    status, out, err = cli(data_dir, "verify", "--witness", down)
    assert status == 3 and f"witness {down}: cannot be read" in err
    assert "log " in out and ": ok: " in out  # the store's own check is still reported


async def test_without_witnesses_verify_warns(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "jointgate.toml"
    config.write_text(f'[gateway]\ndata_dir = "{data_dir}"\n[audit]\nwitnesses = []\n')
    out, err = io.StringIO(), io.StringIO()
    args = commands.main.build_parser().parse_args(["audit", "verify", "--config", str(config)])
    assert run(args, out, err) == 0
    assert "WARNING: no witness configured (audit.witnesses = [])" in err.getvalue()
