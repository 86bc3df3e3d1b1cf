"""``jointgate audit ...``: verify the trail, prove records, search it, report on a subject.

Every command that reads records (search, export, subject-report, prove) first appends a record
of that read to the trail itself (purpose ``audit``, the OS user or ``--as``), and prints
nothing if it cannot: reading the trail is audited like any other access. ``verify`` reports
first and records its read after; if that record cannot be appended it says so and why.
``check-proof`` needs no database at all.

Exit status: 0 all good, 1 verification or proof failed (whether or not verify could record
its read), 2 usage or configuration error, 3 the store is unavailable (or the read could
not be recorded).
"""

from __future__ import annotations

import argparse
import csv
import getpass
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from audit.checkpoint import Checkpoint
from audit.config import AuditConfig, AuditSettings, load_config
from audit.errors import AuditError, ProofError
from audit.keys import load_public_key
from audit.reader import AuditReader, SearchFilter, parse_time
from audit.replay import default_workers
from audit.store import SqlStore
from audit.append import append_records
from audit.verify import (
    check_proof,
    consistency_proof,
    find_checkpoint,
    inclusion_proof,
    verify_queries,
    verify_store,
)
from gateway.settings import load_audit
from kernel.config import ConfigError
from kernel.types import AuditRecord

DEFAULT_DATA_DIR = Path(".jointgate")
MAX_RETURNED_IN_RECORD = 1000
CSV_COLUMNS = [
    "log_id", "seq", "time", "received", "request_id", "subject", "agency", "roles", "purpose",
    "case_id", "justification", "break_glass", "operation_name", "operation_type", "outcome",
    "status", "error_codes", "fields_requested", "fields_allowed", "fields_masked",
    "fields_denied", "fields_withheld", "field_policies", "records_returned", "looked_up",
    "variables", "flags", "agency_calls", "policy_version", "response_size", "response_sha256",
    "latency_ms", "client", "trace_id",
]  # fmt: skip


class CliError(Exception):
    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


# -- the parser ------------------------------------------------------------------------------
def _store_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR,
        help="the gateway's data dir (store, keys, archive); default .jointgate",
    )  # fmt: skip
    common.add_argument(
        "--config", type=Path, help="jointgate.toml: its [audit] table and gateway.data_dir"
    )
    common.add_argument(
        "--as", dest="actor", metavar="WHO",
        help="who is reading, for the record of this read (default: the OS user)",
    )  # fmt: skip
    return common


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", help="the official who asked (token subject)")
    parser.add_argument("--agency", help="the official's agency")
    parser.add_argument("--purpose", help="declared purpose, e.g. investigation")
    parser.add_argument("--case", help="case id (matched through its keyed hash)")
    parser.add_argument(
        "--entity", metavar="KEY",
        help="a record key shown or looked up: USCC, resident ID, account or case number",
    )  # fmt: skip
    parser.add_argument("--outcome", help="ok, partial, failed or refused")
    parser.add_argument("--since", help="received at or after (ISO date or time; UTC if no zone)")
    parser.add_argument("--until", help="received before (ISO date or time)")
    parser.add_argument("--log", help="only this log (replica)")
    parser.add_argument("--request-id", help="one request")
    parser.add_argument("--archived", action="store_true", help="search the archive files too")


