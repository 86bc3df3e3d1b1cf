"""Joint teams and the break-glass review queue, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest
import redis

from gateway.notify import ChangeNotifier, announce
from gateway.notify_settings import NotifySettings
from office.store import is_conflict
from policies.cases import CaseStore
from policies.db import Database
from policies.review import ReviewError, ReviewQueue
from policies.teams import TeamDirectory, TeamError, TeamStore


def register(database: Database, *numbers: str) -> None:
    """Teams cover registered open cases only (policies/cases.py)."""
    cases = CaseStore(database)
    for number in numbers:
        cases.register(number, agency="office", title="专案", by="office.coordinator")


@pytest.fixture
def database(database: Database) -> Database:
    """The governance database, with the cases these tests form teams for registered."""
    register(database, "J1101052026000001", *(f"JIT-2026-{n:03d}" for n in range(1, 8)))
    register(database, *(f"JIT-2026-{n}" for n in range(101, 106)))
    return database


def test_membership_counts_only_while_team_and_membership_are_valid(database: Database) -> None:
    store = TeamStore(database)
    directory = TeamDirectory(store)
    now = time.time()
    store.create(
        "JIT-1", ["JIT-2026-001", "J1101052026000001"], name="专案组", valid_until=now + 3600
    )
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
    store.create("JIT-2", ["JIT-2026-002"], valid_from=time.time() + 3600)
    store.add_member("JIT-2", "carol")
    assert TeamDirectory(store).memberships("carol") == []


def test_team_mistakes_are_explained(database: Database) -> None:
    store = TeamStore(database)
    with pytest.raises(TeamError, match="at least one case"):
        store.create("T", [])
    store.create("T", ["JIT-2026-101"])
    with pytest.raises(TeamError, match="exists already"):
        store.create("T", ["JIT-2026-101"])
    with pytest.raises(TeamError, match="no team X"):
        store.add_member("X", "alice")
    with pytest.raises(TeamError, match="not a member"):
        store.remove_member("T", "alice")


def test_a_team_covers_case_ids_as_the_gateway_takes_them(database: Database) -> None:
    store = TeamStore(database)
    team = store.create("T2", ["jit-2026-102", "ＪＩＴ－２０２６－１０３", "j1101052026000001"])
    assert team.cases == ("J1101052026000001", "JIT-2026-102", "JIT-2026-103")
    for bad in ("bad case!", "JIT一2026一001", "JIT-9", "C-1"):
        with pytest.raises(TeamError, match="not a valid case id: expected a police case number"):
            store.create("T3", ["JIT-2026-104", bad])
    with pytest.raises(TeamError, match=r"^a --case value is not a valid case id"):
        store.create("T3", ["JIT-2026-1\x0004"])
    with pytest.raises(TeamError, match="no team T3"):
        store.get("T3")  # nothing of a refused team is kept


def test_a_team_stored_with_another_spelling_covers_the_canonical_case(database: Database) -> None:
    store = TeamStore(database)
    store.create("T4", ["JIT-2026-105"])
    database.transaction(
        [("UPDATE jg_teams SET cases = ? WHERE id = ?", ('["jit-2026-105", "C-1"]', "T4"))]
    )
    assert store.get("T4").cases == ("JIT-2026-105", "C-1")


def test_covering_a_case_never_loses_another_writers_case(database: Database) -> None:
    """Two replicas open cases for one team at once: each read the team's case list before the
    other wrote it. The later commit must fail (and be decided again), not drop the first's."""
    store = TeamStore(database)
    store.create("T5", ["JIT-2026-001"])
    first = store.covering("T5", "JIT-2026-002")
    second = store.covering("T5", "JIT-2026-003")  # read before the first commits
    database.transaction(first)
    with pytest.raises(Exception) as refused:
        database.transaction(second)
    assert is_conflict(refused.value), refused.value
    assert store.get("T5").cases == ("JIT-2026-001", "JIT-2026-002")
    database.transaction(store.covering("T5", "JIT-2026-003"))  # decided again: both kept
    assert store.get("T5").cases == ("JIT-2026-001", "JIT-2026-002", "JIT-2026-003")


def test_two_stores_on_one_database_handle_see_each_others_changes(database: Database) -> None:
    writer, reader = TeamStore(database), TeamDirectory(TeamStore(database))
    writer.create("JIT-3", ["JIT-2026-003"])
    writer.add_member("JIT-3", "dave")
    assert [t.id for t in reader.memberships("dave")] == ["JIT-3"]  # told by the handle


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


# --- the directory in a gateway: in memory, re-read on notification or at the periodic check ---

