"""Queries the benchmarks send, kept in one place so every benchmark measures the same thing."""

from __future__ import annotations

from collections.abc import Sequence

# The demo investigation query: one enterprise across all four agencies.
DEMO_QUERY = """query Demo($uscc: USCC!) {
  enterprise(uscc: $uscc) {
    name status
    legalRepresentative { idNumber name }
    bankAccounts { number bank balance transactions(first: 20) { amount counterpartyName } }
    courtCases { caseNumber causeOfAction }
    policeCases { caseNumber charge status }
  }
}"""

# The peers query: 50 court cases × 10 fields, looked up by a list of numbers, the same query
# text for every peer (JointGate's CourtCaseNumber scalar checks each number's format).
CASE_FIELDS = (
    "caseNumber court causeOfAction stage filedOn parties { name partyType role } "
    "judgments { decidedOn outcome }"
)
PEERS_SUBGRAPH_QUERY = (
    f"query Cases($numbers: [String!]!) {{ courtCases(caseNumbers: $numbers) {{ {CASE_FIELDS} }} }}"
)


def peers_jointgate_query(numbers: Sequence[str]) -> str:
    listed = ", ".join(f'"{n}"' for n in numbers)
    return f"query Cases {{ courtCases(caseNumbers: [{listed}]) {{ {CASE_FIELDS} }} }}"


def fanout_query(first: int) -> str:
    """A list of ``first`` enterprises, each with links into the other three agencies."""
    return (
        f'{{ enterprises(nameContains: "有限", first: {first}) {{ nodes {{ uscc name status '
        "legalRepresentative { name } bankAccounts { number bank } "
        "courtCases { caseNumber stage } policeCases { caseNumber charge } } } }"
    )


def rows_query(enterprises: int, transactions: int) -> str:
    """A result of about ``enterprises × accounts × transactions`` rows (memory benchmark)."""
    return (
        f'{{ enterprises(nameContains: "有限", first: {enterprises}) {{ nodes {{ uscc name '
        f"bankAccounts {{ number bank balance transactions(first: {transactions}) "
        "{ id time amount direction channel counterpartyName } } } } }"
    )
