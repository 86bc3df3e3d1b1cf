"""Generation of the synthetic world; :func:`sandbox.world.generate` is the entry point.

One module per concern, all drawing from the one ``random.Random`` of a :class:`Draft`, in a
fixed order (that order is part of what makes the output reproducible):

- :mod:`~sandbox.synth.registry`: persons and enterprises
- :mod:`~sandbox.synth.finance`: accounts, transactions, suspicious-transaction reports
- :mod:`~sandbox.synth.cases`: police cases, court cases, enforcement, defaulters
- :mod:`~sandbox.synth.scenario`: the demo scenario, planted last
- :mod:`~sandbox.synth.credit`: credit reports, from a random source of their own
- :mod:`~sandbox.synth.patterns`: flow patterns and their decoys, with ground truth
  (``World.planted``), from a random source of their own
"""

from __future__ import annotations

from sandbox.synth import credit
from sandbox.synth.cases import CourtCases, PoliceCases
from sandbox.synth.draft import Draft
from sandbox.synth.finance import Finance
from sandbox.synth.patterns import Patterns
from sandbox.synth.registry import Registry
from sandbox.synth.scenario import Scenario
from sandbox.tables import World

__all__ = ["build"]


def build(scale: float, seed: int) -> World:
    """Generate a world (see :func:`sandbox.world.generate`)."""
    draft = Draft.start(scale, seed)
    registry, finance = Registry(draft), Finance(draft)
    police, courts = PoliceCases(draft), CourtCases(draft)
    registry.generate()
    finance.generate_accounts()
    finance.generate_transactions()
    police.generate()
    finance.generate_reports()
    courts.generate()
    # Planted last, on people with no other cases, so that nothing random blurs it.
    scenario = Scenario(draft, registry, finance, police, courts).plant()
    Patterns(draft, finance, scenario).plant()  # flow patterns and decoys, with ground truth
    credit.generate(draft, scenario)  # its own random source: the tables above stay as they were
    _derive_labels(draft)
    return draft.to_world(scenario)


def _derive_labels(draft: Draft) -> None:
    """Account, transaction and report labels follow from the cases the accounts are linked
    to; transactions are put newest first."""
    for account in draft.accounts.values():
        if account["linked_cases"] or account["status"] == "冻结":
            account["sensitivity"] = 3
            account["handling_code"] = "H2"
    for number, txs in draft.tx_by_account.items():
        account = draft.accounts[number]
        labels = (account["handling_code"], account["sensitivity"], account["linked_cases"])
        for tx in txs:
            tx["handling_code"], tx["sensitivity"], tx["linked_cases"] = labels
        txs.sort(key=lambda t: t["time"], reverse=True)
    for report in draft.reports.values():
        report["linked_cases"] = list(draft.accounts[report["account_number"]]["linked_cases"])
