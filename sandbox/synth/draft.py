"""The world under construction, and the small helpers every generator uses.

A :class:`Draft` holds the one ``random.Random`` and every table and index while the generators
(:mod:`~sandbox.synth.registry`, :mod:`~sandbox.synth.finance`, :mod:`~sandbox.synth.cases`,
:mod:`~sandbox.synth.scenario`) fill it in; :meth:`Draft.to_world` freezes it into a
:class:`~sandbox.tables.World`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Generic, TypeVar

from sandbox import names
from sandbox.names import District, Industry
from sandbox.tables import BASE_COUNTS, Record, World

T = TypeVar("T")

# The world's "today": every date in it is on or before this day (no clock is read).
AS_OF = dt.date(2026, 10, 31)
TRANSACTIONS_FROM = dt.date(2024, 1, 1)

# The scenario's investors are drawn from the population, so the population has a floor.
SCENARIO_INVESTORS = 150
MIN_PERSONS = SCENARIO_INVESTORS + 50


class Weighted(Generic[T]):
    """Weighted choice among items, with the cumulative weights computed once."""

    def __init__(self, pairs: Sequence[tuple[T, int | float]]) -> None:
        self.items = [item for item, _ in pairs]
        self.cum = list(accumulate(weight for _, weight in pairs))

    def pick(self, rng: random.Random) -> T:
        return rng.choices(self.items, cum_weights=self.cum)[0]

    def stream(self, rng: random.Random, chunk: int = 4096) -> Iterator[T]:
        """An endless stream of picks, drawn in bulk (much faster than one pick at a time)."""
        while True:
            yield from rng.choices(self.items, cum_weights=self.cum, k=chunk)


def iso(day: dt.date) -> str:
    return day.isoformat()


def between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """A uniformly random day in [start, end] (``start`` if the range is empty)."""
    span = (end - start).days
    return start + dt.timedelta(days=rng.randint(0, span)) if span > 0 else start


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def money(value: float) -> float:
    return round(value, 2)


def labels(handling_code: str, sensitivity: int, linked: list[str] | None = None) -> Record:
    """The three label fields every top-level record carries."""
    return {
        "handling_code": handling_code,
        "sensitivity": sensitivity,
        "linked_cases": linked if linked is not None else [],
    }


def link(record: Record, *case_ids: str) -> None:
    """Add case ids to a record's ``linked_cases`` (kept unique, in order)."""
    linked: list[str] = record["linked_cases"]
    for case_id in case_ids:
        if case_id not in linked:
            linked.append(case_id)


@dataclass
class Draft:
    """Tables, indexes and the random source of a world being generated."""

    seed: int
    scale: float
    rng: random.Random
    target: dict[str, int]  # how many records of each kind to generate
    districts: Weighted[District] = field(
        default_factory=lambda: Weighted([(d, d.weight) for d in names.DISTRICTS])
    )

    persons: dict[str, Record] = field(default_factory=dict)
    people: list[Record] = field(default_factory=list)  # the population, for random picks
    person_district: dict[str, District] = field(default_factory=dict)
    enterprises: dict[str, Record] = field(default_factory=dict)
    enterprise_list: list[Record] = field(default_factory=list)
    enterprise_district: dict[str, District] = field(default_factory=dict)
    enterprise_industry: dict[str, Industry] = field(default_factory=dict)
    accounts: dict[str, Record] = field(default_factory=dict)
    transactions: dict[str, Record] = field(default_factory=dict)
    tx_by_account: dict[str, list[Record]] = field(default_factory=dict)
    reports: dict[str, Record] = field(default_factory=dict)
    police_cases: dict[str, Record] = field(default_factory=dict)
    court_cases: dict[str, Record] = field(default_factory=dict)
    defaulters: dict[str, Record] = field(default_factory=dict)
    credit: dict[str, Record] = field(default_factory=dict)  # party id -> credit report
    planted: list[Record] = field(default_factory=list)  # ground truth (World.planted)

    accounts_by_holder: dict[str, list[str]] = field(default_factory=dict)
    police_by_suspect: dict[str, list[str]] = field(default_factory=dict)
    police_by_enterprise: dict[str, list[str]] = field(default_factory=dict)
    enterprises_by_rep: dict[str, list[str]] = field(default_factory=dict)
    court_by_party: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def start(cls, scale: float, seed: int) -> Draft:
        target = {name: max(1, round(n * scale)) for name, n in BASE_COUNTS.items()}
        target["persons"] = max(target["persons"], MIN_PERSONS)
        return cls(seed=seed, scale=scale, rng=random.Random(seed), target=target)

    def pick_person(self, adult_on: dt.date | None = None) -> Record:
        """A random person from the population, at least 22 years old on ``adult_on``."""
        born_by = iso(add_years(adult_on, -22)) if adult_on else "9999"
        while True:
            person = self.rng.choice(self.people)
            if person["birth_date"] <= born_by:
                return person

    def holder_name(self, party_id: str) -> tuple[str, str]:
        """(name, ``person`` or ``enterprise``) of a resident ID or USCC of the world."""
        if party_id in self.persons:
            return self.persons[party_id]["name"], "person"
        return self.enterprises[party_id]["name"], "enterprise"

    def to_world(self, scenario: dict[str, Any]) -> World:
        reports_by_account: dict[str, list[Record]] = {}
        for report in sorted(self.reports.values(), key=lambda r: r["reported_on"], reverse=True):
            reports_by_account.setdefault(report["account_number"], []).append(report)
        return World(
            seed=self.seed,
            scale=self.scale,
            persons=self.persons,
            enterprises=self.enterprises,
            accounts=self.accounts,
            transactions=self.transactions,
            reports=self.reports,
            police_cases=self.police_cases,
            court_cases=self.court_cases,
            defaulters=self.defaulters,
            scenario=scenario,
            credit=self.credit,
            planted=self.planted,
            accounts_by_holder=self.accounts_by_holder,
            transactions_by_account=self.tx_by_account,
            reports_by_account=reports_by_account,
            police_cases_by_suspect={k: sorted(v) for k, v in self.police_by_suspect.items()},
            police_cases_by_enterprise={k: sorted(v) for k, v in self.police_by_enterprise.items()},
            enterprises_by_legal_rep=self.enterprises_by_rep,
            court_cases_by_party=self.court_by_party,
            enterprise_usccs_sorted=sorted(self.enterprises),
        )