def populate(audit: argparse.ArgumentParser) -> None:
    """Add the audit subcommands to ``audit`` (``jointgate audit``, or ``-m commands.audit``)."""
    common = _store_options()
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")

    verify = commands.add_parser(
        "verify", parents=[common], help="recompute every log and check it against checkpoints"
    )
    verify.add_argument(
        "--checkpoint", type=Path, action="append", default=[], metavar="FILE",
        help="a checkpoint held elsewhere (from 'audit checkpoint'); repeatable",
    )  # fmt: skip
    verify.add_argument("--public-key", type=Path, help="the signer's public key (default: ours)")
    verify.add_argument("--log", action="append", help="only this log; repeatable")
    verify.add_argument("--json", action="store_true", help="one JSON object per log")
    verify.add_argument(
        "--no-index", action="store_true",
        help="skip the check that search columns and blind index match the bodies",
    )  # fmt: skip
    verify.add_argument(
        "--workers", type=_positive, default=None, metavar="N",
        help="processes checking a large log's records in parallel (default: the cores)",
    )  # fmt: skip

    checkpoint = commands.add_parser(
        "checkpoint",
        parents=[common],
        help="print a log's latest signed checkpoint (keep it elsewhere)",
    )
    checkpoint.add_argument("--log", help="the log (default: this host's)")
    checkpoint.add_argument("--out", type=Path, help="write it to FILE")

    prove = commands.add_parser(
        "prove", parents=[common], help="an inclusion proof of one record against a checkpoint"
    )
    prove.add_argument("record", metavar="RECORD_ID", help="request id, or LOG:SEQ")
    prove.add_argument("--size", type=int, help="against the kept checkpoint of this size")
    prove.add_argument("--out", type=Path, help="write the proof to FILE (default: stdout)")

    check = commands.add_parser(
        "check-proof", help="verify an inclusion or consistency proof offline (no database)"
    )
    check.add_argument("file", type=Path)
    check.add_argument("--public-key", type=Path, help="the signer's public key (PEM or base64)")

    consistency = commands.add_parser(
        "consistency", parents=[common],
        help="a consistency proof: an older checkpoint is a prefix of a newer one",
    )  # fmt: skip
    consistency.add_argument("--log", help="the log (default: the checkpoint file's, or ours)")
    consistency.add_argument(
        "--old",
        required=True,
        metavar="SIZE|FILE",
        help="tree size of a kept checkpoint, or a file",
    )
    consistency.add_argument("--new", metavar="SIZE|FILE", help="default: the latest signed head")
    consistency.add_argument("--out", type=Path, help="write the proof to FILE")

    search = commands.add_parser("search", parents=[common], help="find records")
    _filters(search)
    search.add_argument("--limit", type=int, default=100, help="at most N rows (0: all)")
    search.add_argument("--json", action="store_true", help="one JSON object per line")

    export = commands.add_parser("export", parents=[common], help="write records to JSONL or CSV")
    _filters(export)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--out", type=Path, help="output file (default: stdout)")
    export.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )  # fmt: skip

    report = commands.add_parser(
        "subject-report", parents=[common],
        help="every access to one person's or enterprise's data: who, when, why, which fields",
    )  # fmt: skip
    report.add_argument("key", metavar="KEY", help="resident ID, USCC, account or case number")
    report.add_argument("--since")
    report.add_argument("--until")
    report.add_argument("--json", action="store_true", help="one JSON object per line")

    archive = commands.add_parser(
        "archive", parents=[common], help="move records older than the retention period to archives"
    )
    archive.add_argument("--older-than-days", type=int, help="default: audit.retention_days")
    archive.add_argument("--json", action="store_true")


def add_commands(subparsers: Any) -> None:
    """Add ``audit`` and its subcommands to the ``jointgate`` command line."""
    audit = subparsers.add_parser(
        "audit", help="the audit trail: verify, prove, search, subject reports, retention"
    )
    populate(audit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jointgate audit", description="The evidence-grade audit trail (docs/audit.md)."
    )
    populate(parser)
    return parser


