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


def name(value: Any) -> Any:
    """``王**``: the surname (first character) kept."""
    text = str(value)
    return text[:1] + "*" * max(len(text) - 1, 1) if text else text


def amount(value: Any) -> Any:
    """Rounded down to its band, a power of ten: 1,234,567 → 1,000,000; 0 stays 0."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return 0.0 if isinstance(value, int | float) else None
    return float(10 ** math.floor(math.log10(value)))


def party_id(value: Any) -> Any:
    """A person's resident ID is masked; an enterprise's USCC is registry data and kept."""
    text = str(value)
    is_person = len(text) == 18 and text[:17].isdigit()
    return resident_id(text) if is_person else text


MASKS: dict[str, Mask] = {
    "resident_id": resident_id,
    "account": account,
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
