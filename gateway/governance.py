"""The gateway's part in governance: who acts (:class:`Official`, the roles governance needs),
the trail's record of a governance action and the change it witnesses (:func:`governed`), for
the command line (commands/official.py) and the console (console/) alike; the record of a
policy bootstrap; the count of break-glass reviews past their deadline for the metrics.

The count is kept in memory and refreshed off the event loop every ``REFRESH_S`` (one small
query), so ``/metrics`` never waits for the governance database and no request queries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.types import AuditRecord, Principal
from policies.db import Database
from policies.review import ReviewQueue

log = logging.getLogger("jointgate.governance")

REFRESH_S = 30.0  # an overdue review shows in the metrics within this much of its deadline

#: the role each kind of governance action needs (docs/cli.md, "Who may run what")
POLICY_ADMIN = "policy-admin"
CASE_ADMIN = "case-admin"
REVIEWER = "reviewer"
AUDITOR = "auditor"


class NotRecorded(ValueError):
    """The governance record could not be appended to the audit trail: nothing was changed."""


@dataclass(frozen=True, slots=True)
class Official:
    """The verified principal acting through a governance command or the console."""

    subject: str
    agency: str
    roles: frozenset[str]
    name: str = ""
    token_id: str = ""
    clearance: int = 0

    @classmethod
    def of(cls, principal: Principal) -> Official:
        return cls(
            subject=principal.subject,
            agency=principal.agency,
            roles=frozenset(principal.roles),
            name=principal.name,
            token_id=principal.token_id,
            clearance=principal.clearance,
        )


def governance_record(
    official: Official,
    action: str,
    details: Mapping[str, Any],
    outcome: str = "ok",
    reason: str = "",
    purpose: str = "governance",
    client: str = "",
) -> AuditRecord:
    """The trail's record of one governance action (docs/audit.md, "Governance records");
    ``client``: where it came from (``cli@HOST`` by default, the console's client address)."""
    variables = {k: v for k, v in details.items() if v is not None}
    if reason:
        variables["refusal"] = reason
    return AuditRecord(
        request_id=uuid.uuid4().hex,
        client=client or f"cli@{socket.gethostname()}",
        subject=official.subject,
        agency=official.agency,
        roles=tuple(sorted(official.roles)),
        purpose=purpose,
        operation_name=action,
        operation_type="governance",
        variables=json.loads(json.dumps(variables, default=str)),
        status=0 if outcome == "ok" else 1,
        outcome=outcome,
        flags=["governance"],
    )


@contextlib.contextmanager
def governed(
    db: Database,
    append: Callable[[str, str], None],
    action: str,
    refusals: tuple[type[Exception], ...] = (ValueError,),
) -> Iterator[None]:
    """Make one change to the governance database in the block, recorded in the trail.

    ``append(outcome, reason)`` appends the action's record (NotRecorded if it cannot). The
    ``ok`` record is appended after the change's statements and before its commit; if it cannot
    be, the change is rolled back (NotRecorded says so). A change refused in the block (one of
    ``refusals``: a team that does not exist, a proposer approving their own proposal ...) is
    recorded as ``refused``, best effort since nothing changed. If the commit fails after the
    record was appended, a ``failed`` record of the same action follows it."""
    appended: list[bool] = []

    def before_commit() -> None:
        append("ok", "")
        appended.append(True)

    try:
        with db.witnessed(before_commit):
            yield
    except NotRecorded as exc:
        raise NotRecorded(f"{exc}; so nothing was changed") from None
    except refusals as exc:
        if not appended:
            with contextlib.suppress(Exception):
                append("refused", str(exc))
        raise
    except Exception as exc:
        if appended:  # recorded as done, but not committed
            with contextlib.suppress(Exception):
                append("failed", str(exc))
        raise
    if not appended:
        # the block changed nothing through a transaction: a bug, not a silent success
        raise NotRecorded(f"{action}: no change was made, so none is recorded")


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
