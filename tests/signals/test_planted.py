"""Precision and recall of each flow detector on the planted world (sandbox/synth/patterns.py).

Every account of the session's world (scale 0.05: the planted patterns' floor of two instances
each, one of each decoy, on 10,000 random transactions) is read as the bank exports it and run
through :func:`signals.flows.detect` with the default settings, its pooling feeders' ledgers
included. Positives are the planted non-decoy entries of each kind; everything else flagged with
that kind, decoys included, is a false positive. ``pytest -s`` prints the scores.

Floors (docs/signals.md, "Planted world and scores"): recall 1.0 for every kind, because the
planted instances are built to meet the default thresholds with room to spare and a miss means
a detector broke; precision at least 0.8, because the random background may by chance hold an
account that really shows a pattern (at scale 1, seed 1, two sparse business accounts whose few
large receipts each left within two days: RAPID_PASS_THROUGH the detector is right to see;
none with the default seed), while no decoy may be flagged at all.
"""

from __future__ import annotations

from collections import defaultdict

from sandbox.ledgers import ledger_row
from sandbox.world import World
from signals.flows import detect, pool_feeder_candidates
from signals.model import FLOW_KINDS, Ledger, SignalKind
from signals.settings import SignalSettings

RECALL_FLOOR = 1.0
PRECISION_FLOOR = 0.8


def flagged(world: World) -> dict[SignalKind, set[str]]:
    settings = SignalSettings()
    ledgers = {n: Ledger.from_wire(ledger_row(world, n)) for n in world.accounts}
    found: dict[SignalKind, set[str]] = defaultdict(set)
    for number, ledger in ledgers.items():
        names = pool_feeder_candidates(ledger, settings)
        feeders = {n: ledgers[n] for n in names if n in ledgers}
        for signal in detect(ledger, settings, feeders):
            assert signal.subject == number
            found[signal.kind].add(number)
    return found


def test_precision_and_recall_of_every_flow_kind(world: World) -> None:
    found = flagged(world)
    print()
    for kind in sorted(FLOW_KINDS):
        entries = [p for p in world.planted if p["kind"] == kind.value]
        positives = {p["subject"] for p in entries if not p["decoy"]}
        decoys = {p["subject"] for p in entries if p["decoy"]}
        hits = found[kind]
        true = hits & positives
        precision = len(true) / len(hits) if hits else 1.0
        recall = len(true) / len(positives)
        print(
            f"{kind.value:30} planted {len(positives):3}  flagged {len(hits):3}  precision"
            f" {precision:.2f}  recall {recall:.2f}  decoys flagged {len(hits & decoys)}"
            f" of {len(decoys)}"
        )
        assert positives and decoys, kind
        assert recall >= RECALL_FLOOR, (kind, sorted(positives - hits))
        assert precision >= PRECISION_FLOOR, (kind, sorted(hits - positives))
        assert not hits & decoys, (kind, sorted(hits & decoys))


def test_the_demo_scenario_account_is_scattered_in_concentrated_out(world: World) -> None:
    number = world.scenario["account_number"]
    ledger = Ledger.from_wire(ledger_row(world, number))
    signals = detect(ledger, SignalSettings())
    assert [s.kind for s in signals] == [SignalKind.SCATTERED_IN_CONCENTRATED_OUT]
    [signal] = signals
    assert {"distinct_senders", "in_total", "top_receivers_share"} <= {
        m.name for m in signal.measures
    }
    receivers = {e.key for e in signal.evidence if e.note.startswith("receiver")}
    assert receivers <= set(world.scenario["outflow_account_numbers"])
