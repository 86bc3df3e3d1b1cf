"""The office's store: migrations upgrade a store made by an older version in place, lead ids
are allocated once each under concurrency, and a transition racing another rolls back."""

from __future__ import annotations

import threading

import pytest

from kernel.workflow import LeadState
from office.store import (
    MIGRATIONS,
    V1_DDL,
    VERSION,
    Conflict,
    OfficeStore,
    migrate,
    schema_version,
)
from policies.db import Database
from tests.office.conftest import Office, declared, official, submission


def test_a_v1_store_is_upgraded_in_place_with_its_data_kept(database: Database) -> None:
    database.script(V1_DDL)
    database.query("INSERT INTO jg_office_migrations (version, what, at) VALUES (1, 'v1', 0)")
    database.transaction(
        [
            ("INSERT INTO jg_leads (id, state, category, source_agency, submitted_by, "
             "submitted_at, updated_at, region, description, amount, victims, attachments, "
             "version) VALUES ('L-2025-000007', 'SUBMITTED', 'OTHER', 'banking', "
             "'bank.analyst', 1.0, 1.0, '110105', '旧线索', 5.0, 2, '[]', 1)", ()),
            ("INSERT INTO jg_lead_sequence (year, last) VALUES (2025, 7)", ()),
        ]
    )  # fmt: skip
    assert schema_version(database) == 1
    store = OfficeStore(database)  # opening it upgrades it
    assert schema_version(database) == VERSION == MIGRATIONS[-1].version
    old = store.get("L-2025-000007")
    assert old is not None and old.lead.description == "旧线索" and old.lead.amount == 5.0
    assert old.lead.major is False and old.lead.major_deadline is None  # the new columns
    assert store.allocate_id(2025) == "L-2025-000008"  # the sequence kept too
    applied = database.query("SELECT version FROM jg_office_migrations ORDER BY version")
    assert [r[0] for r in applied] == [m.version for m in MIGRATIONS]
    assert migrate(database) == VERSION  # again: nothing to do, nothing breaks


def test_a_new_store_is_at_the_current_version(database: Database) -> None:
    OfficeStore(database)
    assert schema_version(database) == VERSION
    assert migrate(database, upto=1) == VERSION


def test_lead_ids_are_allocated_once_each_by_two_threads(database: Database) -> None:
    store = OfficeStore(database)
    other = Database(database.url)  # a second handle: another connection, like a replica
    try:
        stores = [store, OfficeStore(other)]
        got: list[list[str]] = [[], []]

        def allocate(i: int) -> None:
            for _ in range(40):
                got[i].append(stores[i].allocate_id(2026))

        threads = [threading.Thread(target=allocate, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = got[0] + got[1]
        assert len(set(ids)) == 80
        assert sorted(ids) == [f"L-2026-{n:06d}" for n in range(1, 81)]
        assert store.allocate_id(2027) == "L-2027-000001"  # a sequence per year
    finally:
        other.close()


async def test_a_transition_racing_another_on_the_same_lead_rolls_back(office: Office) -> None:
    desk = office.desk
    lead = (await desk.submit(official("bank.analyst"), declared("risk-monitoring"), "k",
                              submission())).lead.id  # fmt: skip
    stale = desk.store.get(lead)
    assert stale is not None
    await desk.verify(official("market.officer"), declared("supervision"), "v", lead,
                      LeadState.VERIFIED, "f")  # fmt: skip
    with pytest.raises(Conflict):  # the transition read before the verification collides
        desk.store.commit(
            desk.store.transition(stale, "verifyLead", LeadState.UNFOUNDED, "x", "market", 1.0)
        )
    fresh = desk.store.get(lead)
    assert fresh is not None and fresh.lead.state is LeadState.VERIFIED and fresh.version == 2
