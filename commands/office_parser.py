"""The ``jointgate leads`` and ``jointgate indicators`` command lines (argparse only; what runs
them is commands/office.py, imported once chosen)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kernel.types import Purpose
from kernel.workflow import LeadState


def add_commands(commands: Any) -> None:
    """Add ``leads`` and ``indicators`` to ``jointgate``'s sub-parsers."""
    leads = commands.add_parser("leads", help="the joint office's leads you may read")
    lsub = leads.add_subparsers(dest="leads_command", required=True, metavar="SUBCOMMAND")
    listing = lsub.add_parser("list", help="leads, newest first")
    listing.add_argument("--state", action="append", default=[],
                         choices=[s.value for s in LeadState], help="(repeatable)")  # fmt: skip
    listing.add_argument("--overdue", action="store_true", help="major, unacknowledged, late")
    listing.add_argument("--major", action="store_true", help="major events only")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (1-1000)")
    listing.add_argument("--json", action="store_true")
    show = lsub.add_parser("show", help="one lead: subjects, steps, feedback, its case")
    show.add_argument("id", help="L-YYYY-NNNNNN")
    show.add_argument("--json", action="store_true")
    indicators = commands.add_parser(
        "indicators", help="the office's indicators by month or quarter, region, category"
    )
    indicators.add_argument("--period", choices=["month", "quarter"], default="month")
    indicators.add_argument("--from", dest="start", required=True, help="2026-01 or 2026-Q1")
    indicators.add_argument("--to", dest="end", required=True, help="2026-12 or 2026-Q4")
    indicators.add_argument("--by", action="append", default=[], choices=["region", "category"],
                            help="group by (repeatable)")  # fmt: skip
    indicators.add_argument("--csv", action="store_true", help="CSV on standard output")
    indicators.add_argument("--json", action="store_true")
    for parser in (*lsub.choices.values(), indicators):
        _options(parser)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token", metavar="TOKEN",
        help="the acting official's access token (default: $JOINTGATE_TOKEN; a demo one:"
        " `jointgate token USER`): you see what the policies let this official read",
    )  # fmt: skip
    parser.add_argument("--purpose", default=Purpose.SUPERVISION.value,
                        choices=[p.value for p in Purpose],
                        help="the declared purpose (default supervision)")  # fmt: skip
    parser.add_argument("--case", default=None, help="the declared case (X-Case-Id)")
    parser.add_argument("--data-dir", type=Path, default=Path(".jointgate"))
    parser.add_argument("--database", help="governance database URL (default: in --data-dir)")
    parser.add_argument("--config", type=Path, help="the gateway's jointgate.toml")
    parser.set_defaults(notify="")
