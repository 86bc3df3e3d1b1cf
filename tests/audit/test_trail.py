"""The gateway's audit log: group commit, durability before return, fail closed, recovery."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from audit.config import AuditConfig
from audit.errors import AuditStoreError
from audit.store import SqlStore
from audit.trail import PROBE_INTERVAL_S, AuditTrail
from audit.verify import verify_store
from tests.audit.conftest import record


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
    """Wraps a store's append and ping so that they raise while ``down`` is set."""

    def __init__(self, store: SqlStore) -> None:
        self.down = False
        self._append, self._ping = store.append, store.ping
        store.append = self.append  # type: ignore[method-assign, assignment]
        store.ping = self.ping  # type: ignore[method-assign, assignment]

    def append(self, *args: Any) -> Any:
        if self.down:
            raise sqlite3.OperationalError("disk I/O error")
        return self._append(*args)

    def ping(self, *args: Any) -> None:
        if self.down:
            raise sqlite3.OperationalError("disk I/O error")
        self._ping(*args)


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
