"""Text from outside the gateway (purpose headers, token claims): what it may not contain.

Such text ends up in the audit trail and on the screens of the people who read it, so nothing in
it may change how a line displays or where it ends, or show nothing where there is something:

- control characters (C0, DEL, C1), line and paragraph separators, format characters (bidi
  overrides and isolates, zero-width characters, tag characters), lone surrogates (which cannot
  even be encoded as UTF-8): Unicode categories Cc, Zl, Zp, Cf, Cs;
- unassigned code points and noncharacters (Cn: U+FFFF, U+FDD0-U+FDEF ...) and private-use
  characters (Co), which show as nothing or as whatever a reader's font puts there;
- default-ignorable code points (:data:`DEFAULT_IGNORABLE`), which a renderer draws as nothing:
  the combining grapheme joiner, the Hangul fillers, variation selectors ...; and the braille
  blank (U+2800), a symbol that shows as a space;
- combining marks that draw over their base (strike-through, slashes: combining class 1), a
  combining mark with no character before it to combine with, and more than
  :data:`MAX_MARKS` marks in a row (text stacked over the neighbouring lines).

Chinese, accented Latin and other scripts pass, in composed or decomposed form. Names (a token's
``sub``, ``agency``, roles ...) are held to more (:func:`unfit_name`): no white space anywhere, and
only one spelling of each (Unicode NFC), so that two subjects that look the same are the same.
"""

from __future__ import annotations

import unicodedata

#: Unicode general categories refused: control, format, surrogate, line and paragraph separator,
#: unassigned (noncharacters among them), private use.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Cn", "Co"})

#: Default_Ignorable_Code_Point, from DerivedCoreProperties.txt of Unicode 14.0 (the version of
#: Python 3.11's ``unicodedata``, which has no property lookup; the set is unchanged up to 16.0).
#: Those of them in the categories above are refused already; listed whole, as published.
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors, vowel separator
    (0x200B, 0x200F),  # zero-width space, joiners, directional marks
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated format
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors 1-16
    (0xFEFF, 0xFEFF),  # zero-width no-break space (byte order mark)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),  # unassigned
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags, variation selectors 17-256, unassigned
)
_IGNORABLE = frozenset(chr(c) for lo, hi in DEFAULT_IGNORABLE for c in range(lo, hi + 1))

#: Symbols that are assigned and printable, yet show as blank space.
BLANK_SYMBOLS = frozenset({"\u2800"})  # braille pattern blank

#: Combining marks in a row at most: real text needs two or three (Vietnamese, Thai, Tibetan).
MAX_MARKS = 4
_OVERLAY = 1  # canonical combining class of marks drawn over their base (U+0334-U+0338 ...)


def unprintable(text: str) -> bool:
    """Whether ``text`` holds a character, or a sequence of combining marks, refused above."""
    if text.isascii():
        return not text.isprintable()  # in ASCII exactly C0 and DEL are not printable
    marks = MAX_MARKS  # a mark first has nothing to combine with: as if after too many
    for c in text:
        if invisible(c):
            return True
        if unicodedata.category(c)[0] != "M":
            marks = 0
        elif marks >= MAX_MARKS or unicodedata.combining(c) == _OVERLAY:
            return True
        else:
            marks += 1
    return False


def invisible(char: str) -> bool:
    """Whether a character is refused wherever it stands: of :data:`REFUSED_CATEGORIES`,
    default-ignorable or a blank symbol (the rules on combining marks depend on what precedes)."""
    return (
        char in _IGNORABLE
        or char in BLANK_SYMBOLS
        or unicodedata.category(char) in REFUSED_CATEGORIES
    )


def unfit_name(value: object) -> bool:
    """Whether ``value`` cannot name someone or something: not a non-empty string, or holding
    white space, or anything :func:`unprintable` refuses, or not in its one spelling (NFC: ``é``
    one character, not ``e`` and a combining accent)."""
    if not isinstance(value, str) or not value:
        return True
    if value.isascii():
        return not value.isprintable() or " " in value
    return (
        unprintable(value)
        or any(c.isspace() for c in value)
        or not unicodedata.is_normalized("NFC", value)
    )