# -- running ----------------------------------------------------------------------------------
def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    command = args.audit_command
    try:
        if command == "check-proof":
            return _check_proof(args, out)
        config = _config(args)
        store = config.new_store()
        try:
            store.create_schema()
            handler = {
                "verify": _verify, "checkpoint": _checkpoint, "prove": _prove,
                "consistency": _consistency, "search": _search, "export": _export,
                "subject-report": _subject_report, "archive": _archive,
            }[command]  # fmt: skip
            return handler(args, config, store, out, err)
        finally:
            store.close()
    except CliError as exc:
        print(f"jointgate audit {command}: {exc}", file=err)
        return exc.status
    except (ConfigError, ProofError) as exc:
        print(f"jointgate audit {command}: {exc}", file=err)
        return 2
    except AuditError as exc:
        print(f"jointgate audit {command}: {exc}", file=err)
        return 1
    except Exception as exc:  # the store: sqlite3 / psycopg errors
        print(f"jointgate audit {command}: the audit store is unavailable: {exc}", file=err)
        return 3


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def _config(args: argparse.Namespace) -> AuditConfig:
    if args.config is not None:
        settings, data_dir = load_audit(args.config)
    else:
        settings, data_dir = AuditSettings(), args.data_dir
    return load_config(settings, data_dir)


def _actor(args: argparse.Namespace) -> str:
    if getattr(args, "actor", None):
        return str(args.actor)
    try:
        return f"os:{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return f"os:unknown@{socket.gethostname()}"


def _read_note(
    args: argparse.Namespace, variables: dict[str, Any], rows: Iterable[dict[str, Any]] = (),
    count: int | None = None,
) -> AuditRecord:  # fmt: skip
    """The record of this command's read of the trail: who, which filters, which records."""
    shown = [f"{r['log_id']}:{r['seq']}" for r in rows]
    note = AuditRecord(
        request_id=uuid.uuid4().hex,
        client=f"cli@{socket.gethostname()}",
        subject=_actor(args),
        purpose="audit",
        operation_name=f"audit {args.audit_command}",
        operation_type="cli",
        variables={k: v for k, v in variables.items() if v is not None},
        status=0,
        outcome="ok",
        response_size=count if count is not None else len(shown),
        flags=["cli-read"],
    )
    for key in shown[:MAX_RETURNED_IN_RECORD]:
        note.saw("AuditRecord", key)
    return note


def _record_read(
    args: argparse.Namespace, config: AuditConfig, store: SqlStore, variables: dict[str, Any],
    rows: Iterable[dict[str, Any]] = (), count: int | None = None,
) -> None:  # fmt: skip
    """Append the record of this read before anything is shown; fail closed."""
    try:
        append_records(config, store, [_read_note(args, variables, rows, count)])
    except Exception as exc:
        raise CliError(
            f"cannot record this read in the audit trail, so nothing is shown: {exc}", 3
        ) from exc


def _time(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise CliError(f"--{name}: {exc}") from None


def _search_filter(args: argparse.Namespace) -> SearchFilter:
    return SearchFilter(
        user=args.user, agency=args.agency, purpose=args.purpose, case=args.case,
        entity=args.entity, outcome=args.outcome, since_us=_time(args.since, "since"),
        until_us=_time(args.until, "until"), log_id=args.log, request_id=args.request_id,
    )  # fmt: skip


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number >= 1, got {text!r}")
    return value


def _write_json(document: Any, path: Path | None, out: IO[str]) -> None:
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    if path is None:
        out.write(text)
    else:
        path.write_text(text)


# -- commands -----------------------------------------------------------------------------------
def _verify(args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str],
            err: IO[str]) -> int:  # fmt: skip
    """Verify, report, then record the read. Unlike the other reads, the report is shown even
    when its record cannot be appended: it holds no personal data, and the tampering it finds
    (records inserted past the signed head) is exactly what makes the append fail."""
    public = load_public_key(args.public_key) if args.public_key else config.signer.public
    held = [_checkpoint_file(p) for p in args.checkpoint]
    workers = args.workers or default_workers()
    reports = verify_store(
        store, public, config.archive_dir, held, args.log, not args.no_index, workers
    )
    query_problems = verify_queries(store, config.key)
    for report in reports:
        if args.json:
            out.write(_dumps(report.as_json()) + "\n")
            continue
        rate = report.records / report.seconds if report.seconds else 0.0
        status = "ok" if report.ok else "FAILED"
        out.write(
            f"log {report.log_id}: {status}: {report.records} records"
            f" ({report.archived} archived), {report.checkpoints} checkpoints"
            f" + {report.external} held elsewhere, root {report.root[:16]}…,"
            f" {report.seconds:.2f} s ({rate:,.0f} records/s)\n"
        )
        for problem in report.problems:
            out.write(f"  first problem: {problem}\n")
    for problem in query_problems:
        out.write(f"queries: {problem}\n")
    if not reports:
        out.write("no logs\n")
    out.flush()
    total = sum(r.records for r in reports)
    note = _read_note(args, {"logs": ",".join(r.log_id for r in reports)}, count=total)
    recorded = True
    try:
        append_records(config, store, [note])
    except Exception as exc:
        recorded = False
        print(
            f"jointgate audit verify: this verification could not be recorded in the audit"
            f" trail: {exc}",
            file=err,
        )
    if not all(r.ok for r in reports) or query_problems:
        return 1
    return 0 if recorded else 3


