"""Queries the benchmarks send, kept in one place so every benchmark measures the same thing."""

# The demo investigation query: one enterprise across all four agencies.
DEMO_QUERY = """query Demo($uscc: USCC!) {
  enterprise(uscc: $uscc) {
    name status
    legalRepresentative { idNumber name }
    bankAccounts { number bank balance transactions(first: 20) { amount counterparty } }
    courtCases { caseNumber causeOfAction }
    policeCases { caseNumber charge status }
  }
}"""
