"""``audit archive``: records older than the retention period moved to archive files."""

from __future__ import annotations

import argparse
from typing import IO

from audit.archive import archive_all
from audit.config import AuditConfig
from audit.store import SqlStore, now_us
from commands.audit.common import actor, dumps


def archive(
    args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str], err: IO[str]
) -> int:
    days = args.older_than_days if args.older_than_days is not None else config.retention_days
    cutoff_now = now_us() - (days - config.retention_days) * 86_400 * 10**6
    results = archive_all(config, store, cutoff_now, actor=actor(args))
    for result in results:
        if args.json:
            out.write(dumps(result.as_json()) + "\n")
        elif result.entry is None:
            out.write(f"log {result.log_id}: nothing older than {days} days\n")
        else:
            e = result.entry
            out.write(
                f"log {result.log_id}: records {e.first_seq}..{e.end_seq - 1} moved to"
                f" {result.path} (sha256 {e.sha256[:16]}…)\n"
            )
    return 0
