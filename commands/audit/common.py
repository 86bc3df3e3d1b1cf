"""What every audit command shares: its errors, the options' values, JSON out, and the record
of its own read that a command appends before it shows anything."""

from __future__ import annotations

import argparse
import getpass
import socket
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from audit.append import append_records
from audit.config import AuditConfig
from audit.reader import SearchFilter, parse_time
from audit.store import SqlStore
from kernel.types import AuditRecord

MAX_RETURNED_IN_RECORD = 1000


class CliError(Exception):
    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def actor(args: argparse.Namespace) -> str:
    """Who is reading: the verified official (``--token``, set by :mod:`commands.audit.run`),
    else, for the commands that show no record (verify, checkpoint, consistency, archive), the
    operating-system account running them."""
    official = getattr(args, "official", None)
    if official is not None:
        return str(official.subject)
    try:
        return f"os:{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return f"os:unknown@{socket.gethostname()}"


def read_note(
    args: argparse.Namespace, variables: dict[str, Any], rows: Iterable[dict[str, Any]] = (),
    count: int | None = None,
) -> AuditRecord:  # fmt: skip
    """The record of this command's read of the trail: who, which filters, which records."""
    shown = [f"{r['log_id']}:{r['seq']}" for r in rows]
    official = getattr(args, "official", None)
    note = AuditRecord(
        request_id=uuid.uuid4().hex,
        client=f"cli@{socket.gethostname()}",
        subject=actor(args),
        agency=official.agency if official is not None else None,
        roles=tuple(sorted(official.roles)) if official is not None else (),
        purpose="audit",
        operation_name=f"audit.{args.audit_command}",
        operation_type="governance",
        variables={k: v for k, v in variables.items() if v is not None},
        status=0,
        outcome="ok",
        response_size=count if count is not None else len(shown),
        flags=["cli-read"],
    )
    for key in shown[:MAX_RETURNED_IN_RECORD]:
        note.saw("AuditRecord", key)
    return note


def record_read(
    args: argparse.Namespace, config: AuditConfig, store: SqlStore, variables: dict[str, Any],
    rows: Iterable[dict[str, Any]] = (), count: int | None = None,
) -> None:  # fmt: skip
    """Append the record of this read before anything is shown; fail closed."""
    try:
        append_records(config, store, [read_note(args, variables, rows, count)])
    except Exception as exc:
        raise CliError(
            f"cannot record this read in the audit trail, so nothing is shown: {exc}", 3
        ) from exc


def option_time(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise CliError(f"--{name}: {exc}") from None


def search_filter(args: argparse.Namespace) -> SearchFilter:
    return SearchFilter(
        user=args.user, agency=args.agency, purpose=args.purpose, case=args.case,
        entity=args.entity, outcome=args.outcome, since_us=option_time(args.since, "since"),
        until_us=option_time(args.until, "until"), log_id=args.log, request_id=args.request_id,
    )  # fmt: skip


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def write_json(document: Any, path: Path | None, out: IO[str]) -> None:
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    if path is None:
        out.write(text)
    else:
        path.write_text(text)
