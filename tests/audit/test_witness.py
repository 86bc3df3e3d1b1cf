"""Witnesses (issue 17): a restored backup, or a tail cut with the head set back to an earlier
signed checkpoint, verifies against the store alone; against the witness it fails, naming what
is missing, and the witness refuses the rolled-back store's checkpoints when they are written."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

import audit.publish
from audit.checkpoint import sign
from audit.config import AuditConfig
from audit.errors import AuditConfigError
from audit.merkle import CompactRange, leaf_hash
from audit.publish import WitnessPublisher, open_witness
from audit.trail import AuditTrail
from audit.verify import LogReport, verify_store
from audit.witness import (
    FileWitness,
    WitnessEntry,
    WitnessRefused,
    WitnessSpec,
    judge,
    log_file_name,
    parse_witness,
)
from audit.witness_sql import SqlWitness
from tests.audit.conftest import make_config, record

PG = "postgresql://postgres@127.0.0.1:5432/test"


def witnessed_config(data_dir: Path, **settings: Any) -> AuditConfig:
    return make_config(data_dir, checkpoint_every=5, **settings)


async def commit(config: AuditConfig, start: int, count: int) -> AuditTrail:
    """``count`` records, one transaction each, through the gateway's trail; closed after
    (which publishes the last head too). The trail is returned for its witness states."""
    trail = AuditTrail(config)
    try:
        for i in range(start, start + count):
            await trail.commit(record(i))
    finally:
        await trail.aclose()
    return trail


def verify(config: AuditConfig, witness: bool = True) -> LogReport:
    witnessed = []
    if witness:
        for spec in config.witnesses:
            w = open_witness(spec)
            reading = w.read(config.signer.public)
            w.close()
            assert reading.problems == []
            witnessed += [e.checkpoint for e in reading.entries]
    store = config.new_store()
    try:
        [report] = verify_store(
            store, config.signer.public, config.archive_dir, witnessed=witnessed
        )
        return report
    finally:
        store.close()


def store_files(config: AuditConfig) -> list[Path]:
    path = config.settings.path
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def back_up(config: AuditConfig, to: Path) -> None:
    to.mkdir()
    for f in store_files(config):
        if f.exists():
            shutil.copy2(f, to / f.name)


def restore(config: AuditConfig, backup: Path) -> None:
    for f in store_files(config):
        f.unlink(missing_ok=True)
    for f in backup.iterdir():
        shutil.copy2(f, config.settings.path.parent / f.name)


def witness_lines(config: AuditConfig) -> list[bytes]:
    return (
        (config.settings.path.parents[1] / "witness" / "checkpoints.jsonl")
        .read_bytes()
        .splitlines()
    )


# -- the trail publishes, verify checks against it -------------------------------------------------
async def test_the_trail_publishes_its_checkpoints_and_a_clean_store_verifies(
    tmp_path: Path,
) -> None:
    config = witnessed_config(tmp_path)
    assert config.witnesses == (
        WitnessSpec(
            "file", str(tmp_path / "witness/checkpoints.jsonl"), "file:witness/checkpoints.jsonl"
        ),
    )
    trail = AuditTrail(config)
    try:
        for i in range(12):
            await trail.commit(record(i))
            if (i + 1) % 5 == 0:  # a kept checkpoint: let the publisher write it before the next
                # head comes (else it carries the newer head in its place, as it should)
                assert trail.witness is not None
                for _ in range(1000):  # at most 10 s
                    if trail.witness.states[0].size >= i + 1:
                        break
                    await asyncio.sleep(0.01)
    finally:
        await trail.aclose()
    assert trail.witness is not None
    assert [s.report()["state"] for s in trail.witness.states] == ["ok"]
    sizes = [WitnessEntry.from_json(orjson.loads(line)).size for line in witness_lines(config)]
    # the kept checkpoints (and heads published before them while the trail was young), and
    # at the close the last head, which no checkpoint kept
    assert {5, 10} <= set(sizes) and sizes[-1] == 12 and sizes == sorted(set(sizes))
    report = verify(config)
    assert report.ok, report.problems
    assert report.witnessed == len(sizes)


async def test_a_restored_backup_fails_verify_naming_the_missing_records(tmp_path: Path) -> None:
    config = witnessed_config(tmp_path)
    await commit(config, 0, 20)
    back_up(config, tmp_path / "backup")
    await commit(config, 20, 20)  # the witness sees 40
    restore(config, tmp_path / "backup")
    assert verify(config, witness=False).ok  # the store alone: consistent with itself
    [problem] = verify(config).problems
    assert problem.startswith("the witness saw log test-log at size 40 (")
    assert problem.endswith("Z); the store holds 20: records 20–39 are missing")


async def test_a_restored_backup_with_the_witness_cut_back_to_it_verifies(tmp_path: Path) -> None:
    """The limit docs/audit.md's threat model states ("witness operator + store writer"): the
    old copy is signed already, so whoever can write both the store and the witness rolls both
    back without the key, and verify finds a sound, shorter trail. The demo keeps both under one
    data dir of one OS user: this is why a witness must be storage the store's writers cannot
    write."""
    config = witnessed_config(tmp_path)
    await commit(config, 0, 20)
    back_up(config, tmp_path / "backup")
    kept = witness_lines(config)
    await commit(config, 20, 20)
    restore(config, tmp_path / "backup")
    assert verify(config).problems  # the witness alone catches it
    path = tmp_path / "witness" / "checkpoints.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in kept))  # cut back to what it held then
    assert verify(config).ok


async def test_the_witness_refuses_a_restored_stores_checkpoints_when_they_are_written(
    tmp_path: Path,
) -> None:
    config = witnessed_config(tmp_path)
    await commit(config, 0, 20)
    back_up(config, tmp_path / "backup")
    await commit(config, 20, 20)
    restore(config, tmp_path / "backup")
    trail = await commit(config, 100, 1)  # the restored store writes on: size 21 < 40
    assert trail.witness is not None
    [state] = trail.witness.states
    assert state.state == "refusing" and state.refusals == 1
    assert state.error is not None and "the store was rolled back; records 21–39" in state.error
    assert trail.witness_status()["degraded"] is True
    trail = await commit(config, 101, 25)  # past 40, but not the records the witness saw
    [state] = trail.witness.states  # type: ignore[union-attr]
    assert state.state == "refusing" and "does not extend the one the witness saw" in str(
        state.error
    )
    [problem] = verify(config).problems  # the first witnessed checkpoint past the backup
    assert problem.startswith("the witness saw log test-log at size 25 with root ")
    assert "; the store's first 25 records have root " in problem
    assert problem.endswith(": the store was rewritten or replaced since")


def _roll_back_to(config: AuditConfig, size: int) -> None:
    """Delete the tail and set the head back to the signed checkpoint kept at ``size``: what
    a database administrator can do without the signing key."""
    conn = sqlite3.connect(config.settings.path, isolation_level=None)
    try:
        for trigger in ("records_no_update", "records_no_delete", "checkpoints_no_delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        root, ts, signature = conn.execute(
            "SELECT root, timestamp_us, signature FROM checkpoints WHERE tree_size = ?", (size,)
        ).fetchone()
        leaves = [bytes(r[0]) for r in conn.execute(
            "SELECT leaf FROM records WHERE seq < ? ORDER BY seq", (size,))]  # fmt: skip
        tree = CompactRange()
        tree.extend(leaves)
        conn.execute("DELETE FROM records WHERE seq >= ?", (size,))
        conn.execute("DELETE FROM entities WHERE seq >= ?", (size - size % 8,))
        conn.execute("DELETE FROM checkpoints WHERE tree_size > ?", (size,))
        conn.execute(
            "UPDATE heads SET tree_size = ?, frontier = ?, root = ?, timestamp_us = ?,"
            " signature = ?",
            (size, tree.to_bytes(), root, ts, signature),
        )
    finally:
        conn.close()


async def test_a_cut_tail_with_the_head_set_back_fails_verify(tmp_path: Path) -> None:
    config = witnessed_config(tmp_path)
    await commit(config, 0, 33)
    _roll_back_to(config, 15)
    assert verify(config, witness=False).problems == []
    [problem] = verify(config).problems
    assert problem.startswith("the witness saw log test-log at size 33 (")
    assert problem.endswith("the store holds 15: records 15–32 are missing")


async def test_a_log_deleted_whole_is_missing_not_absent(tmp_path: Path) -> None:
    config = witnessed_config(tmp_path)
    await commit(config, 0, 7)
    conn = sqlite3.connect(config.settings.path, isolation_level=None)
    for trigger in ("records_no_delete", "checkpoints_no_delete"):
        conn.execute(f"DROP TRIGGER {trigger}")
    for table in ("records", "entities", "heads", "checkpoints"):
        conn.execute(f"DELETE FROM {table}")
    conn.close()
    [problem] = verify(config).problems
    assert "the witness saw log test-log at size 7" in problem
    assert problem.endswith("the store holds 0: records 0–6 are missing")


# -- the witness's own integrity -------------------------------------------------------------------
async def test_tampered_and_truncated_witness_files_are_named(tmp_path: Path) -> None:
    config = witnessed_config(tmp_path)
    # Four trails one after another, each closed (which publishes its head): four lines, however
    # slow the machine. One trail of 16 records may publish fewer, as the publisher carries a
    # newer checkpoint in place of one it has not yet written (CI saw 3 under load).
    for start in range(0, 16, 4):
        await commit(config, start, 4)
    path = tmp_path / "witness" / "checkpoints.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 4

    def problems(data: bytes) -> list[str]:
        path.write_bytes(data)
        return FileWitness(str(path)).read(config.signer.public).problems

    assert problems(b"".join(lines)) == []
    at = lines[1].index(b'"root":"') + 8
    flipped = b"0" if lines[1][at : at + 1] != b"0" else b"1"
    edited = lines[1][:at] + flipped + lines[1][at + 1 :]  # the root the witness saw, rewritten
    found = problems(b"".join([lines[0], edited, *lines[2:]]))
    assert any(re.fullmatch(rf"{path}: line 2 \(log test-log, size \d+\): the checkpoint's"
                            r" signature does not verify \(edited, or another key\)", p)
               for p in found)  # fmt: skip
    assert any("line 3 does not follow the line before it" in p for p in found)
    assert problems(b"".join([lines[0], *lines[2:]])) == [
        f"{path}: line 2 does not follow the line before it (a line was removed, inserted or"
        " edited before it)"
    ]
    cut = b"".join(lines)[:-40]
    assert problems(cut) == [
        f"{path}: ends in an incomplete line (line {len(lines)}): the file was truncated, or"
        " its last write cut short"
    ]


def test_a_write_cut_short_is_ended_and_the_chain_goes_on(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    leaves = [leaf_hash(bytes([i])) for i in range(9)]
    witness = FileWitness(str(tmp_path / "w" / "c.jsonl"))
    assert witness.publish(entry(config, leaves, 4), _from(leaves))
    path = tmp_path / "w" / "c.jsonl"
    with path.open("ab") as f:
        f.write(b'{"v":1,"prev":"ab')  # a crash in the middle of a write
    witness = FileWitness(str(path))  # a new process
    assert witness.publish(entry(config, leaves, 9), _from(leaves))
    reading = witness.read(config.signer.public)
    assert reading.problems == [] and [e.size for e in reading.entries] == [4, 9]
    assert reading.notes == [f"{path}: line 2 is a write cut short (a crash?)"]


# -- the consistency check at write time -----------------------------------------------------------
def entry(config: AuditConfig, leaves: list[bytes], size: int) -> WitnessEntry:
    tree = CompactRange()
    tree.extend(leaves[:size])
    cp = sign(config.signer, config.log_id, size, tree.root(), 1_790_000_000_000_000 + size)
    return WitnessEntry(cp, tuple(tree.nodes))


def _from(leaves: list[bytes]) -> Any:
    return lambda lo, hi: leaves[lo:hi]


@pytest.fixture
def pg_table() -> Iterator[str]:
    """A PostgreSQL witness in a schema of its own (search_path in the URL)."""
    schema = f"witness_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{PG}?options=-csearch_path%3D{schema}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.parametrize("kind", ["file", "sqlite", "postgresql"])
def test_a_witness_refuses_what_does_not_extend_what_it_holds(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    config = make_config(tmp_path)
    target = {
        "file": f"file:{tmp_path}/w/{{log}}.jsonl",
        "sqlite": f"sqlite:///{tmp_path}/w/witness.sqlite3",
        "postgresql": request.getfixturevalue("pg_table") if kind == "postgresql" else "",
    }[kind]
    witness = open_witness(parse_witness(target))
    leaves = [leaf_hash(bytes([i])) for i in range(40)]
    other = [leaf_hash(bytes([i, 1])) for i in range(40)]  # another history
    try:
        assert witness.publish(entry(config, leaves, 10), _from(leaves)) is True
        assert witness.publish(entry(config, leaves, 10), _from(leaves)) is False  # held
        assert witness.publish(entry(config, leaves, 7), _from(leaves)) is False  # a prefix
        assert witness.publish(entry(config, leaves, 23), _from(leaves)) is True
        with pytest.raises(WitnessRefused, match="the store was rolled back; records 12–22"):
            witness.publish(entry(config, leaves, 12), _from(leaves[:12]))  # restored backup
        with pytest.raises(WitnessRefused, match="does not extend the one the witness saw at 23"):
            witness.publish(entry(config, other, 30), _from(other))
        with pytest.raises(WitnessRefused, match="differs from the one the witness saw"):
            witness.publish(entry(config, other, 23), _from(other))
        reading = witness.read(config.signer.public)
        assert reading.problems == [] and [e.size for e in reading.entries] == [10, 23]
    finally:
        witness.close()


def test_the_sql_witness_is_insert_only(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    leaves = [leaf_hash(bytes([i])) for i in range(4)]
    witness = SqlWitness(parse_witness(f"sqlite:///{tmp_path}/witness.sqlite3"))
    witness.publish(entry(config, leaves, 4), _from(leaves))
    witness.close()
    conn = sqlite3.connect(tmp_path / "witness.sqlite3")
    for statement in (
        "UPDATE witness_checkpoints SET tree_size = 1",
        "DELETE FROM witness_checkpoints",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="insert-only"):
            conn.execute(statement)
    conn.close()


def test_judge_builds_the_proof_from_the_frontier_and_the_new_leaves_only(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    leaves = [leaf_hash(i.to_bytes(2)) for i in range(1000)]
    asked: list[tuple[int, int]] = []

    def reading(lo: int, hi: int) -> list[bytes]:
        asked.append((lo, hi))
        return leaves[lo:hi]

    assert judge(entry(config, leaves, 977), entry(config, leaves, 1000), reading)
    assert min(lo for lo, _ in asked) >= 977  # never the 977 records already witnessed


# -- when a witness is down ------------------------------------------------------------------------
def test_a_witness_that_is_down_is_retried_and_given_the_latest_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit.publish, "RETRY_FIRST_S", 0.05)
    config = make_config(tmp_path)
    blocker = tmp_path / "w"
    blocker.write_text("a file where the witness's directory should be")
    witness = FileWitness(str(blocker / "c.jsonl"))
    leaves = [leaf_hash(bytes([i])) for i in range(30)]

    class Store:
        def leaves(self, log_id: str, lo: int, hi: int) -> list[bytes]:
            return leaves[lo:hi]

        def close(self) -> None:
            pass

    publisher = WitnessPublisher([witness], lambda: Store(), interval_s=60)  # type: ignore[arg-type,return-value]
    for size in (10, 20):
        e = entry(config, leaves, size)
        publisher.offer(e.checkpoint, CompactRange(size, e.frontier), keep=True)
    deadline = time.monotonic() + 5
    while publisher.states[0].failures < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    state = publisher.states[0]
    assert state.state == "down" and state.failures >= 2 and "cannot open" in str(state.error)
    assert publisher.status()["degraded"] is True
    assert publisher.status()["unwitnessed_size"] == 20
    blocker.unlink()  # the witness is back
    e = entry(config, leaves, 25)
    publisher.offer(e.checkpoint, CompactRange(25, e.frontier), keep=False)  # not kept: idle
    publisher.close()
    reading = witness.read(config.signer.public)
    assert [x.size for x in reading.entries][-1] == 25  # the latest, carrying the others
    assert state.state == "ok"


# -- configuration ---------------------------------------------------------------------------------
def test_a_witness_needs_a_directory_of_its_own(tmp_path: Path) -> None:
    with pytest.raises(AuditConfigError, match="in the audit store's directory"):
        make_config(tmp_path, witnesses=("file:audit/witness.jsonl",))
    with pytest.raises(AuditConfigError, match="in the audit store's directory"):
        make_config(tmp_path, witnesses=("sqlite:///" + str(tmp_path / "audit/w/x.sqlite3"),))
    # a store directly in the data dir: DATA_DIR/witness/ is beside it
    config = make_config(tmp_path, path=Path("trail.db"))
    assert config.witnesses[0].target == str(tmp_path / "witness/checkpoints.jsonl")
    assert make_config(tmp_path, witnesses=()).witnesses == ()


def test_witness_urls_are_checked() -> None:
    assert parse_witness("/var/w/{log}.jsonl") == WitnessSpec(
        "file", "/var/w/{log}.jsonl", "/var/w/{log}.jsonl"
    )
    assert parse_witness("file:///var/w/c.jsonl").target == "/var/w/c.jsonl"
    assert parse_witness("sqlite:///var/w/c.sqlite3").target == "/var/w/c.sqlite3"
    assert parse_witness("postgres://w@db/witness").kind == "postgresql"
    with pytest.raises(ValueError, match="no password in the witness URL"):
        parse_witness("postgresql://w:secret@db/witness")
    with pytest.raises(ValueError, match="a witness is file:PATH"):
        parse_witness("s3://bucket/witness")
    assert log_file_name("gw-1") == "gw-1"
    assert log_file_name("../etc") == "%2E.%2Fetc"


async def test_a_slow_witness_does_not_hold_up_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishing runs in the publisher's thread: a witness that hangs delays no request."""
    release = threading.Event()
    calls: list[int] = []
    publish = FileWitness.publish

    def hanging(self: FileWitness, entry: WitnessEntry, leaves: Any) -> bool:
        calls.append(entry.size)
        release.wait(10)
        return publish(self, entry, leaves)

    monkeypatch.setattr(FileWitness, "publish", hanging)
    config = witnessed_config(tmp_path)
    trail = AuditTrail(config)
    try:
        started = time.monotonic()
        for i in range(30):  # six kept checkpoints while the witness hangs on the first
            await trail.commit(record(i))
        assert time.monotonic() - started < 5
        assert calls == [1]
    finally:
        release.set()
        await trail.aclose()
    lines = witness_lines(config)
    last = WitnessEntry.from_json(orjson.loads(lines[-1]))
    assert last.size == 30 and last.witnessed_us > 0  # the latest, carrying the skipped ones
