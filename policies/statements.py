"""Where each statement of a Cedar policy text starts: the file and line a problem is
reported at (Cedar's own messages name policies ``policy0``, ``policy1``, ... in the order of the
combined text, and a syntax error only the file)."""

from __future__ import annotations

from pathlib import Path

import cedarpy


def statements(text: str) -> list[tuple[int, str]]:
    """Split policy text into statements with the line each starts on (comments stripped)."""
    out: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    in_string = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw if in_string else raw.split("//", 1)[0]
        if not start and line.strip():
            start = number
        current.append(line)
        for i, char in enumerate(line):
            if char == '"' and (i == 0 or line[i - 1] != "\\"):
                in_string = not in_string
            elif char == ";" and not in_string:
                out.append((start, "\n".join(current)))
                current, start = [], 0
                break
    if "".join(current).strip():
        out.append((start, "\n".join(current)))
    return out


def first_bad_line(text: str) -> int:
    for line, statement in statements(text):
        try:
            cedarpy.PolicySet.from_str(statement)
        except ValueError:
            return line
    return 1


def statement_starts(texts: dict[Path, str]) -> dict[str, tuple[str, int]]:
    starts: dict[str, tuple[str, int]] = {}
    index = 0
    for path, text in texts.items():
        for line, _ in statements(text):
            starts[f"policy{index}"] = (str(path), line)
            index += 1
    return starts
