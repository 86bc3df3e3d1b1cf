"""SQLite writers in several processes (gateway workers, the CLI) take turns on a lock file
beside the database instead of SQLite's busy handler, which sleeps up to 100 ms at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from audit import sqlite
from audit.errors import AuditStoreError
from audit.sqlite import SqliteStore
from audit.trail import append_records
from tests.audit.conftest import make_config, record


def test_a_second_writer_waits_for_the_first_and_goes_on_at_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first, second = config.new_store(), config.new_store()
    assert isinstance(first, SqliteStore)
    first.create_schema()
    append_records(config, first, [record(0)])
    conn = first.connection()
    first._begin_append(conn, config.log_id)  # holds the writers' lock, as mid-transaction
    done: list[float] = []

    def write() -> None:
        append_records(config, second, [record(1)])
        done.append(time.monotonic())

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.3)
    assert not done  # waiting
    released = time.monotonic()
    first._commit()
    writer.join(timeout=10)
    assert done and done[0] - released < 0.05  # not one of SQLite's 100 ms naps
    assert second.count(config.log_id) == 2
    first.close()
    second.close()


def test_a_writer_that_never_lets_go_fails_the_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "LOCK_TIMEOUT_S", 0.2)
    config = make_config(tmp_path)
    first, second = config.new_store(), config.new_store()
    first.create_schema()
    first._begin_append(first.connection(), config.log_id)
    with pytest.raises(AuditStoreError, match="another writer has held the audit trail"):
        append_records(config, second, [record(0)])
    first._rollback()
    append_records(config, second, [record(0)])  # free again
    first.close()
    second.close()
