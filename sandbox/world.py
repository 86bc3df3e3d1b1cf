"""The deterministic synthetic world that the five sandbox agencies serve.

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

The generators live in :mod:`sandbox.synth`; the tables' types in :mod:`sandbox.tables`.
"""

from __future__ import annotations

import math

from sandbox.synth import build
from sandbox.tables import (
    BASE_COUNTS,
    DEFAULT_SEED,
    JOINT_CASE_ID,
    LABEL_FIELDS,
    Record,
    World,
)

__all__ = [
    "BASE_COUNTS",
    "DEFAULT_SEED",
    "JOINT_CASE_ID",
    "LABEL_FIELDS",
    "Record",
    "World",
    "generate",
]


def generate(scale: float = 1.0, seed: int = DEFAULT_SEED) -> World:
    """Build the synthetic world.

    ``scale`` multiplies every count in :data:`BASE_COUNTS` (each at least 1; persons at least
    enough to hold the demo scenario's investors). The demo scenario is planted on top whatever
    the scale. Deterministic: only ``random.Random(seed)`` is used and no clock is read. Takes
    about 2 s at scale 1.
    """
    if not scale > 0 or not math.isfinite(scale):
        raise ValueError(f"scale must be a positive number, got {scale}")
    return build(scale, seed)
