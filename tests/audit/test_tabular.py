"""The CSV export's cells (audit/tabular.py): the caller's free text never runs as a formula."""

from __future__ import annotations

import csv
import io

from audit.tabular import csv_value, write_csv


def test_a_cell_a_spreadsheet_would_run_starts_with_a_quote() -> None:
    for text in ('=HYPERLINK("http://evil.example")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_value(text) == "'" + text
    assert csv_value("suspect fleeing") == "suspect fleeing"
    assert csv_value(-5) == "-5"  # a number is a number
    assert csv_value(None) == ""


def test_an_exported_justification_is_text() -> None:
    out = io.StringIO()
    write_csv([{"justification": "=cmd|' /C calc'!A0"}], out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert any(cell == "'=cmd|' /C calc'!A0" for row in rows for cell in row)
