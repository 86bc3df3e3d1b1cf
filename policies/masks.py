"""Masking functions: what a field shows when the deciding policy permits it only masked.

A field declares its mask kind in the schema (``attr(..., mask="resident_id")``); a permit
annotated ``@mask`` uses that kind, ``@mask("name")`` names one explicitly. A field without a
mask kind cannot be shown masked, so a masked-only permit on it counts as a deny.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Mask = Callable[[Any], Any]


def resident_id(value: Any) -> Any:
    """``110101********1234``: region code and last four kept."""
    text = str(value)
    if len(text) != 18:
        return "*" * len(text)
    return text[:6] + "*" * 8 + text[-4:]


def account(value: Any) -> Any:
    """``**** 5678``: last four digits kept."""
    text = str(value)
    return f"**** {text[-4:]}" if len(text) > 4 else "****"


# two-character surnames (复姓); any other name's surname is its first character
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "令狐",
        "夏侯",
        "轩辕",
        "钟离",
        "端木",
        "南宫",
        "西门",
        "独孤",
        "万俟",
        "闻人",
        "澹台",
        "公冶",
        "宗政",
        "濮阳",
        "太史",
        "申屠",
        "呼延",
        "赫连",
        "百里",
        "东郭",
        "南门",
        "羊舌",
    ]
)


def name(value: Any) -> Any:
    """``王**``, ``欧阳**``: the surname kept, the given name starred."""
    text = str(value)
    kept = 2 if text[:2] in COMPOUND_SURNAMES and len(text) > 2 else 1
    return text[:kept] + "*" * max(len(text) - kept, 1) if text else text


def amount(value: Any) -> Any:
    """Rounded down to its band, a power of ten: 1,234,567 → 1,000,000; 0 stays 0."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return 0.0 if isinstance(value, int | float) else None
    return float(10 ** math.floor(math.log10(value)))


def is_resident_id(text: str) -> bool:
    """Whether a party's identifier is a person's (18 characters, the first 17 digits), not an
    enterprise's USCC; also how gateway/disclosure.py tells which of the two a party is."""
    return len(text) == 18 and text[:17].isdigit()


def hides(shown: str) -> bool:
    """Whether a value shown under an identifier mask hides the identifier: these masks star
    what they hide, and ``party_id`` keeps an enterprise's USCC as it is (gateway/disclosure.py)."""
    return "*" in shown


def party_id(value: Any) -> Any:
    """A person's resident ID is masked; an enterprise's USCC is registry data and kept."""
    text = str(value)
    return resident_id(text) if is_resident_id(text) else text


MASKS: dict[str, Mask] = {
    "resident_id": resident_id,
    "account": account,
    "phone": account,  # shown like an account (last four); a phone identifies no entity type
    "name": name,
    "amount": amount,
    "party_id": party_id,
}


def apply(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [MASKS[kind](v) for v in value]
    return MASKS[kind](value)
