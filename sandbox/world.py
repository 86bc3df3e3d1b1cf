"""The deterministic synthetic world that the four sandbox agencies serve.

:func:`generate` builds persons, enterprises, bank accounts, transactions, suspicious-transaction
reports, police cases and court cases from one ``random.Random(seed)``; the same seed and scale
always give byte-identical data (see :meth:`World.digest`). The same persons and enterprises
appear in every agency's data: legal representatives and shareholders are persons from the
population, account holders are persons and enterprises, suspects are persons, court parties are
persons and enterprises.

Records are plain dicts whose keys are exactly the field names of the agency APIs
(docs/sandbox.md), plus the three label fields. Court records use snake_case names; the courts
GraphQL service exposes them in camelCase. Indexes for the relation lookups live next to the
tables so that every lookup is a dict access.

Every world also contains the demo scenario (:attr:`World.scenario`): an illegal-fundraising
enterprise whose main account shows *scattered transfers in, concentrated transfers out*, linked
across all four agencies by the joint investigation case ``JIT-2026-001``.

The generators live in :mod:`sandbox.synth`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "BASE_COUNTS",
    "DEFAULT_SEED",
    "JOINT_CASE_ID",
    "LABEL_FIELDS",
    "Record",
    "World",
    "generate",
]

Record = dict[str, Any]
"""One record: field name → JSON-serialisable value."""

DEFAULT_SEED = 20261123
JOINT_CASE_ID = "JIT-2026-001"
LABEL_FIELDS = ("handling_code", "sensitivity", "linked_cases")

BASE_COUNTS: dict[str, int] = {
    "enterprises": 2_000,
    "persons": 5_000,
    "accounts": 8_000,
    "transactions": 200_000,
    "police_cases": 1_000,
    "court_cases": 3_000,
}
"""Record counts at scale 1 (before the demo scenario's own records are added)."""


@dataclass
class World:
    """All agencies' data: tables keyed by each record's identifier, plus relation indexes.

    ``scenario`` holds the demo scenario's identifiers: ``case_id`` (``JIT-2026-001``),
    ``enterprise_uscc``, ``enterprise_name``, ``person_id`` and ``person_name`` (the legal
    representative), ``account_number`` (the enterprise's main collection account),
    ``person_account_number``, ``police_case_number``, ``court_case_numbers`` (the civil suits),
    ``enforcement_case_number``, ``report_id``, ``accomplice_id``, ``accomplice_name``,
    ``shell_enterprise_uscc``, ``shell_enterprise_name``, ``outflow_account_numbers``,
    ``incoming_transfers``, ``distinct_investors``, ``total_in`` and ``total_out``.
    """

    seed: int
    scale: float
    persons: dict[str, Record]  # resident ID → person (police population registry)
    enterprises: dict[str, Record]  # USCC → enterprise (market registry)
    accounts: dict[str, Record]  # account number → account (banking)
    transactions: dict[str, Record]  # transaction id → transaction
    reports: dict[str, Record]  # report id → suspicious-transaction report
    police_cases: dict[str, Record]  # police case number → case
    court_cases: dict[str, Record]  # court case number → case (snake_case fields)
    defaulters: dict[str, Record]  # party id → 失信被执行人 entry
    scenario: dict[str, Any]
    accounts_by_holder: dict[str, list[str]] = field(default_factory=dict)
    transactions_by_account: dict[str, list[Record]] = field(default_factory=dict)
    reports_by_account: dict[str, list[Record]] = field(default_factory=dict)
    police_cases_by_suspect: dict[str, list[str]] = field(default_factory=dict)
    police_cases_by_enterprise: dict[str, list[str]] = field(default_factory=dict)
    enterprises_by_legal_rep: dict[str, list[str]] = field(default_factory=dict)
    court_cases_by_party: dict[str, list[str]] = field(default_factory=dict)
    enterprise_usccs_sorted: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of records in each table."""
        return {
            "persons": len(self.persons),
            "enterprises": len(self.enterprises),
            "accounts": len(self.accounts),
            "transactions": len(self.transactions),
            "reports": len(self.reports),
            "police_cases": len(self.police_cases),
            "court_cases": len(self.court_cases),
            "defaulters": len(self.defaulters),
        }

    def digest(self) -> str:
        """SHA-256 over every table and the scenario: equal digests mean identical worlds."""
        h = hashlib.sha256()
        for table in (
            self.persons,
            self.enterprises,
            self.accounts,
            self.transactions,
            self.reports,
            self.police_cases,
            self.court_cases,
            self.defaulters,
            self.scenario,
        ):
            h.update(orjson.dumps(table))
        return h.hexdigest()


def generate(scale: float = 1.0, seed: int = DEFAULT_SEED) -> World:
    """Build the synthetic world.

    ``scale`` multiplies every count in :data:`BASE_COUNTS` (each at least 1; persons at least
    enough to hold the demo scenario's investors). The demo scenario is planted on top whatever
    the scale. Deterministic: only ``random.Random(seed)`` is used and no clock is read. Takes
    about 2 s at scale 1.
    """
    if not scale > 0 or not math.isfinite(scale):
        raise ValueError(f"scale must be a positive number, got {scale}")
    from sandbox.synth import build  # the generators build on this module's types

    return build(scale, seed)
