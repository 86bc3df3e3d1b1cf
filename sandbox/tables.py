"""The synthetic world's tables: the record type, the counts at scale 1, and :class:`World`,
which holds every agency's data. :mod:`sandbox.world` generates one (with :mod:`sandbox.synth`,
which fills these types in); the agencies serve it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

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
    # party id (USCC or resident ID) → credit report (the credit reference system, 征信)
    credit: dict[str, Record] = field(default_factory=dict)
    # the planted risk patterns and their decoys, the ground truth the signal tests score
    # against: {"kind": a signals.model.SignalKind value, "subject": account number or party
    # id, "decoy": bool, "group": name shared by a pattern's accounts, ...}
    planted: list[Record] = field(default_factory=list)
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
            "credit": len(self.credit),
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
            self.credit,
            self.planted,
        ):
            h.update(orjson.dumps(table))
        return h.hexdigest()
