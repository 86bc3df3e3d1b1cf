"""The audit log contract: one record per request, durable before the response leaves.

Producing the record (every stage adds to ``ctx.audit``) and storing it are separate roles, as
OpenTelemetry separates span processors from exporters; unlike telemetry, the commit is
synchronous and fail-closed: if :meth:`AuditLog.commit` raises, the client gets 503 and no data.

This module holds the contract the pipeline commits through (``gateway/pipeline.py``) and an
in-memory log for tests; :class:`audit.trail.AuditTrail` is the tamper-evident implementation
(Merkle tree, signed checkpoints, encrypted personal data, SQLite or PostgreSQL; docs/audit.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from kernel.types import AuditRecord


@dataclass(frozen=True, slots=True)
class AuditHealth:
    """Whether the log can commit, as ``/readyz`` reports it (``checks.audit_store``)."""

    ready: bool
    since: float | None = None  # Unix time the log became ready, or not ready
    error: str | None = None  # why not ready: the store's last error, secrets redacted
    proven_at: float | None = None  # Unix time of the last write proven (a commit or a probe)

    def report(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "since": self.since,
            "error": self.error,
            "proven_at": self.proven_at,
        }


class AuditLog(Protocol):
    async def commit(self, record: AuditRecord) -> None:
        """Store the record durably, or raise."""

    @property
    def healthy(self) -> bool:
        """True once a write committed (a record or a probe) and none failed since."""

    async def readiness(self) -> AuditHealth:
        """For /readyz: ready only on a committed write, proven afresh if none was lately."""

    async def aclose(self) -> None: ...


class MemoryAuditLog:
    """Keeps records in a list; ``fail`` makes every commit raise (for fail-closed tests)."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self.fail = False

    @property
    def healthy(self) -> bool:
        return not self.fail

    async def readiness(self) -> AuditHealth:
        if self.fail:
            return AuditHealth(False, error="audit store unavailable (test switch)")
        return AuditHealth(True)

    async def commit(self, record: AuditRecord) -> None:
        if self.fail:
            raise OSError("audit store unavailable (test switch)")
        self.records.append(record)

    async def aclose(self) -> None:
        return None
