"""Text from outside the gateway (purpose headers, token claims): what it may not contain.

Such text ends up in the audit trail and on the screens of the people who read it, so nothing in
it may change how a line displays or where it ends: no control characters (C0, DEL, C1), no line
or paragraph separators, no invisible format characters (bidi overrides and isolates, zero-width
characters, tag characters), no lone surrogates (which cannot even be encoded as UTF-8).
"""

from __future__ import annotations

import unicodedata

#: Unicode general categories refused: control, format, surrogate, line and paragraph separator.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def unprintable(text: str) -> bool:
    """Whether ``text`` holds a character of :data:`REFUSED_CATEGORIES`."""
    if text.isascii():
        return not text.isprintable()  # in ASCII exactly C0 and DEL are not printable
    return any(unicodedata.category(c) in REFUSED_CATEGORIES for c in text)
