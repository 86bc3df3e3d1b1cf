"""The connector contract: what the schema layer may ask of an agency system.

A connector answers batch lookups by key (``fetch_many``) and, where the agency offers one, a
paged search (``search``). It is told exactly which agency-side fields the operation may read and
requests no more. Every record it returns carries :class:`Labels` for record-level rules.

Adding an agency is one module: subclass :class:`Connector`, declare ``agency`` and ``lookups``,
implement ``fetch_many`` (and ``search`` if any), and register it in ``connectors/registry.py``::

    class TaxConnector(Connector):
        agency = "tax"
        lookups = {"taxpayer": frozenset({"uscc"})}

        async def fetch_many(self, kind, by, keys, fields):
            ...
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, TypeVar

from connectors.errors import AgencyRejected

T = TypeVar("T")

LABEL_FIELDS = ("handling_code", "sensitivity", "linked_cases")
# the labels a connector may attach (docs/policies.md): handling codes and sensitivities
HANDLING_CODES = ("H0", "H1", "H2", "H3")
SENSITIVITIES = range(4)


class Labels(NamedTuple):
    """Record-level facts policies decide on: owner, handling code, sensitivity, linked cases.

    Labels and records are named tuples, immutable like the frozen dataclasses they were and
    built in less than half the time (two of each per record shown: 4.4 -> 2.0 us)."""

    agency: str
    handling: str
    sensitivity: int
    cases: tuple[str, ...] = ()

    @classmethod
    def from_fields(cls, agency: str, data: Mapping[str, Any]) -> Labels:
        return cls(
            agency,
            str(data.get("handling_code", "H3")),
            int(data.get("sensitivity", 3)),
            tuple(data.get("linked_cases") or ()),
        )


class Record(NamedTuple):
    kind: str
    key: str
    data: Mapping[str, Any]
    labels: Labels


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Record]
    next_cursor: str | None
    total: int | None = None


Grouped = dict[str, list[Record]]


class Connector(abc.ABC):
    """One agency system. Subclasses are long-lived and shared by all requests."""

    agency: ClassVar[str]
    #: kind -> the fields a batch lookup may be keyed by (the first is the record's own key)
    lookups: ClassVar[Mapping[str, tuple[str, ...]]]

    @abc.abstractmethod
    async def fetch_many(
        self,
        kind: str,
        by: str,
        keys: Sequence[str],
        fields: frozenset[str],
        limit_per_key: int | None = None,
    ) -> Grouped:
        """Records of ``kind`` whose ``by`` field is one of ``keys``, grouped by that key.

        ``fields`` are agency-side field names (dotted for embedded lists); the record's own key
        and label fields are always returned. A key with no record maps to an empty list.
        ``limit_per_key`` caps one-to-many lookups (newest first where the agency orders).
        """

    async def search(
        self, kind: str, text: str, fields: frozenset[str], first: int, after: str | None
    ) -> Page:
        """Up to ``first`` records of ``kind`` whose name contains ``text``, from the agency's
        cursor ``after`` (None: the first page), in the agency's order; ``next_cursor`` is None
        after the last match. Fewer than ``first`` is fine (an agency's own page limit). A
        cursor names a position: asked again, the page starts with the same record, whatever
        ``first`` is (schema/search.py reads a page again to go on from inside it)."""
        raise AgencyRejected(self.agency, f"no search over {kind}", 400)

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release pooled connections."""

    def status(self) -> dict[str, Any]:
        """Operational state for health checks and metrics, e.g. ``{"circuit": "open", ...}``
        (see ``connectors/resilience.py``); empty for connectors without one."""
        return {}

    def check_lookup(self, kind: str, by: str) -> None:
        if by not in self.lookups.get(kind, ()):
            raise AgencyRejected(self.agency, f"no lookup of {kind} by {by}", 400)

    def record(self, kind: str, data: Mapping[str, Any]) -> Record:
        """Wrap one agency record: its key is the kind's first lookup field."""
        key_field = self.lookups[kind][0]
        return Record(kind, str(data.get(key_field)), data, Labels.from_fields(self.agency, data))


async def each_chunk(
    keys: Sequence[str], size: int, call: Callable[[Sequence[str]], Coroutine[Any, Any, T]]
) -> list[T]:
    """``call`` for each chunk of at most ``size`` keys, run concurrently, results in order; the
    usual single chunk is awaited as it is (``asyncio.gather`` would wrap it in a task of its
    own first: an extra turn of the event loop and about a tenth of the call's own cost)."""
    chunks = chunked(keys, size)
    if len(chunks) == 1:
        return [await call(chunks[0])]
    return list(await asyncio.gather(*(call(chunk) for chunk in chunks)))


def chunked(keys: Sequence[str], size: int) -> list[Sequence[str]]:
    """Split a key list into the agency's per-call maximum."""
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def group(records: Sequence[Record], by: str, keys: Sequence[str]) -> Grouped:
    """Group records by the value of ``by`` (a scalar or a list field), for every asked key."""
    out: Grouped = {k: [] for k in keys}
    for record in records:
        value = record.data.get(by)
        for v in value if isinstance(value, list) else (value,):
            bucket = out.get(v)  # type: ignore[arg-type]
            if bucket is not None:
                bucket.append(record)
    return out
