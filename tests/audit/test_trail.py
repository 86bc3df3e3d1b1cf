"""The gateway's audit log: group commit, durability before return, fail closed, recovery."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest

from audit.config import AuditConfig
from audit.errors import REPORTED_CHARS, AuditStoreError, redacted
from audit.store import SqlStore
from audit.trail import PROBE_INTERVAL_S, AuditTrail
from audit.verify import verify_store
from tests.audit.conftest import WriterRuns, record


def _count(config: AuditConfig) -> int:
    conn = sqlite3.connect(config.settings.path)
    try:
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])
    finally:
        conn.close()


async def test_concurrent_commits_share_transactions(config: AuditConfig) -> None:
    trail = AuditTrail(config)
    await trail.commit(record(0))
    await asyncio.gather(*(trail.commit(record(i)) for i in range(1, 301)))
    assert trail.batches < 301 / 4  # commits waiting together went in together
    await trail.aclose()
    store = config.new_store()
    [report] = verify_store(store, config.signer.public, config.archive_dir)
    assert report.ok and report.records == 301, report.problems
    store.close()


async def test_a_commit_returns_only_once_its_record_is_on_disk(config: AuditConfig) -> None:
    trail = AuditTrail(config)
    for i in range(5):
        await trail.commit(record(i))
        assert _count(config) == i + 1  # visible to another connection: committed
    await trail.aclose()


class Flaky:
    """Wraps a store's append and probe so that they raise while ``down`` is set."""

    def __init__(self, store: SqlStore) -> None:
        self.down = False
        self.error = "disk I/O error"
        self._append, self._probe = store.append, store.probe
        store.append = self.append  # type: ignore[method-assign, assignment]
        store.probe = self.probe  # type: ignore[method-assign, assignment]

    def append(self, *args: Any) -> Any:
        if self.down:
            raise sqlite3.OperationalError(self.error)
        return self._append(*args)

    def probe(self, *args: Any) -> None:
        if self.down:
            raise sqlite3.OperationalError(self.error)
        self._probe(*args)


async def test_failure_raises_reports_unhealthy_and_recovers(
    config: AuditConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("audit.trail.PROBE_INTERVAL_S", 0.05)
    trail = AuditTrail(config)
    flaky = Flaky(trail._store)
    await trail.commit(record(0))
    flaky.down = True
    results = await asyncio.gather(
        *(trail.commit(record(i)) for i in range(1, 4)), return_exceptions=True
    )
    assert all(isinstance(r, AuditStoreError) for r in results)
    assert not trail.healthy
    flaky.down = False
    for _ in range(100):  # the probe notices by itself, without any request
        if trail.healthy:
            break
        await asyncio.sleep(0.02)
    assert trail.healthy
    await trail.commit(record(5))
    await trail.aclose()
    store = config.new_store()
    [report] = verify_store(store, config.signer.public, config.archive_dir)
    assert report.ok and report.records == 2, report.problems  # the tree carried on intact
    store.close()
    assert PROBE_INTERVAL_S == 1.0


async def test_a_closed_trail_refuses(config: AuditConfig) -> None:
    trail = AuditTrail(config)
    await trail.aclose()
    with pytest.raises(AuditStoreError):
        await trail.commit(record())


def _heartbeats(config: AuditConfig) -> list[tuple[str, int]]:
    conn = sqlite3.connect(config.settings.path)
    try:
        return [(str(a), int(b)) for a, b in conn.execute("SELECT * FROM heartbeats")]
    finally:
        conn.close()


async def test_ready_only_once_a_write_is_proven(config: AuditConfig) -> None:
    """A new trail has proven nothing: readiness proves a write first (a heartbeat committed,
    nothing in the log), and asks nothing more of the store while that proof is fresh."""
    trail = AuditTrail(config)
    runs = WriterRuns(trail)
    assert not trail.healthy
    ready = await asyncio.gather(*(trail.readiness() for _ in range(10)))
    assert all(r.ready and r.error is None and r.proven_at for r in ready)
    await runs.next()
    assert _count(config) == 0 and [log_id for log_id, _ in _heartbeats(config)] == ["test-log"]
    await trail.commit(record(0))
    await runs.next()
    assert (await trail.readiness()).ready
    await trail.aclose()  # the store's close: the only other call of the writer thread
    await runs.next()
    assert runs.pending() == 0  # ten readiness checks, one probe


async def test_an_idle_trail_finds_out_by_itself_that_it_cannot_commit(
    config: AuditConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No request fails first: once the last proven write is old, readiness proves a new one."""
    trail = AuditTrail(config)
    await trail.commit(record(0))
    monkeypatch.setattr("audit.trail.PROOF_MAX_AGE_S", 0.0)
    db = sqlite3.connect(config.settings.path, isolation_level=None)
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'x'); END")
    health = await trail.readiness()
    assert not health.ready and not trail.healthy and health.error == "x"
    db.execute("DROP TRIGGER refuse")
    db.close()
    await trail.aclose()
    assert _count(config) == 1


async def test_readiness_waits_for_a_hung_store_only_so_long(
    config: AuditConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("audit.trail.READY_WAIT_S", 0.01)
    trail = AuditTrail(config)
    release = threading.Event()
    probe = trail._store.probe

    def hung(*args: Any) -> None:
        release.wait(10)
        probe(*args)

    monkeypatch.setattr(trail._store, "probe", hung)
    health = await trail.readiness()
    assert not health.ready and health.error == "no write could be proven within 0.01 s"
    release.set()
    monkeypatch.setattr("audit.trail.READY_WAIT_S", 10.0)
    assert (await trail.readiness()).ready  # the same probe, finished
    await trail.aclose()


async def test_the_reported_error_names_no_password(
    config: AuditConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = AuditTrail(config)
    flaky = Flaky(trail._store)
    flaky.error = (
        "connection to postgresql://gw:hunter2@db.internal/jg failed:\n"
        " password=hunter2 host=db.internal; FATAL: password authentication failed"
    )
    flaky.down = True
    with pytest.raises(AuditStoreError):
        await trail.commit(record(0))
    health = await trail.readiness()
    assert health.error == (
        "connection to postgresql://gw:***@db.internal/jg failed: password=*** host=db.internal;"
        " FATAL: password authentication failed"
    )
    assert health.since is not None and health.proven_at is None
    await trail.aclose()


def test_redacted_hides_the_stores_own_secrets_and_keeps_messages_short() -> None:
    assert redacted("auth failed for 'pa ss'", ["pa ss"]) == "auth failed for '***'"
    assert redacted("password = 'a b\\' c' user=x") == "password = *** user=x"
    long = redacted("x" * 1000)
    assert len(long) == REPORTED_CHARS and long.endswith("…")
