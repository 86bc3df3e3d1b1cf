"""Stage 6, audit-commit: one record per request, durable before the response leaves.

Producing the record (every stage adds to ``ctx.audit``) and storing it are separate roles, as
OpenTelemetry separates span processors from exporters; unlike telemetry, the commit is
synchronous and fail-closed: if :meth:`AuditLog.commit` raises, the client gets 503 and no data.

This module holds the contract and two simple logs: an in-memory one for tests and an
append-only JSON-lines file with fsync. The tamper-evident store (hash chain, Merkle
checkpoints, PostgreSQL) is issue #4.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Protocol

import orjson

from gateway.types import AuditRecord


class AuditLog(Protocol):
    async def commit(self, record: AuditRecord) -> None:
        """Store the record durably, or raise."""

    @property
    def healthy(self) -> bool:
        """False after a failed commit until a later commit succeeds (drives /readyz)."""

    async def aclose(self) -> None: ...


class MemoryAuditLog:
    """Keeps records in a list; ``fail`` makes every commit raise (for fail-closed tests)."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self.fail = False

    @property
    def healthy(self) -> bool:
        return not self.fail

    async def commit(self, record: AuditRecord) -> None:
        if self.fail:
            raise OSError("audit store unavailable (test switch)")
        self.records.append(record)

    async def aclose(self) -> None:
        return None


class JsonlAuditLog:
    """Appends one JSON line per record and fsyncs before returning."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._lock = asyncio.Lock()
        self.healthy = True

    async def commit(self, record: AuditRecord) -> None:
        line = orjson.dumps(record.as_dict()) + b"\n"
        async with self._lock:
            try:
                await asyncio.to_thread(self._append, line)
            except OSError:
                self.healthy = False
                raise
            self.healthy = True

    def _append(self, line: bytes) -> None:
        os.write(self._fd, line)
        os.fsync(self._fd)

    async def aclose(self) -> None:
        os.close(self._fd)
