"""The cases tests and benchmarks declare in ``X-Case-Id``, registered in one place.

``X-Case-Id`` must name an open registered case the caller is assigned to (docs/purposes.md), so
every fixture that builds a gateway registers the cases its tests send, for the users that send
them, with :func:`register_fixture_cases`. The demo's own seeding (``commands.demo.prepare``)
registers ``JIT-2026-001`` with its team (jit.member, who declares it through the team only);
here every other demo user is assigned to it directly, and every demo user to the other fixture
cases, so that
tests of need-to-know decide on the same facts as before the registry: a case declared
(``has_case``), in a team or not (``in_team``). Tests of the registry itself use case ids that
are in none of these.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from commands.demo import DEMO_TEAM, governance_url, prepare
from policies.cases import CaseStore
from policies.db import Database
from policies.teams import TeamStore
from sandbox.issuer import DEMO_USERS

#: case id -> owning agency; every demo user is assigned to each
FIXTURE_CASES = {
    "J1101052026000001": "police",
    "J1101052026000002": "police",
    "J1101052026000003": "police",
    "J1101052026000004": "police",
    "J1101052026000005": "police",
    "(2026)京0102执1901号": "courts",
    "JIT-2026-777": "office",  # tests/gateway/test_replicas.py forms a team for it
    "JIT-2026-999": "office",  # in no team (tests/gateway/queries.py)
}
FIXTURE_BY = "test-fixture"
#: the demo users, and the other subjects tests/gateway/queries.py makes principals of
FIXTURE_USERS = (*DEMO_USERS, "u-alpha", "u-beta")


def register_fixture_cases(where: Path | str, users: Iterable[str] = FIXTURE_USERS) -> None:
    """Register the fixture cases in a data dir's governance database (``prepare`` run first,
    for the demo's team) or in the database at a URL, and assign ``users`` to them; what is
    there already is left alone."""
    url = where if isinstance(where, str) else governance_url(where)
    if not isinstance(where, str):
        prepare(where)
    db = Database(url)
    try:
        store = CaseStore(db)
        known = {c.number: c for c in store.cases()}
        if DEMO_TEAM not in known:  # a database prepare did not seed (PostgreSQL)
            store.register(DEMO_TEAM, agency="office", title="联合专案", by=FIXTURE_BY)
        for number, agency in FIXTURE_CASES.items():
            if number not in known:
                store.register(number, agency=agency, title=f"测试案件 {number}", by=FIXTURE_BY)
        # the team's members declare its cases through the team only (where the team is there)
        through_team = {(c, m) for t in TeamStore(db).list() for c in t.cases for m in t.members}
        for number in [DEMO_TEAM, *FIXTURE_CASES]:
            have = set(store.get(number).officials)
            for user in users:
                if user not in have and (number, user) not in through_team:
                    store.assign(number, user, by=FIXTURE_BY)
    finally:
        db.close()
