"""``audit search``, ``export``, ``subject-report``: records found by filter, each read recorded
in the trail before anything is shown."""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Iterator
from typing import IO, Any

from audit.config import AuditConfig
from audit.reader import AuditReader
from audit.store import SqlStore
from audit.tabular import CSV_COLUMNS, csv_row
from commands.audit.common import dumps, option_time, record_read, search_filter


def _returned(row: dict[str, Any]) -> str:
    returned = row.get("records_returned")
    if not isinstance(returned, dict):
        return ""
    return " ".join(
        f"{t}:{len(v) if isinstance(v, list) else v}" for t, v in sorted(returned.items())
    )


def _table(rows: list[dict[str, Any]], out: IO[str]) -> None:
    headers = ["received", "user", "agency", "purpose", "case", "operation", "outcome",
               "status", "records", "request_id"]  # fmt: skip
    lines = [
        [
            str(r["received"])[:19].replace("T", " "),
            str(r["subject"] or "-"),
            str(r["agency"] or "-"),
            str(r["purpose"] or "-"),
            str(r["case_id"] or "-"),
            str(r["operation_name"] or "-"),
            r["outcome"],
            str(r["status"]),
            _returned(r),
            r["request_id"],
        ]
        for r in rows
    ]
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(headers)]
    for line in [headers, *lines]:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        out.write("\n")


def search(
    args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str], err: IO[str]
) -> int:
    f = search_filter(args)
    reader = AuditReader(store, config.key, config.archive_dir)
    rows = reader.search(f, args.limit or None, args.archived)
    record_read(args, config, store, f.as_variables(), rows)
    if args.json:
        for row in rows:
            out.write(dumps(row) + "\n")
    else:
        _table(rows, out)
        out.write(f"{len(rows)} record(s)\n")
    return 0


class Progress:
    """A progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: IO[str], enabled: bool, label: str = "export") -> None:
        self.total, self.stream, self.enabled, self.label = total, stream, enabled, label
        self.done = 0
        self.started = self._last = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.1:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        total = max(self.total, self.done, 1)
        filled = int(30 * self.done / total)
        rate = self.done / max(now - self.started, 1e-9)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {100 * self.done / total:3.0f}%"
            f" {self.done}/{total} {rate:,.0f} records/s"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


def export(
    args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str], err: IO[str]
) -> int:
    f = search_filter(args)
    reader = AuditReader(store, config.key, config.archive_dir)
    record_read(args, config, store, {**f.as_variables(), "format": args.format},
                count=reader.count(f))  # fmt: skip
    total = reader.count(f)
    enabled = args.progress if args.progress is not None else err.isatty()
    progress = Progress(total, err, enabled)
    target = args.out.open("w", newline="") if args.out else out
    try:
        rows: Iterator[dict[str, Any]] = reader.iter_search(f, None, args.archived)
        if args.format == "csv":
            writer = csv.writer(target)
            writer.writerow(CSV_COLUMNS)
            for row in rows:
                writer.writerow(csv_row(row))
                progress.advance()
        else:
            for row in rows:
                target.write(dumps(row) + "\n")
                progress.advance()
    finally:
        progress.close()
        if args.out:
            target.close()
    return 0


def subject_report(
    args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str], err: IO[str]
) -> int:
    # start-up: the schema (strawberry) only for the command that needs it, 0.2 s of the others'
    from schema.audit import field_entities, field_identities
    from schema.unified import build_schema  # start-up: as above

    reader = AuditReader(store, config.key, config.archive_dir)
    catalog = build_schema().catalog
    rows = reader.subject_report(
        args.key, option_time(args.since, "since"), option_time(args.until, "until"),
        entity_of=field_entities(catalog), identities_of=field_identities(catalog),
    )  # fmt: skip
    record_read(args, config, store, {"entity": args.key}, rows)
    if args.json:
        for row in rows:
            out.write(dumps(row) + "\n")
        return 0
    out.write(f"Accesses to {args.key}: {len(rows)}\n")
    for r in rows:
        how = f"shown as {', '.join(r['shown_as'])}" if r["shown_as"] else "looked up"
        out.write(
            f"\n{r['time']}  {r['subject']} ({r['agency']}; {', '.join(r['roles'])})\n"
            f"  why:    {r['purpose']}, case {r['case_id'] or '-'}"
            f"{', BREAK-GLASS' if r['break_glass'] else ''}\n"
            f"  justification: {r['justification'] or '-'}\n"
            f"  what:   {r['operation'] or '-'} ({how}); outcome {r['outcome']}\n"
            f"  fields{_of(r)}: {', '.join(r['fields_allowed']) or '-'}\n"
        )
        if r["fields_masked"]:
            out.write(f"  masked: {', '.join(r['fields_masked'])}\n")
        if r["fields_denied"]:
            out.write(f"  denied: {', '.join(r['fields_denied'])}\n")
        out.write(f"  record: {r['log_id']}:{r['seq']} (request {r['request_id']})\n")
    return 0


def _of(row: dict[str, Any]) -> str:
    return f" of {', '.join(row['fields_of'])}" if isinstance(row["fields_of"], list) else ""
