"""Paging helpers shared by the agency APIs: page numbers, keyset cursors and opaque tokens."""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, TypeVar

import orjson

from sandbox.http import ApiError

__all__ = ["decode_token", "encode_token", "keyset_page", "page_slice"]

T = TypeVar("T")


def page_slice(items: Sequence[T], page: int, page_size: int) -> Sequence[T]:
    """Page ``page`` (from 1) of ``items`` in pages of ``page_size``."""
    start = (page - 1) * page_size
    return items[start : start + page_size]


def encode_token(state: dict[str, Any]) -> str:
    """An opaque, URL-safe token carrying ``state`` (a cursor or page token)."""
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")


def decode_token(token: str, what: str = "cursor") -> dict[str, Any]:
    """The state inside a token made by :func:`encode_token`; 400 if it is not one."""
    try:
        state = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise ApiError(400, f"invalid {what}") from None
    if not isinstance(state, dict):
        raise ApiError(400, f"invalid {what}")
    return state


def keyset_page(
    sorted_keys: Sequence[str], after: str | None, limit: int
) -> tuple[list[str], str | None]:
    """Up to ``limit`` keys that sort after ``after``, and the key to continue after (or None).

    Keyset paging stays correct whatever the caller does between pages: a cursor names the last
    key returned, not a position.
    """
    start = 0 if after is None else bisect_right(sorted_keys, after)
    page = list(sorted_keys[start : start + limit])
    more = start + limit < len(sorted_keys)
    return page, (page[-1] if more and page else None)
