"""The planted flow patterns (sandbox/synth/patterns.py): ground truth, and nothing generated
before them changed."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.synth import patterns
from sandbox.world import World, generate
from signals.model import FLOW_KINDS


def _flows(world: World) -> list[dict[str, Any]]:
    """The flow patterns' ground truth (World.planted also holds the credit patterns')."""
    kinds = {k.value for k in FLOW_KINDS}
    return [e for e in world.planted if e["kind"] in kinds]


def test_ground_truth_names_accounts_of_the_world(world: World) -> None:
    assert _flows(world)
    seen = set()
    for entry in _flows(world):
        assert set(entry) == {"kind", "subject", "decoy", "group"}
        assert entry["subject"] in world.accounts
        assert world.transactions_by_account[entry["subject"]]
        assert (entry["kind"], entry["subject"]) not in seen
        seen.add((entry["kind"], entry["subject"]))
    groups = {e["group"].rsplit("-", 1)[0] for e in _flows(world)}
    assert groups >= {"demo", "scatter", "batches", "pool", "layer", "shop", "payroll", "sweep"}
    assert {"slow"} <= groups
    scenario = {"kind": "SCATTERED_IN_CONCENTRATED_OUT", "subject": world.scenario["account_number"],
                "decoy": False, "group": "demo-scenario"}  # fmt: skip
    assert scenario in world.planted


def test_planted_accounts_are_labelled_like_the_rest(world: World) -> None:
    for entry in _flows(world):
        for tx in world.transactions_by_account[entry["subject"]]:
            assert tx["handling_code"] == world.accounts[entry["subject"]]["handling_code"]


def test_planting_leaves_what_was_generated_before_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    planted = generate(0.02, seed=5)
    monkeypatch.setattr(patterns.Patterns, "plant", lambda self: None)
    plain = generate(0.02, seed=5)
    assert not _flows(plain)
    for table in ("persons", "enterprises", "police_cases", "court_cases", "reports"):
        assert getattr(plain, table) == getattr(planted, table), table
    assert plain.scenario == planted.scenario
    for number, account in plain.accounts.items():
        assert planted.accounts[number] == account
    for tx_id, tx in plain.transactions.items():
        assert planted.transactions[tx_id] == tx
    assert len(planted.transactions) > len(plain.transactions)
