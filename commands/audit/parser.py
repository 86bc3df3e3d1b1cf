"""The ``jointgate audit`` command line: its subcommands and their options (argparse only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path(".jointgate")


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
        "--token", metavar="TOKEN",
        help="the auditor's access token (default: $JOINTGATE_TOKEN): search, export,"
        " subject-report and prove need one with the role auditor; verify, checkpoint,"
        " consistency and archive record it if given, else the OS user",
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
    verify.add_argument(
        "--witness", action="append", default=[], metavar="URL",
        help="check the store against this witness (file:PATH, sqlite:///PATH,"
        " postgresql://...) instead of audit.witnesses; repeatable",
    )  # fmt: skip
    verify.add_argument(
        "--no-witness", action="store_true",
        help="do not check against any witness (a restored backup or a rolled-back log then"
        " verifies)",
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


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number >= 1, got {text!r}")
    return value
