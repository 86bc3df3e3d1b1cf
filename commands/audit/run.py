"""Running ``jointgate audit``: the trail's configuration, its store, and the command asked for,
with the exit statuses of :mod:`commands.audit`."""

from __future__ import annotations

import argparse
import sys
from typing import IO

from audit.config import AuditConfig, AuditSettings, load_config
from audit.errors import AuditError, ProofError
from commands.audit.common import CliError
from commands.audit.parser import build_parser
from commands.audit.proofs import check_proof, checkpoint, consistency, prove, verify
from commands.audit.reads import export, search, subject_report
from commands.audit.retention import archive
from commands.official import NotPermitted, acting, token_given
from gateway.governance import AUDITOR, Official
from gateway.settings import load_audit
from kernel.config import ConfigError

#: the commands that show records (or a record, in a proof): only to a verified auditor
SHOWS_RECORDS = ("search", "export", "subject-report", "prove")


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    command = args.audit_command
    try:
        if command == "check-proof":
            return check_proof(args, out)
        args.official = _official(args)
        config = _config(args)
        store = config.new_store()
        try:
            store.create_schema()
            handler = {
                "verify": verify, "checkpoint": checkpoint, "prove": prove,
                "consistency": consistency, "search": search, "export": export,
                "subject-report": subject_report, "archive": archive,
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


def _official(args: argparse.Namespace) -> Official | None:
    """The auditor running the command, from a verified token: required for the commands that
    show records, recorded if given for those that show none (docs/cli.md)."""
    try:
        if args.audit_command in SHOWS_RECORDS or token_given(args):
            return acting(args, AUDITOR, f"audit.{args.audit_command}")
    except NotPermitted as exc:
        raise CliError(str(exc)) from None
    return None


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def _config(args: argparse.Namespace) -> AuditConfig:
    if args.config is not None:
        settings, data_dir = load_audit(args.config)
    else:
        settings, data_dir = AuditSettings(), args.data_dir
    return load_config(settings, data_dir)


if __name__ == "__main__":
    sys.exit(main())