REDIS = "redis://127.0.0.1:6379/0"
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_lookups_never_wait_for_the_database(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TeamStore(database)
    directory = TeamDirectory(store)
    store.create("JIT-4", ["JIT-2026-004"])
    store.add_member("JIT-4", "erin")

    def no_query(*args: object) -> None:
        raise AssertionError("the database was asked on the request path")

    monkeypatch.setattr(database, "query", no_query)
    assert all([t.id for t in directory.memberships("erin")] == ["JIT-4"] for _ in range(100))


def test_another_handle_sees_a_change_at_its_next_check(database: Database) -> None:
    other = Database(database.url)  # another process's connection to the same database
    try:
        writer, reader = TeamStore(other), TeamDirectory(TeamStore(database))
        writer.create("JIT-5", ["JIT-2026-005"])
        writer.add_member("JIT-5", "frank")
        assert reader.memberships("frank") == []  # not seen until told, or the periodic check
        assert reader.check() and [t.id for t in reader.memberships("frank")] == ["JIT-5"]
        assert not reader.check()  # the version did not move: one small query, nothing re-read
    finally:
        other.close()


def notify_settings(url: str = REDIS, **values: float) -> NotifySettings:
    return NotifySettings(redis_url=url, channel=f"jg-test:{uuid.uuid4().hex[:10]}", **values)


async def wait_for(condition: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until the condition held; fails after timeout_s."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, "not within the time allowed"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def settled(notifier: ChangeNotifier) -> None:
    """Past the re-check a notifier runs when it subscribes, so what follows is the message's."""
    await wait_for(lambda: notifier.checks >= 1, 1.0)
    await asyncio.sleep(0.2)


async def test_a_change_announced_on_redis_is_seen_within_a_second(database: Database) -> None:
    other = Database(database.url)
    reader = TeamDirectory(TeamStore(database))
    settings = notify_settings(poll_s=60, recheck_s=60)  # only the message can make it in time
    notifier = ChangeNotifier(settings, origin="test-teams")
    notifier.watch("teams", lambda: asyncio.to_thread(reader.check))
    await notifier.start()
    try:
        assert notifier.status()["mode"] == "redis"
        await settled(notifier)
        writer = TeamStore(other)
        writer.create("JIT-6", ["JIT-2026-006"])
        writer.add_member("JIT-6", "grace")
        assert await asyncio.to_thread(announce, settings, "teams")
        took = await wait_for(lambda: bool(reader.memberships("grace")), 1.0)
        assert took < 1.0 and notifier.messages == 1
    finally:
        await notifier.aclose()
        other.close()


async def test_without_redis_changes_arrive_by_polling(database: Database) -> None:
    other = Database(database.url)
    reader = TeamDirectory(TeamStore(database))
    settings = notify_settings(DEAD_REDIS, poll_s=0.1, retry_s=60)
    notifier = ChangeNotifier(settings, origin="test-teams-polling")
    notifier.watch("teams", lambda: asyncio.to_thread(reader.check))
    await notifier.start()
    try:
        status = notifier.status()
        assert status["mode"] == "polling" and "ConnectionError" in status["error"]
        writer = TeamStore(other)
        writer.create("JIT-7", ["JIT-2026-007"])
        writer.add_member("JIT-7", "heidi")
        assert not await asyncio.to_thread(announce, settings, "teams")  # and nothing breaks
        await wait_for(lambda: bool(reader.memberships("heidi")), 1.0)
    finally:
        await notifier.aclose()
        other.close()


async def test_the_subscription_comes_back_after_redis_drops_it(database: Database) -> None:
    reader = TeamDirectory(TeamStore(database))
    settings = notify_settings(poll_s=0.05, retry_s=0.2, recheck_s=60)
    origin = f"test-drop-{uuid.uuid4().hex[:8]}"
    notifier = ChangeNotifier(settings, origin=origin)
    notifier.watch("teams", lambda: asyncio.to_thread(reader.check))
    await notifier.start()
    admin = redis.Redis.from_url(REDIS)
    try:
        ours = [c for c in admin.client_list() if c["name"] == f"jointgate-notify-{origin}"]
        assert ours, "the subscriber names its connection"
        for client in ours:
            admin.client_kill_filter(_id=client["id"])
        await wait_for(lambda: notifier.mode == "polling", 5.0)
        await wait_for(lambda: notifier.mode == "redis", 5.0)
        checks = notifier.checks
        assert await asyncio.to_thread(announce, settings, "teams")
        await wait_for(lambda: notifier.messages == 1 and notifier.checks > checks, 1.0)
    finally:
        admin.close()
        await notifier.aclose()
