"""What outside text may hold: kernel/text.py."""

from __future__ import annotations

import unicodedata

import pytest

from kernel.text import DEFAULT_IGNORABLE, unfit_name, unprintable

REAL_TEXT = {
    "Chinese": "涉嫌非法吸收公众存款，核查资金流向（专案组JIT-2026-001，见《立案决定书》）。",
    "Chinese with an ideographic space": "紧急冻结　嫌疑人名下账户",
    "accented Latin, composed": "Vérification du dossier de M. Müller, Ñandú, Tiếng Việt",
    "accented Latin, decomposed": unicodedata.normalize("NFD", "Vérification, Tiếng Việt"),
    "Thai": "ตรวจสอบบัญชีที่น่าสงสัย",
    "Hindi": "संदिग्ध लेनदेन की जाँच",
    "Korean": "불법 자금 조사",
    "Hebrew": "בדיקת חשבון",
    "punctuation and symbols": "100% sure — see § 3 (“urgent”) ≥ ¥1,000,000 ✓",
}


@pytest.mark.parametrize("text", REAL_TEXT.values(), ids=list(REAL_TEXT))
def test_real_text_passes(text: str) -> None:
    assert not unprintable(text)


REFUSED = {
    "NUL": "a\x00b",
    "tab": "a\tb",
    "DEL": "a\x7fb",
    "C1 NEL": "a\x85b",
    "line separator": "a\u2028b",
    "right-to-left override": "abc\u202edef",
    "zero-width space": "a\u200bb",
    "tag character": "a\U000e0041b",
    "Hangul filler": "a\u3164b",
    "halfwidth Hangul filler": "a\uffa0b",
    "Hangul choseong filler": "a\u115fb",
    "Hangul jungseong filler": "a\u1160b",
    "combining grapheme joiner": "a\u034fb",
    "Khmer inherent vowel": "a\u17b4b",
    "Mongolian free variation selector": "a\u180bb",
    "variation selector 16": "a\ufe0fb",
    "variation selector 17": "a\U000e0100b",
    "braille blank": "a\u2800b",
    "combining strike-through": "a\u0336b\u0336c",
    "combining long solidus overlay": "a\u0338b",
    "a combining mark first": "\u0301abc",
    "marks stacked over the line": "a" + "\u0301\u0302\u0303\u0304\u0306",
    "noncharacter U+FFFF": "a\uffffb",
    "noncharacter U+FDD0": "a\ufdd0b",
    "noncharacter U+10FFFE": "a\U0010fffeb",
    "unassigned": "a\u0378b",
    "private use": "a\ue000b",
    "supplementary private use": "a\U000f0000b",
    "lone surrogate": "a\ud800b",
}


@pytest.mark.parametrize("text", REFUSED.values(), ids=list(REFUSED))
def test_invisible_or_misleading_characters_are_refused(text: str) -> None:
    assert unprintable(text)
    assert unfit_name(text.replace(" ", ""))


def test_the_default_ignorable_ranges_are_the_published_ones() -> None:
    """DerivedCoreProperties.txt of the Unicode version cited: a spot check of the table's edges
    and of characters that are not default-ignorable though they look alike."""
    ignorable = {c for lo, hi in DEFAULT_IGNORABLE for c in range(lo, hi + 1)}
    for code in (0xAD, 0x34F, 0x115F, 0x1160, 0x17B5, 0x180F, 0x2065, 0x3164, 0xFFA0, 0xE0FFF):
        assert code in ignorable, hex(code)
    for code in (0x20, 0xA0, 0x3000, 0x2800, 0x0336, 0xFFF9, 0x1D17B, 0xE1000):
        assert code not in ignorable, hex(code)
    assert len(ignorable) == 4174  # the count the file states for the property


NAMES = ["jit.member", "police", "investigator", "张三", "müller", "a7c2f0e4-jti", "kiosk-frontend"]


@pytest.mark.parametrize("name", NAMES)
def test_names(name: str) -> None:
    assert not unfit_name(name)


NOT_NAMES: dict[str, object] = {
    "empty": "",
    "not a string": 5,
    "a space inside": "jit member",
    "padded": " jit.member",
    "no-break space": "jit.member\u00a0",
    "ideographic space": "jit.member\u3000",
    "Hangul filler alone": "\u3164",
    "halfwidth Hangul filler alone": "\uffa0",
    "braille blank alone": "\u2800",
    "a look-alike with a combining grapheme joiner": "jit.member\u034f",
    "decomposed (not NFC)": unicodedata.normalize("NFD", "müller"),
    "a combining mark first": "\u0301jit.member",
}


@pytest.mark.parametrize("value", NOT_NAMES.values(), ids=list(NOT_NAMES))
def test_not_names(value: object) -> None:
    assert unfit_name(value)
