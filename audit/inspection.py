"""What ``jointgate audit verify`` and the console's audit page both report: the trail verified
against itself and against its witnesses (docs/audit.md). The witnesses are read one by one,
each checked on its own (its lines linked and signed); a witness that cannot be read is named
with why, and the checkpoints the others hold must be reproduced by the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.checkpoint import Checkpoint
from audit.keys import DataKey
from audit.publish import open_witness
from audit.store import SqlStore
from audit.verify import LogReport, verify_queries, verify_store
from audit.witness import WitnessError, WitnessReading, WitnessSpec


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A witness that could not be read, and why."""

    shown: str
    error: str


@dataclass(slots=True)
class Verification:
    """The trail's logs replayed and checked, its sealed queries, and its witnesses' readings."""

    reports: list[LogReport] = field(default_factory=list)
    query_problems: list[str] = field(default_factory=list)
    readings: list[WitnessReading] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing tampered with in the store or a witness (an unreadable witness is not)."""
        return (
            all(r.ok for r in self.reports)
            and not self.query_problems
            and not any(r.problems for r in self.readings)
        )

    def witnesses(self) -> list[dict[str, Any]]:
        """Each witness read as the JSON report shows it."""
        return [
            {"witness": r.shown, "ok": not r.problems, "checkpoints": len(r.entries),
             "problems": r.problems, "notes": r.notes}
            for r in self.readings
        ]  # fmt: skip


def read_witnesses(
    specs: Iterable[WitnessSpec], public: Ed25519PublicKey
) -> tuple[list[WitnessReading], list[Unreadable]]:
    """Every witness of ``specs`` read and checked on its own; those that cannot be read."""
    readings: list[WitnessReading] = []
    unreadable: list[Unreadable] = []
    for spec in specs:
        witness = open_witness(spec)
        try:
            readings.append(witness.read(public))
        except WitnessError as exc:
            unreadable.append(Unreadable(spec.shown, str(exc)))
        finally:
            witness.close()
    return readings, unreadable


def verify_trail(
    store: SqlStore,
    public: Ed25519PublicKey,
    key: DataKey,
    archive_dir: Path,
    specs: Iterable[WitnessSpec] = (),
    held: Sequence[Checkpoint] = (),
    log_ids: Iterable[str] | None = None,
    check_index: bool = True,
    workers: int = 1,
) -> Verification:
    """The trail in ``store`` verified against ``held`` checkpoints and the witnesses of
    ``specs``: every checkpoint a witness holds must be reproduced by the store."""
    readings, unreadable = read_witnesses(specs, public)
    witnessed = [e.checkpoint for r in readings for e in r.entries]
    reports = verify_store(
        store, public, archive_dir, held, log_ids, check_index, workers, witnessed=witnessed
    )
    return Verification(reports, verify_queries(store, key), readings, unreadable)
