"""Field selection, the one mechanism every agency API uses to return only what is asked for.

A caller names the fields it needs; embedded lists are selected with dotted paths
(``shareholders.holder_name``), and naming the list alone selects all its sub-fields. The
record's key and its label fields are always returned. Unknown names are a client error (400).

Each agency declares the shape of its records once as a :class:`RecordShape`; the shape compiles
a request's field list into a :class:`Selection` that projects records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sandbox.http import ApiError
from sandbox.world import LABEL_FIELDS, Record

__all__ = ["RecordShape", "Selection"]


@dataclass(frozen=True)
class Selection:
    """A compiled field selection; call it on a record to get the selected fields."""

    # (field, None) returns the field whole; (list field, sub-fields) only those sub-fields.
    parts: tuple[tuple[str, tuple[str, ...] | None], ...]
    everything: bool = False  # the record as it is: no copy

    def __call__(self, record: Record) -> Record:
        if self.everything:
            return record
        out: Record = {}
        for name, subfields in self.parts:
            if subfields is None:
                out[name] = record[name]
            else:
                out[name] = [{s: item[s] for s in subfields} for item in record[name]]
        return out


@dataclass(frozen=True)
class RecordShape:
    """The fields of one record type, in contract order.

    ``fields`` maps each field name to ``None`` for a scalar (or a plain list of strings) and to
    the tuple of sub-field names for an embedded list of objects. ``key`` and the label fields
    are part of every record and always selected.
    """

    kind: str  # e.g. "case", for error messages
    key: str
    fields: Mapping[str, tuple[str, ...] | None]

    def all_fields(self) -> tuple[str, ...]:
        """Every field a record of this shape carries, labels included."""
        return (self.key, *self.fields, *LABEL_FIELDS)

    def select(self, requested: Iterable[str] | None) -> Selection:
        """Compile a field list; ``None`` (no list given) selects every field."""
        if requested is None:
            return Selection(parts=tuple((n, None) for n in self.all_fields()), everything=True)
        whole: set[str] = {self.key, *LABEL_FIELDS}
        partial: dict[str, set[str]] = {}
        unknown: list[str] = []
        for raw in requested:
            name = raw.strip()
            if not name:
                continue
            head, dot, sub = name.partition(".")
            if not dot and (head in self.fields or head == self.key or head in LABEL_FIELDS):
                whole.add(head)
            elif dot and sub in (self.fields.get(head) or ()):
                partial.setdefault(head, set()).add(sub)
            else:
                unknown.append(name)
        if unknown:
            raise ApiError(
                400,
                f"unknown {self.kind} field(s): {', '.join(unknown)};"
                f" known fields: {', '.join(self._known())}",
            )
        parts: list[tuple[str, tuple[str, ...] | None]] = []
        for name in self.all_fields():  # contract order
            if name in whole:
                parts.append((name, None))
            elif name in partial:
                subfields = self.fields[name] or ()
                parts.append((name, tuple(s for s in subfields if s in partial[name])))
        return Selection(parts=tuple(parts))

    def _known(self) -> list[str]:
        known = [self.key]
        for name, subfields in self.fields.items():
            known.append(name)
            known.extend(f"{name}.{s}" for s in subfields or ())
        return known
