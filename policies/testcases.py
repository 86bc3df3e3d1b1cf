"""The policy tests (``policies/tests/*.json``): principals by demo user name or by
description, the outcome of one case, and a whole directory of cases run against an engine.
``jointgate policy test`` and the console's Policies page (a draft's tests) both run them here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.types import Principal
from policies.engine import DecisionContext, PolicyEngine, RecordLabels
from sandbox.issuer import DEMO_USERS

TESTS_DIR = "tests"


def principal_for(user: str, agency: str | None = None, roles: Sequence[str] = (),
                  clearance: int | None = None) -> Principal:  # fmt: skip
    """A demo user by name, or any principal described by agency, roles and clearance."""
    demo = DEMO_USERS.get(user)
    if demo is None and agency is None:
        raise ValueError(f"'{user}' is not a demo user; give --agency, --role and --clearance")
    return Principal(
        subject=user,
        agency=agency or (demo.agency if demo else ""),
        roles=frozenset(roles or (demo.roles if demo else ())),
        clearance=clearance if clearance is not None else (demo.clearance if demo else 0),
    )


def run_case(engine: PolicyEngine, case: dict[str, Any]) -> str:
    """The outcome of one policy test case: allow / mask / deny, or visible / hidden."""
    who = case["principal"]
    principal = principal_for(
        who.get("user", "test-user"), who.get("agency"), who.get("roles", ()), who.get("clearance")
    )
    ctx = case.get("context", {})
    context = DecisionContext(
        purpose=ctx["purpose"], case_id=ctx.get("case_id", ""),
        justification=ctx.get("justification", ""), in_team=ctx.get("in_team", False),
        teams=tuple(ctx.get("teams", ())), break_glass=ctx.get("break_glass", False),
    )  # fmt: skip
    if "record" in case:
        labels = RecordLabels(**case["record"])
        decision = engine.decide_records(principal, context, [labels])[0]
        return "visible" if decision.visible else "hidden"
    type_name, _, field_name = case["field"].partition(".")
    resource = engine.catalog[(type_name, field_name)]
    return engine.decide(principal, context, [resource])[0].outcome.value


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: str  # the test file's name
    name: str
    expected: str
    got: str

    @property
    def passed(self) -> bool:
        return self.got == self.expected


def case_files(directory: Path) -> list[Path]:
    """The test files of a policy directory (``tests/*.json``), in name order."""
    return sorted((Path(directory) / TESTS_DIR).glob("*.json"))


def run_tests(directory: Path, engine: PolicyEngine) -> list[CaseResult]:
    """Every case of the directory's tests, decided by ``engine``; a case that cannot be decided
    (an unknown field, a malformed case) fails with the reason as its outcome."""
    results = []
    for path in case_files(directory):
        for case in json.loads(path.read_text())["cases"]:
            try:
                got = run_case(engine, case)
            except (KeyError, ValueError, TypeError) as exc:
                got = f"error: {exc}"
            results.append(CaseResult(path.name, str(case.get("name", "")), case["expect"], got))
    return results
