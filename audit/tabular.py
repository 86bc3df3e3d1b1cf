"""Records as ``jointgate audit export`` and the console's export write them: one JSON object
per line, or CSV with a fixed set of columns (lists and objects as JSON in their cell)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

import orjson

CSV_COLUMNS = [
    "log_id", "seq", "time", "received", "request_id", "subject", "agency", "roles", "purpose",
    "case_id", "justification", "break_glass", "operation_name", "operation_type", "outcome",
    "status", "error_codes", "fields_requested", "fields_allowed", "fields_masked",
    "fields_denied", "fields_withheld", "field_policies", "records_returned", "looked_up",
    "variables", "flags", "agency_calls", "policy_version", "response_size", "response_sha256",
    "latency_ms", "client", "trace_id", "changes",
]  # fmt: skip


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


#: a cell a spreadsheet would run as a formula (CSV injection): shown with a leading quote
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return dumps(value)
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text  # a justification or reason is the caller's free text
    return text


def csv_row(row: dict[str, Any]) -> list[str]:
    return [csv_value(row.get(c)) for c in CSV_COLUMNS]


def write_csv(rows: Iterable[dict[str, Any]], target: IO[str]) -> None:
    writer = csv.writer(target)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(csv_row(row))


def write_jsonl(rows: Iterable[dict[str, Any]], target: IO[str]) -> None:
    for row in rows:
        target.write(dumps(row) + "\n")
