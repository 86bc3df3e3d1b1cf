"""What the console's governance and audit pages share: reading the governance database in a
worker thread (a handle of its own, as :func:`console.web.governed` changes it), and times as
the command line prints them (UTC, to the second)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import TypeVar, cast

from starlette.requests import Request

from audit.reader import AuditReader
from console.web import console
from policies.db import Database

T = TypeVar("T")


async def read_governance(request: Request, read: Callable[[Database], T]) -> T:
    """``read(db)`` over the gateway's governance database, in a worker thread."""
    url = console(request).gateway.settings.governance_url

    def run() -> T:
        db = Database(url)
        try:
            return read(db)
        finally:
            db.close()

    return await asyncio.to_thread(run)


def when(value: float | None) -> str:
    """Seconds since the epoch as ``2026-12-08 09:30:00 UTC``; "-" for none."""
    if value is None:
        return "-"
    return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class NoReader(Exception):
    """The gateway's audit log is not a trail that can be read here (a memory log in tests)."""


def trail_reader(request: Request) -> Callable[[], AuditReader]:
    """How to open a reader over the trail the gateway writes (``gateway.audit.reader``), or
    :class:`NoReader`."""
    opener = getattr(console(request).gateway.audit, "reader", None)
    if opener is None or not callable(opener):
        raise NoReader("the audit trail cannot be read here")
    return cast(Callable[[], AuditReader], opener)


async def read_trail(request: Request, read: Callable[[AuditReader], T]) -> T:
    """``read(reader)`` over the gateway's trail in a worker thread (a connection of its own,
    closed after); :class:`NoReader` if it has none."""
    opener = trail_reader(request)

    def run() -> T:
        reader = opener()
        try:
            return read(reader)
        finally:
            reader.store.close()

    return await asyncio.to_thread(run)
