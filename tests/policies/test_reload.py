"""Policies change without a restart: on file change or SIGHUP; a broken set is refused."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.notify import ChangeNotifier, announce
from gateway.notify_settings import NotifySettings
from policies.db import Database
from policies.engine import PolicyError
from policies.reload import PolicyStore, PolicyVersions, policy_files, publish
from schema.unified import build_schema
from tests.gateway.conftest import open_harness, uscc

CATALOG = build_schema().catalog
REDIS = "redis://127.0.0.1:6379/0"
ALLOW_BALANCES = """
@id("market-balances-for-a-test")
permit (principal, action == JointGate::Action::"read", resource == JointGate::Field::"BankAccount.balance")
when { principal.agency == "market" };
"""


def test_a_valid_change_replaces_the_version_and_a_broken_one_is_refused(
    policy_copy: Path,
) -> None:
    directory = policy_copy
    store = PolicyStore(directory, CATALOG)
    first = store.version
    (directory / "50-test.cedar").write_text(ALLOW_BALANCES)
    assert store.reload() and store.version != first
    second = store.version
    (directory / "60-broken.cedar").write_text("permit (principal, action, resource) when {")
    assert not store.reload()
    assert store.version == second
    assert store.last_error is not None and "60-broken.cedar:1" in store.last_error


async def test_the_watcher_reloads_when_files_change(policy_copy: Path) -> None:
    directory = policy_copy
    store = PolicyStore(directory, CATALOG)
    first = store.version
    watcher = asyncio.create_task(store.watch(0.05))
    try:
        (directory / "50-test.cedar").write_text(ALLOW_BALANCES)
        for _ in range(100):
            if store.version != first:
                break
            await asyncio.sleep(0.05)
        assert store.version != first
    finally:
        watcher.cancel()


async def test_a_policy_change_takes_effect_on_the_next_request_and_on_sighup(
    tmp_path: Path, policy_copy: Path
) -> None:
    directory = policy_copy
    query = '{ enterprise(uscc: "%s") { bankAccounts { balance } } }' % uscc(2)
    async with open_harness(
        tmp_path / "data", policy_dir=directory, policy_reload_s=3600
    ) as harness:
        app = create_app(harness.gateway)
        async with app.router.lifespan_context(app):  # installs the SIGHUP handler
            before = (
                await harness.query(query, user="market.officer", purpose="supervision", case=None)
            ).json()
            # no policy shows the officer balances: not even in its schema
            assert [e["message"] for e in before["errors"]] == [
                "Cannot query field 'balance' on type 'BankAccount'."
            ]
            (directory / "50-test.cedar").write_text(ALLOW_BALANCES)
            os.kill(os.getpid(), signal.SIGHUP)
            await asyncio.sleep(0.1)
            after = (
                await harness.query(query, user="market.officer", purpose="supervision", case=None)
            ).json()
            assert after == {"data": {"enterprise": {"bankAccounts": [{"balance": 2000.0}]}}}
            assert (
                harness.audit.records[-1].policy_version == harness.gateway.policies.engine.version
            )
            assert (
                harness.audit.records[-2].policy_version != harness.audit.records[-1].policy_version
            )


# --- a policy set shared through the governance database -------------------------------------


def copy_of(directory: Path, target: Path, extra: str = "") -> Path:
    target.mkdir()
    for path in directory.iterdir():
        if path.is_file():
            shutil.copy(path, target)
    if extra:
        (target / "50-test.cedar").write_text(extra)
    return target


def test_replicas_enforce_the_published_set_whatever_their_files_say(
    database: Database, policy_copy: Path, tmp_path: Path
) -> None:
    first = PolicyStore(policy_copy, CATALOG, PolicyVersions(database))  # bootstraps the database
    original = first.version
    other_db = Database(database.url)
    try:
        own_files = copy_of(policy_copy, tmp_path / "b-files", ALLOW_BALANCES)
        second = PolicyStore(own_files, CATALOG, PolicyVersions(other_db))
        assert second.version == first.version  # the database's set, not its own files
        assert second.status()["source"] == "database"
        changed = copy_of(policy_copy, tmp_path / "new", ALLOW_BALANCES)
        version = publish(changed, CATALOG, PolicyVersions(database), by="test")
        assert version != first.version
        assert second.check() and second.version == version
        assert first.check() and first.version == version
        assert not second.check()  # nothing moved: one small query
        # going back is a publication like any other
        publish(policy_copy, CATALOG, PolicyVersions(database))
        assert second.check() and second.version != version
        assert second.version == original
        assert [v for v, _, _ in PolicyVersions(database).history()] == [version, original]
    finally:
        other_db.close()


def test_a_set_that_does_not_validate_is_never_published(
    database: Database, policy_copy: Path, tmp_path: Path
) -> None:
    store = PolicyStore(policy_copy, CATALOG, PolicyVersions(database))
    broken = copy_of(
        policy_copy, tmp_path / "broken", "permit (principal, action, resource) when {"
    )
    with pytest.raises(PolicyError, match=r"50-test\.cedar:1"):
        publish(broken, CATALOG, PolicyVersions(database))
    active = PolicyVersions(database).active()
    assert active is not None and active.version == store.version


def test_a_stored_set_this_replica_cannot_load_is_refused_and_the_old_one_stays(
    database: Database, policy_copy: Path
) -> None:
    store = PolicyStore(policy_copy, CATALOG, PolicyVersions(database))
    before = store.version
    files = policy_files(policy_copy)
    # e.g. published by a newer build whose schema has a field this one does not know
    unknown = ALLOW_BALANCES.replace("BankAccount.balance", "BankAccount.interestRate")
    PolicyVersions(database).publish({**files, "50-new.cedar": unknown}, "0123456789abcdef")
    assert not store.check()
    assert store.version == before
    assert store.last_error is not None
    assert "0123456789abcdef/50-new.cedar:3" in store.last_error
    assert "BankAccount.interestRate is not a field" in store.last_error
    assert store.status()["error"] == store.last_error
    assert not store.check()  # refused once, not validated again at every check
    # a set whose files do not hash to the version it is stored under is refused too
    PolicyVersions(database).publish({**files, "50-test.cedar": ALLOW_BALANCES}, "fedcba9876543210")
    assert not store.check() and store.version == before
    assert "hash to" in (store.last_error or "")


async def test_in_shared_mode_a_changed_file_only_warns(
    database: Database, policy_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = PolicyStore(policy_copy, CATALOG, PolicyVersions(database))
    before = store.version
    watcher = asyncio.create_task(store.watch(0.02))
    try:
        (policy_copy / "50-test.cedar").write_text(ALLOW_BALANCES)
        for _ in range(100):
            if "jointgate policy propose" in caplog.text:
                break
            await asyncio.sleep(0.02)
        assert "jointgate policy propose" in caplog.text
        assert store.version == before
    finally:
        watcher.cancel()


async def test_a_published_set_is_in_force_on_a_subscribed_replica_within_a_second(
    database: Database, policy_copy: Path, tmp_path: Path
) -> None:
    replica = PolicyStore(policy_copy, CATALOG, PolicyVersions(database))
    before = replica.version
    settings = NotifySettings(
        redis_url=REDIS, channel=f"jg-test:{uuid.uuid4().hex[:10]}", poll_s=60, recheck_s=60
    )
    notifier = ChangeNotifier(settings, origin="test-policy")
    notifier.watch("policy", lambda: asyncio.to_thread(replica.check))
    await notifier.start()
    admin = Database(database.url)  # the administrator's connection, elsewhere
    try:
        for _ in range(100):  # past the re-check made on subscribing
            if notifier.checks >= 1:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        changed = copy_of(policy_copy, tmp_path / "new", ALLOW_BALANCES)
        publish(changed, CATALOG, PolicyVersions(admin), by="test")
        started = time.monotonic()
        assert await asyncio.to_thread(announce, settings, "policy")
        while replica.version == before:
            assert time.monotonic() - started < 1.0, "not in force within a second"
            await asyncio.sleep(0.01)
        assert notifier.messages == 1
    finally:
        await notifier.aclose()
        admin.close()


def test_a_proposal_from_the_command_line_refuses_a_broken_set(
    policy_copy: Path, tmp_path: Path
) -> None:
    """Proposed by one policy administrator, approved by another: then in force on a replica."""
    from tests.commands.officials import token

    url = f"sqlite:///{tmp_path / 'governance.sqlite3'}"
    database = Database(url)
    store = PolicyStore(policy_copy, CATALOG, PolicyVersions(database))
    where = ("--database", url, "--data-dir", str(tmp_path), "--notify", "")
    admin = (*where, "--token", token("policy.admin", tmp_path))
    broken = copy_of(
        policy_copy, tmp_path / "broken", "permit (principal, action, resource) when {"
    )
    out = jointgate("policy", "propose", str(broken), "--why", "test", *admin)
    assert out.returncode == 1 and "50-test.cedar:1" in out.stderr
    good = copy_of(policy_copy, tmp_path / "good", ALLOW_BALANCES)
    out = jointgate("policy", "propose", str(good), "--why", "balances for a test", *admin)
    assert out.returncode == 0, out.stderr
    proposal = out.stdout.split(" as ")[1].split()[0]
    assert not store.check()  # not in force until approved
    approver = (*where, "--token", token("policy.approver", tmp_path))
    out = jointgate("policy", "approve", proposal, *approver)
    assert out.returncode == 0, out.stderr
    assert "is in force" in out.stdout and "not announced" in out.stdout
    assert store.check() and store.version in out.stdout
    database.close()


def jointgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "commands.main", *args], capture_output=True, text=True, timeout=60
    )
