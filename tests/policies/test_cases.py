"""The case registry (policies/cases.py), on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from policies.cases import (
    Case,
    CaseDirectory,
    CaseError,
    CaseStore,
    Subject,
    subject_identifier,
)
from policies.db import Database
from policies.teams import TeamDirectory, TeamError, TeamStore
from tests.gateway.conftest import card, resident_id, uscc

COORDINATOR = "office.coordinator"


def test_a_case_is_registered_with_its_subjects_and_officials(database: Database) -> None:
    store = CaseStore(database)
    case = store.register(
        "ｊ１１０１０５２０２６０００１２３", agency="police", title="某公司非法吸收公众存款案",
        by=COORDINATOR, subjects=[subject_identifier(uscc(1)), subject_identifier(card(1))],
        officials=["police.investigator"],
    )  # fmt: skip
    assert case.number == "J1101052026000123"  # NFKC, upper case: as X-Case-Id is taken
    assert case.open and case.source == "registered" and case.registered_by == COORDINATOR
    assert case.officials == ("police.investigator",)
    assert case.subjects == (Subject("account", card(1)), Subject("uscc", uscc(1)))
    assert store.get("j1101052026000123") == case  # found by any spelling
    assert [c.number for c in store.cases()] == ["J1101052026000123"]


def test_registry_mistakes_are_explained(database: Database) -> None:
    store = CaseStore(database)
    with pytest.raises(CaseError, match="not a valid case number: expected a police case"):
        store.register("C-1", agency="police", title="t", by=COORDINATOR)
    with pytest.raises(CaseError, match="owning agency is a short name"):
        store.register("JIT-2026-301", agency="Police Dept", title="t", by=COORDINATOR)
    with pytest.raises(CaseError, match="needs a title"):
        store.register("JIT-2026-301", agency="office", title=" ", by=COORDINATOR)
    with pytest.raises(CaseError, match="subject of their token"):
        store.register("JIT-2026-301", agency="office", title="t", by=" duty.officer")
    with pytest.raises(CaseError, match="subject of their token"):
        store.register("JIT-2026-301", agency="office", title="t", by=COORDINATOR,
                       officials=["duty\u200b.officer"])  # fmt: skip
    assert store.cases() == []  # nothing of a refused registration is kept
    store.register("JIT-2026-301", agency="office", title="t", by=COORDINATOR)
    with pytest.raises(CaseError, match="registered already"):
        store.register("jit-2026-301", agency="office", title="t", by=COORDINATOR)
    with pytest.raises(CaseError, match="no case JIT-2026-302 is registered"):
        store.assign("JIT-2026-302", "alice", by=COORDINATOR)


def test_subjects_are_checked_normalised_and_kept_with_their_kind() -> None:
    assert subject_identifier(uscc(2).lower()) == Subject("uscc", uscc(2))
    spaced = " ".join(card(2)[i : i + 4] for i in range(0, 19, 4))
    assert subject_identifier(spaced) == Subject("account", card(2))
    person = resident_id(3)
    assert subject_identifier(person, "resident-id") == Subject("resident-id", person)
    code = uscc(2)
    with pytest.raises(CaseError, match="check characters included"):
        subject_identifier(code[:-1] + ("0" if code[-1] != "0" else "1"))
    with pytest.raises(CaseError, match="not a valid resident identity number"):
        subject_identifier(uscc(2), "resident-id")
    with pytest.raises(CaseError, match="unknown subject kind"):
        subject_identifier(uscc(2), "passport")
    # an 18-digit number valid as a resident ID and as a USCC: the kind must be said
    both = next(r for n in range(2000) if _valid_uscc(r := resident_id(n)))
    with pytest.raises(CaseError, match="say which with --kind"):
        subject_identifier(both)


def _valid_uscc(value: str) -> bool:
    try:
        subject_identifier(value, "uscc")
    except CaseError:
        return False
    return True


def test_assignments_subjects_and_closure_are_kept_with_who_and_when(database: Database) -> None:
    store = CaseStore(database)
    store.register("JIT-2026-310", agency="office", title="t", by=COORDINATOR)
    store.assign("JIT-2026-310", "alice", by=COORDINATOR)
    with pytest.raises(CaseError, match="assigned to JIT-2026-310 already"):
        store.assign("JIT-2026-310", "alice", by=COORDINATOR)
    store.unassign("JIT-2026-310", "alice", by="supervisor")
    with pytest.raises(CaseError, match="not assigned"):
        store.unassign("JIT-2026-310", "alice", by=COORDINATOR)
    store.assign("JIT-2026-310", "alice", by=COORDINATOR)
    store.add_subject("JIT-2026-310", Subject("uscc", uscc(4)), by=COORDINATOR)
    with pytest.raises(CaseError, match="subject of JIT-2026-310 already"):
        store.add_subject("JIT-2026-310", Subject("uscc", uscc(4)), by=COORDINATOR)
    store.remove_subject("JIT-2026-310", Subject("uscc", uscc(4)), by=COORDINATOR)
    closed = store.close("JIT-2026-310", by="supervisor")
    assert not closed.open and closed.closed_by == "supervisor" and closed.subjects == ()
    first, second = closed.assignments
    assert (first.subject, first.removed_by, second.removed_at) == ("alice", "supervisor", None)
    with pytest.raises(CaseError, match="is closed"):
        store.assign("JIT-2026-310", "bob", by=COORDINATOR)
    with pytest.raises(CaseError, match="is closed"):
        store.close("JIT-2026-310", by=COORDINATOR)
    assert store.cases(open_only=True) == [] and len(store.cases()) == 1


def test_the_directory_answers_alike_for_unknown_closed_and_not_assigned(
    database: Database,
) -> None:
    store = CaseStore(database)
    directory = CaseDirectory(store)
    store.register("JIT-2026-320", agency="office", title="t", by=COORDINATOR,
                   officials=["alice"], subjects=[Subject("uscc", uscc(5))])  # fmt: skip
    store.register("JIT-2026-321", agency="office", title="t", by=COORDINATOR, officials=["bob"])
    store.close("JIT-2026-321", by=COORDINATOR)
    access = directory.access("alice", "JIT-2026-320", set())
    assert access is not None and access.direct and not access.team_only
    assert directory.access("bob", "JIT-2026-320", set()) is None  # not assigned
    assert directory.access("bob", "JIT-2026-321", set()) is None  # closed
    assert directory.access("alice", "JIT-2026-399", set()) is None  # never registered
    via_team = directory.access("carol", "JIT-2026-320", {"JIT-2026-320"})
    assert via_team is not None and via_team.team_only
    assert via_team.case.identifiers == frozenset({uscc(5)})
    both = directory.access("alice", "JIT-2026-320", {"JIT-2026-320"})
    assert both is not None and not both.team_only  # an official of the case: not through a team


def test_lookups_never_wait_for_the_database(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CaseStore(database)
    directory = CaseDirectory(store)
    store.register("JIT-2026-330", agency="office", title="t", by=COORDINATOR, officials=["erin"])

    def no_query(*args: object) -> None:
        raise AssertionError("the database was asked on the request path")

    monkeypatch.setattr(database, "query", no_query)
    assert all(directory.access("erin", "JIT-2026-330", ()) for _ in range(100))


def test_another_handle_sees_a_change_at_its_next_check(database: Database) -> None:
    other = Database(database.url)  # another process's connection to the same database
    try:
        writer, reader = CaseStore(other), CaseDirectory(CaseStore(database))
        writer.register("JIT-2026-340", agency="office", title="t", by=COORDINATOR)
        writer.assign("JIT-2026-340", "frank", by=COORDINATOR)
        assert reader.access("frank", "JIT-2026-340", ()) is None  # not seen until checked
        assert reader.check() and reader.access("frank", "JIT-2026-340", ()) is not None
        assert not reader.check()  # the version did not move: one small query, nothing re-read
        writer.close("JIT-2026-340", by=COORDINATOR)
        assert reader.check() and reader.access("frank", "JIT-2026-340", ()) is None
    finally:
        other.close()


def test_a_change_on_the_same_handle_is_seen_at_once(database: Database) -> None:
    writer, reader = CaseStore(database), CaseDirectory(CaseStore(database))
    writer.register("JIT-2026-350", agency="office", title="t", by=COORDINATOR, officials=["gina"])
    assert reader.access("gina", "JIT-2026-350", ()) is not None  # told by the handle


def test_a_team_covers_only_registered_open_cases(database: Database) -> None:
    cases, teams = CaseStore(database), TeamStore(database)
    with pytest.raises(TeamError, match=r"registered open cases only.*JIT-2026-360"):
        teams.create("T", ["JIT-2026-360"])
    cases.register("JIT-2026-360", agency="office", title="t", by=COORDINATOR)
    cases.register("JIT-2026-361", agency="office", title="t", by=COORDINATOR)
    cases.close("JIT-2026-361", by=COORDINATOR)
    with pytest.raises(TeamError, match="and these are not: JIT-2026-361"):
        teams.create("T", ["jit-2026-360", "JIT-2026-361"])
    assert teams.create("T", ["jit-2026-360"]).cases == ("JIT-2026-360",)


def test_member_windows_count_only_while_open(database: Database) -> None:
    cases, teams = CaseStore(database), TeamStore(database)
    directory = TeamDirectory(teams)
    cases.register("JIT-2026-370", agency="office", title="t", by=COORDINATOR)
    now = time.time()
    teams.create("T7", ["JIT-2026-370"], valid_until=now + 7200)
    teams.add_member("T7", "alice", valid_until=now + 3600)  # from now, for an hour
    teams.add_member("T7", "bob", valid_from=now + 1800)  # from in half an hour
    teams.add_member("T7", "carol")  # from now until the team ends
    assert [t.id for t in directory.memberships("alice")] == ["T7"]
    assert directory.memberships("alice", now + 3601) == []  # her window expired
    assert directory.memberships("bob") == []  # a member, outside his window
    assert [t.id for t in directory.memberships("bob", now + 1801)] == ["T7"]
    assert directory.memberships("bob", now + 7201) == []  # the team ended before his window
    assert [t.id for t in directory.memberships("carol", now + 7000)] == ["T7"]
    assert directory.memberships("carol", now + 7201) == []
    with pytest.raises(TeamError, match="valid-until must be after valid-from"):
        teams.add_member("T7", "dave", valid_from=now + 100, valid_until=now + 50)
    with pytest.raises(TeamError, match="in the past"):
        teams.add_member("T7", "dave", valid_from=now - 200, valid_until=now - 100)
    with pytest.raises(TeamError, match="subject of their token"):
        teams.add_member("T7", " alice")
    team = teams.get("T7")
    assert team.members == ("alice", "bob", "carol")  # members whether their window is open
    assert team.member_active("alice", now + 10) and not team.member_active("bob", now + 10)


def test_a_governance_database_of_the_first_version_is_upgraded(tmp_path: Path) -> None:
    """Team members stored before the windows existed: their columns are added, their window is
    the team's; the registry's tables are created beside."""
    path = tmp_path / "governance.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(
            """
            CREATE TABLE jg_teams (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, cases TEXT NOT NULL,
                valid_from DOUBLE PRECISION NOT NULL, valid_until DOUBLE PRECISION,
                closed_at DOUBLE PRECISION, created_by TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL);
            CREATE TABLE jg_team_members (
                team_id TEXT NOT NULL, subject TEXT NOT NULL,
                added_at DOUBLE PRECISION NOT NULL, removed_at DOUBLE PRECISION,
                PRIMARY KEY (team_id, subject, added_at));
            CREATE TABLE jg_governance_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL);
            INSERT INTO jg_governance_version VALUES (1, 7);
            INSERT INTO jg_teams VALUES ('OLD', 'old', '["JIT-2026-001"]', 0, NULL, NULL, 'cli', 0);
            INSERT INTO jg_team_members VALUES ('OLD', 'alice', 1, NULL);
            """
        )
    old.close()
    db = Database(f"sqlite:///{path}")
    try:
        teams = TeamStore(db)
        assert [t.id for t in TeamDirectory(teams).memberships("alice")] == ["OLD"]
        assert teams.version() == 7
        CaseStore(db).register("JIT-2026-380", agency="office", title="t", by=COORDINATOR)
        teams.create("NEW", ["JIT-2026-380"])
        teams.add_member("NEW", "bob", valid_until=time.time() + 60)
        again = Database(f"sqlite:///{path}")
        TeamStore(again)  # a second start: nothing to add twice
        again.close()
    finally:
        db.close()


def test_a_members_table_of_the_first_version_is_upgraded_on_either_database(
    database: Database,
) -> None:
    database.script(
        "CREATE TABLE IF NOT EXISTS jg_team_members (team_id TEXT NOT NULL, subject TEXT NOT"
        " NULL, added_at DOUBLE PRECISION NOT NULL, removed_at DOUBLE PRECISION,"
        " PRIMARY KEY (team_id, subject, added_at))"
    )
    TeamStore(database)
    TeamStore(database)  # twice: IF NOT EXISTS
    database.query(
        "INSERT INTO jg_team_members (team_id, subject, added_at, valid_from, valid_until) "
        "VALUES ('X', 'y', 1, 1, 2)"
    )


def test_an_assignment_made_meanwhile_leaves_one_row(database: Database) -> None:
    """Two coordinators assigning the same official at once left two active rows (a review of
    the console found it): the insert is guarded, the later one refused."""
    store = CaseStore(database)
    number = store.register("JIT-2026-777", agency="office", title="t", by=COORDINATOR).number
    first = CaseStore(database)

    class Slow(CaseStore):
        raced = False

        def _open(self, number: str) -> Case:
            found = super()._open(number)
            if not Slow.raced:  # the other coordinator assigns between the check and the write
                Slow.raced = True
                first.assign(number, "race.user", by="coordinator.one")
            return found

    with pytest.raises(CaseError, match="meanwhile"):
        Slow(database).assign(number, "race.user", by="coordinator.two")
    rows = database.query(
        "SELECT count(*) FROM jg_case_officials WHERE case_number = ? AND subject = ?"
        " AND removed_at IS NULL",
        (number, "race.user"),
    )
    assert rows[0][0] == 1
