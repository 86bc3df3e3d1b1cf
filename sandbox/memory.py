"""The synthetic world served in process through the connector test double (no HTTP).

For benchmarks and tests that measure or exercise the gateway alone: the same records the
sandbox services serve, behind ``connectors.memory.MemoryConnector`` with the real connectors'
lookups.
"""

from __future__ import annotations

from typing import Any

from connectors.banking import BankingConnector
from connectors.courts import CourtsConnector
from connectors.credit import CreditConnector
from connectors.market import MarketConnector
from connectors.memory import MemoryConnector
from connectors.police import PoliceConnector
from sandbox.world import World


def memory_connectors(world: World) -> dict[str, MemoryConnector]:
    court_cases = [
        {**case, "party_ids": [p["party_id"] for p in case.get("parties") or ()]}
        for case in world.court_cases.values()
    ]
    defaulters: list[dict[str, Any]] = [
        {"party_id": party, **entry, "handling_code": "H0", "sensitivity": 0, "linked_cases": []}
        for party, entry in world.defaulters.items()
    ]
    return {
        "police": MemoryConnector(
            "police", PoliceConnector.lookups,
            {"person": list(world.persons.values()), "case": list(world.police_cases.values())},
        ),
        "market": MemoryConnector(
            "market", MarketConnector.lookups, {"enterprise": list(world.enterprises.values())}
        ),
        "banking": MemoryConnector(
            "banking", BankingConnector.lookups,
            {"account": list(world.accounts.values()),
             "transaction": list(world.transactions.values()),
             "report": list(world.reports.values())},
        ),
        "courts": MemoryConnector(
            "courts", CourtsConnector.lookups, {"court_case": court_cases, "defaulter": defaulters}
        ),
        "credit": MemoryConnector(
            "credit", CreditConnector.lookups, {"credit_report": list(world.credit.values())}
        ),
    }  # fmt: skip