def _checkpoint_file(path: Path) -> Checkpoint:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CliError(f"{path}: cannot read a checkpoint: {exc}") from None
    return Checkpoint.from_json(data.get("checkpoint", data) if isinstance(data, dict) else data)


def _checkpoint(args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str],
                err: IO[str]) -> int:  # fmt: skip
    cp = find_checkpoint(store, args.log or config.log_id, None)
    _write_json(cp.as_json(), args.out, out)
    return 0


def _locate(store: SqlStore, record: str) -> tuple[str, int, bytes]:
    log_id, _, seq = record.rpartition(":")
    if log_id and seq.isdigit():
        rows = list(store.bodies("r.log_id = ? AND r.seq = ?", [log_id, int(seq)], 1))
    else:
        rows = list(store.bodies("r.request_id = ?", [record], 2))
    if not rows:
        raise CliError(f"no record {record!r} in the database (archived records: use LOG:SEQ)", 1)
    if len(rows) > 1:
        raise CliError(f"several records have request id {record!r}; use LOG:SEQ", 1)
    return rows[0]


def _locate_archived(store: SqlStore, config: AuditConfig, record: str) -> tuple[str, int, bytes]:
    from audit.archive import read_archive

    log_id, _, seq_text = record.rpartition(":")
    seq = int(seq_text)
    for entry in store.archives(log_id):
        if entry.first_seq <= seq < entry.end_seq:
            _header, bodies = read_archive(config.archive_dir / entry.file)
            for i, body in enumerate(bodies, start=entry.first_seq):
                if i == seq:
                    return log_id, seq, body
    raise CliError(f"no record {record!r}", 1)


def _prove(args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str],
           err: IO[str]) -> int:  # fmt: skip
    try:
        log_id, seq, body = _locate(store, args.record)
    except CliError:
        log_id, _, seq_text = args.record.rpartition(":")
        if not (log_id and seq_text.isdigit()):
            raise
        log_id, seq, body = _locate_archived(store, config, args.record)
    checkpoint = find_checkpoint(store, log_id, args.size)
    proof = inclusion_proof(
        store, log_id, seq, body, config.archive_dir, config.signer.public, checkpoint
    )
    _record_read(args, config, store, {"record": args.record},
                 [{"log_id": log_id, "seq": seq}])  # fmt: skip
    _write_json(proof, args.out, out)
    return 0


