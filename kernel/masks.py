"""Masking functions: what a field shows when the deciding policy permits it only masked.

A field declares its mask kind in the schema (``attr(..., mask="resident_id")``); a permit
annotated ``@mask`` uses that kind, ``@mask("name")`` names one explicitly. A field without a
mask kind cannot be shown masked, so a masked-only permit on it counts as a deny.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kernel.identifiers import InvalidIdentifier, check_resident_id, check_uscc

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


PERSON, ENTERPRISE = "Person", "Enterprise"
PARTY = (PERSON, ENTERPRISE)  # the identity of a field that is a person's or an enterprise's


def _valid(check: Callable[[str], str], text: str) -> bool:
    try:
        check(text)
    except InvalidIdentifier:
        return False
    return True


def checked_party(value: Any) -> str | None:
    """``Person`` or ``Enterprise`` if the identifier checks alone tell which a party's
    identifier is (a valid resident ID: region, birth date, ISO 7064 check; a valid USCC:
    alphabet, GB 32100 check; ``91440304056715996L`` has 17 digits and is a USCC), None if
    they cannot: valid as both, or as neither."""
    text = str(value)
    person, enterprise = _valid(check_resident_id, text), _valid(check_uscc, text)
    if person != enterprise:
        return PERSON if person else ENTERPRISE
    return None


def party_type(value: Any, stated: Any = None) -> str:
    """Which a party's identifier is, ``Person`` or ``Enterprise``: the one decision behind the
    ``party_id`` mask and gateway/disclosure.py's record of what was shown, so the two agree.

    The identifier checks decide where they can (:func:`checked_party`): a valid resident ID
    is a person's whatever the record says (shown in clear as an enterprise's it would be a
    person's ID exposed), a valid USCC is registry data. Where they cannot, ``stated`` does:
    what the agency record says the party is (``party_type`` / ``holder_type``: ``person`` or
    ``enterprise``); and where it says nothing either, the party is a person: the protective
    side, masked as a resident ID and counted as a person seen."""
    checked = checked_party(value)
    if checked is not None:
        return checked
    said = str(stated).strip().lower() if stated is not None else ""
    return ENTERPRISE if said == "enterprise" else PERSON


def hides(shown: str) -> bool:
    """Whether a value shown under an identifier mask hides the identifier: these masks star
    what they hide, and ``party_id`` keeps an enterprise's USCC as it is (gateway/disclosure.py)."""
    return "*" in shown


def party_id(value: Any, stated: Any = None) -> Any:
    """A person's resident ID is masked; an enterprise's USCC is registry data and kept
    (:func:`party_type` tells which, ``stated``: what the record says the party is)."""
    text = str(value)
    return resident_id(text) if party_type(text, stated) == PERSON else text


MASKS: dict[str, Mask] = {
    "resident_id": resident_id,
    "account": account,
    "phone": account,  # shown like an account (last four); a phone identifies no entity type
    "name": name,
    "amount": amount,
    "party_id": party_id,
}


# masks that also read what the record says the value is (schema.base.attr's ``stated_by``)
STATED: dict[str, Callable[[Any, Any], Any]] = {"party_id": party_id}


def apply(kind: str, value: Any, stated: Any = None) -> Any:
    """``value`` (a list: each item) shown masked as ``kind``; ``stated``: what the record
    says the value is, for the masks that read it (``party_id``)."""
    if value is None:
        return None
    told = STATED.get(kind)
    mask: Mask = MASKS[kind] if told is None else (lambda v: told(v, stated))
    if isinstance(value, list):
        return [mask(v) for v in value]
    return mask(value)
