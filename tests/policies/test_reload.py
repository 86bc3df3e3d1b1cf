"""Policies change without a restart: on file change or SIGHUP; a broken set is refused."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from gateway.app import create_app
from policies.reload import PolicyStore
from schema.unified import build_schema
from tests.gateway.conftest import open_harness, uscc

CATALOG = build_schema().catalog
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
            assert before["data"]["enterprise"]["bankAccounts"] == [{"balance": None}]
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