def _check_proof(args: argparse.Namespace, out: IO[str]) -> int:
    try:
        document = orjson.loads(args.file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CliError(f"{args.file}: cannot read a proof: {exc}") from None
    public = load_public_key(args.public_key) if args.public_key else None
    result = check_proof(document, public)
    for note in result.notes:
        out.write(f"note: {note}\n")
    if result.ok:
        if document["type"].endswith("inclusion/v1"):
            cp = document["checkpoint"]
            out.write(
                f"ok: record {document['seq']} (request {document['request_id']}) is in log"
                f" {document['log_id']} as signed at {cp['time']} over {cp['tree_size']} records\n"
            )
        else:
            out.write(
                f"ok: log {document['log_id']} at {document['old']['tree_size']} records is a"
                f" prefix of the log at {document['new']['tree_size']} records\n"
            )
        return 0
    for problem in result.problems:
        out.write(f"FAILED: {problem}\n")
    return 1


def _size_or_file(store: SqlStore, log_id: str, value: str | None) -> Checkpoint:
    if value is None:
        return find_checkpoint(store, log_id, None)
    if value.isdigit():
        return find_checkpoint(store, log_id, int(value))
    return _checkpoint_file(Path(value))


def _consistency(args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str],
                 err: IO[str]) -> int:  # fmt: skip
    log_id = args.log
    if log_id is None:
        log_id = config.log_id
        if not args.old.isdigit():
            log_id = _checkpoint_file(Path(args.old)).log_id
    old = _size_or_file(store, log_id, args.old)
    new = _size_or_file(store, log_id, args.new)
    if old.log_id != log_id or new.log_id != log_id:
        raise CliError("both checkpoints must be of the same log")
    proof = consistency_proof(store, log_id, old, new, config.archive_dir, config.signer.public)
    _write_json(proof, args.out, out)
    return 0


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


def _search(args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str],
            err: IO[str]) -> int:  # fmt: skip
    f = _search_filter(args)
    reader = AuditReader(store, config.key, config.archive_dir)
    rows = reader.search(f, args.limit or None, args.archived)
    _record_read(args, config, store, f.as_variables(), rows)
    if args.json:
        for row in rows:
            out.write(_dumps(row) + "\n")
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


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return _dumps(value)
    return str(value)


def _export(args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str],
            err: IO[str]) -> int:  # fmt: skip
    f = _search_filter(args)
    reader = AuditReader(store, config.key, config.archive_dir)
    _record_read(args, config, store, {**f.as_variables(), "format": args.format},
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
                writer.writerow([_csv_value(row.get(c)) for c in CSV_COLUMNS])
                progress.advance()
        else:
            for row in rows:
                target.write(_dumps(row) + "\n")
                progress.advance()
    finally:
        progress.close()
        if args.out:
            target.close()
    return 0


def _subject_report(args: argparse.Namespace, config: AuditConfig, store: SqlStore,
                    out: IO[str], err: IO[str]) -> int:  # fmt: skip
    from schema.audit import field_entities, field_identities
    from schema.unified import build_schema

    reader = AuditReader(store, config.key, config.archive_dir)
    catalog = build_schema().catalog
    rows = reader.subject_report(
        args.key, _time(args.since, "since"), _time(args.until, "until"),
        entity_of=field_entities(catalog), identities_of=field_identities(catalog),
    )  # fmt: skip
    _record_read(args, config, store, {"entity": args.key}, rows)
    if args.json:
        for row in rows:
            out.write(_dumps(row) + "\n")
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


def _archive(args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str],
             err: IO[str]) -> int:  # fmt: skip
    from audit.archive import archive_all
    from audit.store import now_us

    days = args.older_than_days if args.older_than_days is not None else config.retention_days
    cutoff_now = now_us() - (days - config.retention_days) * 86_400 * 10**6
    results = archive_all(config, store, cutoff_now, actor=_actor(args))
    for result in results:
        if args.json:
            out.write(_dumps(result.as_json()) + "\n")
        elif result.entry is None:
            out.write(f"log {result.log_id}: nothing older than {days} days\n")
        else:
            e = result.entry
            out.write(
                f"log {result.log_id}: records {e.first_seq}..{e.end_seq - 1} moved to"
                f" {result.path} (sha256 {e.sha256[:16]}…)\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
