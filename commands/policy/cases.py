"""Principals by demo user name or by description, and the outcome of one policy test case:
they live in :mod:`policies.testcases` (the console runs the tests too); named here for the
commands and tests that import them from here."""

from __future__ import annotations

from policies.testcases import principal_for, run_case

__all__ = ["principal_for", "run_case"]
