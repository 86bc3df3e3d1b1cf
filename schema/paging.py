"""Paging arguments and cursors, checked the same way by every paged field.

``enterprises(nameContains:, first:, after:)``, ``auditLog(first:, after:)`` and
``BankAccount.transactions(first:)`` check their input here before anything is asked of an
agency or of the audit trail: a page size outside 1..max, a search text that is empty or too
long, or an ``after`` this gateway did not issue for this caller's same search is
``BAD_USER_INPUT`` (``extensions.argument`` names the argument; the value is never echoed).

A cursor is the paging state sealed with AES-256-GCM: opaque (a client can neither read the
agency's own cursor, which may name a record it may not see, nor edit a position) and bound, as
associated data, to a *scope*: the field, the caller (principal digest), the declaration
(purpose, case, break-glass: the records a caller may see depend on them) and the search's own
arguments. A cursor of another caller, search or purpose does not open, and one older than
``CURSOR_TTL_S`` is refused. The key is derived from the gateway's hash key
(``rate_limits.key_file`` / ``key_env``), which every replica shares, so a cursor issued by one
replica is taken by the others.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import time
from collections.abc import Callable
from typing import Annotated, Any

import orjson
import strawberry
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kernel.types import RequestContext

__all__ = [
    "CURSOR_TTL_S",
    "MAX_SEARCH_TEXT",
    "Cursors",
    "InvalidArgument",
    "page_size",
    "scope",
    "search_text",
]

MAX_SEARCH_TEXT = 50  # characters of a name search, after trimming
MAX_PAGE = 100  # the most a page of a paged field holds (its `first`)

#: the arguments of every paged field (enterprises, auditLog, leads, cases)
First = Annotated[int, strawberry.argument(description=f"How many a page, 1 to {MAX_PAGE}.")]
After = Annotated[
    str | None,
    strawberry.argument(
        description="The endCursor of the page before, the other arguments as they were then."
    ),
]
CURSOR_TTL_S = 3600  # a cursor is taken for an hour after it was issued
MAX_CURSOR_CHARS = 1024  # longer is not one of ours: refused before decoding
NOT_A_CURSOR = "not a cursor of this search"
_NONCE = 12


class InvalidArgument(ValueError):
    """A paging or search argument out of its range (``BAD_USER_INPUT``, ``extensions.argument``).

    The message names the argument and the rule, never the value sent."""

    def __init__(self, argument: str, reason: str) -> None:
        super().__init__(f"Invalid argument {argument}: {reason}.")
        self.argument = argument


def page_size(first: int, maximum: int) -> int:
    """``first`` if it is a page size from 1 to ``maximum``."""
    if not 1 <= first <= maximum:
        raise InvalidArgument("first", f"must be from 1 to {maximum}")
    return first


def search_text(text: str, argument: str = "nameContains") -> str:
    """The search text trimmed, if something is left of it and not more than MAX_SEARCH_TEXT."""
    needle = text.strip()
    if not needle:
        raise InvalidArgument(argument, "must not be empty")
    if len(needle) > MAX_SEARCH_TEXT:
        raise InvalidArgument(argument, f"at most {MAX_SEARCH_TEXT} characters")
    return needle


def scope(ctx: RequestContext, field: str, arguments: Any) -> bytes:
    """What a cursor of ``field`` is bound to in this request: the caller, the declared purpose,
    case and break-glass, and the search's ``arguments`` (JSON-serialisable; the page size is
    not one of them: it may change from page to page)."""
    principal, d = ctx.principal, ctx.declaration
    assert principal is not None and d is not None, "paging runs after authorize"
    declared = [d.purpose.value, d.case_id, d.break_glass is not None]
    return orjson.dumps([field, principal.digest, declared, arguments], option=orjson.OPT_SORT_KEYS)


def _derive(key: bytes, label: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=b"jointgate-cursor/v1", info=label).derive(key)


class Cursors:
    """Seals paging state into cursors and opens them again, for one scope.

    ``Cursors(key)`` with the gateway's 32-byte hash key; ``Cursors.ephemeral()`` for a gateway
    built without one (tests): its cursors are taken only by the process that issued them.
    """

    def __init__(self, key: bytes, *, clock: Callable[[], float] = time.time) -> None:
        self._aead = AESGCM(_derive(key, b"seal"))
        self._nonce = hashlib.blake2b(key=_derive(key, b"nonce"), digest_size=_NONCE)
        self.clock = clock

    @classmethod
    def ephemeral(cls) -> Cursors:
        return cls(os.urandom(32))

    def seal(self, state: Any, scope: bytes) -> str:
        """An opaque cursor carrying ``state`` (JSON-serialisable) for ``scope``."""
        plain = orjson.dumps([int(self.clock()) + CURSOR_TTL_S, state])
        # a synthetic nonce, a keyed hash of what is sealed (as in SIV): never the same for two
        # different cursors, and the same cursor for the same state, scope and second
        h = self._nonce.copy()
        h.update(len(scope).to_bytes(4, "big") + scope + plain)
        nonce = h.digest()
        sealed = nonce + self._aead.encrypt(nonce, plain, scope)
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()

    def open(self, cursor: str, scope: bytes) -> Any:
        """The state sealed in ``cursor``, if this gateway issued it for ``scope`` and it has not
        expired; ``InvalidArgument("after", ...)`` otherwise."""
        if len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidArgument("after", NOT_A_CURSOR)
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            if len(raw) <= _NONCE:
                raise ValueError
            expires, state = orjson.loads(self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], scope))
        except (ValueError, TypeError, binascii.Error, InvalidTag):
            raise InvalidArgument("after", NOT_A_CURSOR) from None
        if self.clock() > expires:  # ours and this caller's: saying so reveals nothing
            raise InvalidArgument("after", "expired; start the search again")
        return state
