"""Paging input checks and sealed cursors (schema/paging.py)."""

from __future__ import annotations

import base64

import pytest

from schema.paging import (
    CURSOR_TTL_S,
    MAX_SEARCH_TEXT,
    Cursors,
    InvalidArgument,
    page_size,
    search_text,
)

KEY = bytes(range(32))
SCOPE = b'["Enterprise","digest",["supervision",null,false],"\xe8\xb4\xa2\xe5\xaf\x8c"]'


def refused(cursors: Cursors, cursor: str, scope: bytes = SCOPE) -> str:
    with pytest.raises(InvalidArgument) as caught:
        cursors.open(cursor, scope)
    assert caught.value.argument == "after"
    return str(caught.value)


def test_a_cursor_opens_only_for_its_scope_and_key() -> None:
    cursors = Cursors(KEY)
    cursor = cursors.seal(["agency-cursor", 3, 7, None], SCOPE)
    assert cursors.open(cursor, SCOPE) == ["agency-cursor", 3, 7, None]
    assert Cursors(KEY).open(cursor, SCOPE) == ["agency-cursor", 3, 7, None]  # another replica
    not_ours = "Invalid argument after: not a cursor of this search."
    assert refused(cursors, cursor, SCOPE + b" ") == not_ours
    assert refused(Cursors(bytes(32)), cursor) == not_ours  # another key
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for i in (0, 12, len(raw) - 1):  # the nonce, the sealed state, the tag
        flipped = bytearray(raw)
        flipped[i] ^= 1
        assert refused(cursors, base64.urlsafe_b64encode(flipped).decode()) == not_ours
    for garbage in ("", "=", "%%%", "AAAA", "A" * 2000, "not-a-cursor", cursor[:20]):
        assert refused(cursors, garbage) == not_ours


def test_a_cursor_expires() -> None:
    now = [1_800_000_000.0]
    cursors = Cursors(KEY, clock=lambda: now[0])
    cursor = cursors.seal([None, 0, 0, None], SCOPE)
    now[0] += CURSOR_TTL_S
    assert cursors.open(cursor, SCOPE) == [None, 0, 0, None]
    now[0] += 1
    assert refused(cursors, cursor) == "Invalid argument after: expired; start the search again."


def test_the_same_state_seals_to_the_same_cursor_and_another_state_does_not() -> None:
    cursors = Cursors(KEY, clock=lambda: 1_800_000_000.0)
    one = cursors.seal([None, 0, 1, None], SCOPE)
    assert cursors.seal([None, 0, 1, None], SCOPE) == one
    assert cursors.seal([None, 0, 2, None], SCOPE) != one
    assert cursors.seal([None, 0, 1, None], SCOPE + b"x") != one
    assert (
        base64.urlsafe_b64decode(one + "==")[:12]
        != base64.urlsafe_b64decode(cursors.seal([None, 0, 2, None], SCOPE) + "==")[:12]
    )  # never one nonce for two states


@pytest.mark.parametrize("first", [-1, 0, 101, 2**31 - 1])
def test_a_page_size_out_of_range_is_refused(first: int) -> None:
    with pytest.raises(InvalidArgument) as caught:
        page_size(first, 100)
    assert (caught.value.argument, str(caught.value)) == (
        "first",
        "Invalid argument first: must be from 1 to 100.",
    )


def test_page_sizes_in_range_pass() -> None:
    assert [page_size(n, 100) for n in (1, 50, 100)] == [1, 50, 100]


def test_search_texts() -> None:
    assert search_text("  财富 \n") == "财富"
    assert search_text("财" * MAX_SEARCH_TEXT) == "财" * MAX_SEARCH_TEXT
    for text, reason in (
        ("", "must not be empty"),
        (" \t\n", "must not be empty"),
        ("财" * (MAX_SEARCH_TEXT + 1), f"at most {MAX_SEARCH_TEXT} characters"),
    ):
        with pytest.raises(InvalidArgument) as caught:
            search_text(text)
        assert str(caught.value) == f"Invalid argument nameContains: {reason}."
