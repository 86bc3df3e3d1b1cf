"""Cedar policy text as highlighted HTML, on the server (no script in the page): a regular
tokenizer of comments, strings, entity references (``Type::"id"``), keywords and numbers, each
token escaped and wrapped in a span of ``console.css``'s ``.cedar`` classes (kw, str, com, ent,
num), one line at a time with its number (``ln``); lines with an error get the class ``bad``.

It only colours: a policy that does not parse is shown as it is, its tokens coloured as far as
they look like tokens. Everything, tokens or not, is escaped."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from markupsafe import Markup, escape

KEYWORDS = (
    "permit", "forbid", "when", "unless", "principal", "action", "resource", "context", "in",
    "has", "like", "is", "if", "then", "else", "true", "false",
)  # fmt: skip

_TOKEN = re.compile(
    r"(?P<com>//.*)"
    r'|(?P<ent>(?:[A-Za-z_][A-Za-z0-9_]*::)+"(?:[^"\\]|\\.)*"?)'
    r'|(?P<str>"(?:[^"\\]|\\.)*"?)'
    rf"|(?P<kw>\b(?:{'|'.join(KEYWORDS)})\b)"
    r"|(?P<num>\b\d+\b)"
)


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    html: Markup  # the line's tokens, escaped and wrapped
    bad: bool


def highlight_line(text: str) -> Markup:
    """One line of Cedar as escaped HTML with its tokens wrapped in spans."""
    out: list[str] = []
    at = 0
    for match in _TOKEN.finditer(text):
        out.append(str(escape(text[at : match.start()])))
        kind = match.lastgroup or ""
        out.append(f'<span class="{kind}">{escape(match.group())}</span>')
        at = match.end()
    out.append(str(escape(text[at:])))
    return Markup("".join(out))  # noqa: S704 - every piece of text above is escaped


def highlight(text: str, bad: Collection[int] = ()) -> list[Line]:
    """Every line of ``text``, numbered from 1; ``bad``: the numbers of lines with an error.

    A string may span lines in Cedar; a line is coloured on its own (good enough to read)."""
    return [
        Line(number, highlight_line(line), number in bad)
        for number, line in enumerate(text.split("\n"), start=1)
    ]


def listing(text: str, bad: Collection[int] = ()) -> Markup:
    """The whole text as one ``<pre class="cedar">`` with numbered lines."""
    rows = []
    for line in highlight(text, bad):
        css = ' class="line bad"' if line.bad else ' class="line"'
        rows.append(
            f'<span{css} id="L{line.number}"><span class="ln" aria-hidden="true">'
            f"{line.number}</span>{line.html}</span>"
        )
    return Markup('<pre class="cedar"><code>' + "\n".join(rows) + "</code></pre>")  # noqa: S704
