"""Joint teams and the break-glass review queue, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import time

import pytest

from policies.db import Database
from policies.review import ReviewError, ReviewQueue
from policies.teams import TeamDirectory, TeamError, TeamStore


def test_membership_counts_only_while_team_and_membership_are_valid(database: Database) -> None:
    store = TeamStore(database)
    directory = TeamDirectory(store)
    now = time.time()
    store.create("JIT-1", ["JIT-1", "J1101052026000001"], name="专案组", valid_until=now + 3600)
    store.add_member("JIT-1", "alice")
    assert [t.id for t in directory.memberships("alice")] == ["JIT-1"]
    assert directory.memberships("alice", now + 7200) == []  # after valid-until
    assert directory.memberships("bob") == []
    store.remove_member("JIT-1", "alice")
    assert directory.memberships("alice") == []  # seen at once: the version moved
    store.add_member("JIT-1", "alice")
    store.close("JIT-1")
    assert directory.memberships("alice") == []
    with pytest.raises(TeamError, match="closed"):
        store.add_member("JIT-1", "bob")


def test_future_teams_are_not_active_yet(database: Database) -> None:
    store = TeamStore(database)
    store.create("JIT-2", ["JIT-2"], valid_from=time.time() + 3600)
    store.add_member("JIT-2", "carol")
    assert TeamDirectory(store).memberships("carol") == []


def test_team_mistakes_are_explained(database: Database) -> None:
    store = TeamStore(database)
    with pytest.raises(TeamError, match="at least one case"):
        store.create("T", [])
    store.create("T", ["C-1"])
    with pytest.raises(TeamError, match="exists already"):
        store.create("T", ["C-1"])
    with pytest.raises(TeamError, match="no team X"):
        store.add_member("X", "alice")
    with pytest.raises(TeamError, match="not a member"):
        store.remove_member("T", "alice")


def test_two_stores_on_one_database_see_each_others_changes(database: Database) -> None:
    writer, reader = TeamStore(database), TeamDirectory(TeamStore(database))
    writer.create("JIT-3", ["JIT-3"])
    writer.add_member("JIT-3", "dave")
    assert [t.id for t in reader.memberships("dave")] == ["JIT-3"]


def test_break_glass_accesses_wait_for_an_independent_reviewer(database: Database) -> None:
    queue = ReviewQueue(database)
    access = queue.record(request_id="r1", subject="duty", agency="police", purpose="investigation",
                          case_id="J1", reason="flight risk", fields=["b.balance", "a.number"])  # fmt: skip
    (pending,) = queue.pending()
    assert pending.id == access and pending.fields == ("a.number", "b.balance")
    with pytest.raises(ReviewError, match="cannot be signed off by the user who made it"):
        queue.sign_off(access, "duty")
    signed = queue.sign_off(access, "supervisor", "justified")
    assert signed.reviewed_by == "supervisor" and queue.pending() == []
    with pytest.raises(ReviewError, match="already"):
        queue.sign_off(access, "supervisor")
