"""Identities disclosed by an answer: every identifier it shows in clear, wherever it is.

An entity's own record is recorded as seen by the loaders (``schema/loaders.py``). An
identifier shown inside another record (a court case's parties' ID numbers, an enterprise's
shareholders, an account's holder, a transaction's counterparty account) discloses the entity
it identifies just the same. Which fields are identifiers is declared on the schema
(``attr(..., identity=...)``); which of them an operation shows, and masked or not, is decided
with its plan, once per operation (``Plan.disclosures``). After execution :func:`disclose` reads
those places of the answer and records every value shown in clear as that entity seen: the
audit record holds it (blind-indexed, so "who saw X" finds it) and the volume caps count it.

Read from the answer, not from the agency records: exactly what was shown and where (a record
reached at two places of one query, with the identifier selected at one of them, discloses it
once), and nothing the gateway only read to follow a link. A masked value is no disclosure; a
masked identifier the mask leaves as it was (``party_id`` keeps an enterprise's USCC) is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from gateway.types import AuditRecord, Disclosure
from policies import masks


def disclose(
    record: AuditRecord, data: Mapping[str, Any] | None, disclosures: Sequence[Disclosure]
) -> None:
    if not data:
        return
    for disclosure in disclosures:
        for value in _shown(data, disclosure.keys):
            if disclosure.mask is None or not masks.hides(value):
                record.saw(identity_of(value, disclosure.identity), value)


def identity_of(value: str, types: tuple[str, ...]) -> str:
    """Which of a field's identity types a value identifies: the first whose identifiers look
    like it, else the last (a party is a Person if its identifier is a resident ID, else an
    Enterprise)."""
    for name in types[:-1]:
        if _LOOKS_LIKE.get(name, _anything)(value):
            return name
    return types[-1]


def _anything(value: str) -> bool:
    return True


_LOOKS_LIKE: dict[str, Callable[[str], bool]] = {"Person": masks.is_resident_id}


def _shown(value: Any, keys: tuple[str, ...]) -> Iterator[str]:
    """The values at ``keys`` (response keys, through lists) in the answer; nulls left out."""
    if isinstance(value, list):
        for item in value:
            yield from _shown(item, keys)
    elif not keys:
        if isinstance(value, str) and value:
            yield value
    elif isinstance(value, Mapping):
        yield from _shown(value.get(keys[0]), keys[1:])
