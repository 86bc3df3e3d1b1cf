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
Whether a party's identifier is a person's or an enterprise's is decided as the mask decides
it (``kernel.masks.party_type``): by the identifier checks, and where they cannot tell, by
what the record said (its ``partyType``/``holderType``, read from the records the loaders
kept in ``RequestContext.stating``, only then).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from kernel import masks
from kernel.types import AuditRecord, Disclosure
from schema.base import stated_types

Stated = Callable[[str], Any]  # an identifier -> what the record that showed it says it is
# a lead's subject may be an account (schema/office.py, LeadSubject.kind): its number, which
# the checks cannot place as a person's or an enterprise's, is then an account seen
ACCOUNT_SUBJECT, ACCOUNT = "account", "BankAccount"


def disclose(
    record: AuditRecord,
    data: Mapping[str, Any] | None,
    disclosures: Sequence[Disclosure],
    stating: Sequence[tuple[type, Mapping[str, Any]]] = (),
) -> None:
    """Record every identifier the answer shows in clear as that entity seen; ``stating``: the
    records shown that say what their parties are (read only for a party the identifier
    checks cannot place)."""
    if not data:
        return
    found: dict[str, Any] | None = None

    def stated(value: str) -> Any:
        nonlocal found
        if found is None:
            found = stated_types(stating)
        return found.get(value)

    for disclosure in disclosures:
        for value in _shown(data, disclosure.keys):
            if disclosure.mask is None or not masks.hides(value):
                record.saw(identity_of(value, disclosure.identity, stated), value)


def identity_of(value: str, types: tuple[str, ...], stated: Stated | None = None) -> str:
    """Which of a field's identity types a value identifies: a party (``masks.PARTY``) by the
    decision the ``party_id`` mask takes too (:func:`kernel.masks.party_type`), so what was
    shown as an enterprise's is recorded as an enterprise seen; a single type is that type."""
    if types != masks.PARTY:
        return types[0]
    checked = masks.checked_party(value)
    if checked is not None:
        return checked
    said = None if stated is None else stated(value)
    if said == ACCOUNT_SUBJECT:
        return ACCOUNT
    return masks.party_type(value, said)


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
