"""The office's desk on a real governance database (SQLite and PostgreSQL), the default policy
set, the demo's officials and a clock the tests set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from kernel.types import Declaration, Principal, Purpose
from kernel.workflow import LeadCategory, LeadEvent, SubmitInput
from office.desk import OfficeDesk
from office.settings import OfficeSettings
from policies.cases import CaseStore, Subject
from policies.db import Database
from policies.engine import DEFAULT_DIR, PolicyEngine, load_bundle
from policies.teams import TeamStore
from sandbox.issuer import DEMO_USERS
from schema.unified import build_schema
from tests.gateway.conftest import card, resident_id, uscc
from tests.policies.conftest import database, policy_copy  # noqa: F401  (fixtures)

CATALOG = build_schema().catalog
ENGINE = PolicyEngine(load_bundle(DEFAULT_DIR, CATALOG), CATALOG)
T0 = 1_780_000_000.0  # 2026-05-28, a Thursday
TEAM = "JIT-2026-001"


def official(name: str) -> Principal:
    user = DEMO_USERS[name]
    return Principal(user.subject, user.agency, frozenset(user.roles), user.clearance)


def declared(purpose: str, case: str | None = None, **more: str) -> Declaration:
    return Declaration(Purpose(purpose), case, **more)


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Office:
    desk: OfficeDesk
    db: Database
    cases: CaseStore
    teams: TeamStore
    clock: Clock
    published: list[LeadEvent] = field(default_factory=list)


def make_office(
    db: Database,
    settings: OfficeSettings | None = None,
    engine: Callable[[], PolicyEngine] = lambda: ENGINE,
    clock: Clock | None = None,
) -> Office:
    cases, teams = CaseStore(db), TeamStore(db)
    if all(c.number != TEAM for c in cases.cases()):
        # the team investigates submission(1)'s enterprise: a case opened from such a lead
        # may join it (office/desk.py _investigating)
        cases.register(TEAM, agency="office", title="联合专案", by="office.coordinator",
                       subjects=[Subject("uscc", uscc(1))])  # fmt: skip
        teams.create(TEAM, [TEAM], created_by="office.coordinator")
        teams.add_member(TEAM, "jit.member", by="office.coordinator")
    clock = clock or Clock()
    published: list[LeadEvent] = []
    desk = OfficeDesk(
        db, cases, teams, engine, settings or OfficeSettings(), published.append, clock
    )
    return Office(desk, db, cases, teams, clock, published)


@pytest.fixture
def office(database: Database) -> Office:  # noqa: F811
    return make_office(database)


def submission(n: int = 1, **more: object) -> SubmitInput:
    values: dict[str, object] = {
        "category": LeadCategory.ILLEGAL_FUNDRAISING,
        "description": f"某财富公司承诺高息吸收公众存款（线索{n}）",
        "subjects": (uscc(n), f"resident-id:{resident_id(n)}", card(n)),
        "amount": 2_000_000.0,
        "victims": 30,
    }
    values.update(more)
    return SubmitInput(**values)  # type: ignore[arg-type]
