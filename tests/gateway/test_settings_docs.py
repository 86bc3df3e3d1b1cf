"""docs/configuration.md's key table is the settings' declarations, rendered: never stale."""

from __future__ import annotations

from gateway.settings import DECLARED
from gateway.settings_docs import BEGIN, DOC, END, render, updated
from kernel.settings import declared


def test_the_committed_table_is_the_declarations() -> None:
    text = DOC.read_text()
    assert updated(text) == text, "docs/configuration.md is stale: run `make docs`"


def test_every_key_has_a_row_with_its_default_and_its_meaning() -> None:
    table = render()
    for pattern, cls in DECLARED.items():
        for d in declared(cls):
            row = f"| `{pattern.replace('*', 'NAME')}.{d.key}` | {d.default} | {d.doc} |"
            assert row in table
            assert d.default and d.doc, row


def test_the_markers_are_there_once() -> None:
    text = DOC.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
