"""The readiness probe: an append's transaction run up to a savepoint and rolled back, then the
log's heartbeat committed; proves the store can append without appending."""

from __future__ import annotations

from typing import Any

from audit.store.batch import Build, now_us
from audit.store.writing import Writing


class Probe(Writing):
    """Proving an append would commit (``/readyz``)."""

    def probe(self, log_id: str, build: Build) -> None:
        """Prove that an append would commit now, without appending: the append's transaction
        (the log's lock, its head, the batch ``build`` makes on it inserted as an append inserts
        it, so that every trigger and constraint an append meets is met) up to a savepoint that
        is rolled back, then the log's heartbeat row written and committed as an append commits
        (same connection, same durability). Raises while the store cannot append; the log and
        its head are left as they were."""

        def write(conn: Any) -> None:
            conn.execute("SAVEPOINT probe")
            self._insert(conn, log_id, build(self._head(conn, log_id)))
            conn.execute("ROLLBACK TO SAVEPOINT probe")
            conn.execute(
                self.sql(
                    "INSERT INTO {heartbeats} (log_id, written_us) VALUES (?, ?)"
                    " ON CONFLICT (log_id) DO UPDATE SET written_us = excluded.written_us"
                ),
                (log_id, now_us()),
            )

        self._transact(log_id, write)
