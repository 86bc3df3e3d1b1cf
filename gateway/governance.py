"""The gateway's part in governance: the record of a policy bootstrap in the audit trail, and
the count of break-glass reviews past their deadline for the metrics.

The count is kept in memory and refreshed off the event loop every ``REFRESH_S`` (one small
query), so ``/metrics`` never waits for the governance database and no request queries it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from kernel.types import AuditRecord
from policies.review import ReviewQueue

log = logging.getLogger("jointgate.governance")

REFRESH_S = 30.0  # an overdue review shows in the metrics within this much of its deadline


def bootstrap_record(version: str, directory: Path, by: str) -> AuditRecord:
    """The governance record of a replica putting its own policy set in force at its first
    start against an empty governance database (policies/reload.py, ``bootstrap``)."""
    return AuditRecord(
        request_id=f"policy-bootstrap-{version}-{int(time.time())}",
        subject=by,
        purpose="governance",
        operation_name="policy.bootstrap",
        operation_type="governance",
        variables={"version": version, "dir": str(directory)},
        outcome="ok",
        flags=["governance"],
    )


class OverdueReviews:
    """How many break-glass accesses are past their review deadline, as last counted."""

    def __init__(self, queue: ReviewQueue, deadline_s: float) -> None:
        self.queue = queue
        self.deadline_s = deadline_s
        self.count: int | None = None
        self.counted_at = 0.0

    def refresh(self, now: float | None = None) -> int:
        self.count = self.queue.overdue(self.deadline_s, now)
        self.counted_at = time.time()
        return self.count

    async def refresh_forever(self, every_s: float = REFRESH_S) -> None:
        while True:
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as exc:  # the database away: the last count stays, marked stale
                log.warning("could not count the overdue break-glass reviews: %s", exc)
            await asyncio.sleep(every_s)
