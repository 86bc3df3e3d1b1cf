"""The ``graphql-http`` audit suite (npm) against a live ``jointgate demo``.

Every MUST passes; all results are the table in docs/graphql-over-http.md, which this test keeps
current. ``make test`` installs the suite (``npm ci --prefix tests/http/node``); to rewrite the
table after a change, run ``JOINTGATE_UPDATE_AUDIT_DOC=1 .venv/bin/pytest
tests/http/test_graphql_http_audit.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.http.conftest import LiveGateway

NODE_DIR = Path(__file__).parent / "node"
DOC = Path(__file__).parents[2] / "docs" / "graphql-over-http.md"
BEGIN, END = "<!-- audit results: generated -->", "<!-- end of audit results -->"
UPDATE = "JOINTGATE_UPDATE_AUDIT_DOC"
# the audits read __type: introspection is for the policy-admin role only (limits.introspection_roles)
AUDIT_USER, AUDIT_PURPOSE = "policy.admin", "supervision"


@pytest.fixture(scope="module")
def results(live: LiveGateway) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not installed: the GraphQL-over-HTTP audit (tests/http/node) needs Node.js"
            " 18 or later and npm, e.g. `apt-get install nodejs npm`"
        )
    if not (NODE_DIR / "node_modules" / "graphql-http").is_dir():
        pytest.fail(
            "the graphql-http audit suite is not installed: run `make test`, or"
            " `npm ci --prefix tests/http/node`"
        )
    env = os.environ | {
        "AUDIT_URL": live.url,
        "AUDIT_HEADERS": json.dumps(live.headers(AUDIT_USER, AUDIT_PURPOSE)),
    }
    done = subprocess.run(
        [node, "audit.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report: list[dict[str, Any]] = json.loads(done.stdout)
    return report


def test_every_must_passes(results: list[dict[str, Any]]) -> None:
    musts = [r for r in results if r["name"].startswith("MUST ")]
    assert len(musts) >= 13, "the suite ran fewer MUST audits than expected"
    failed = [
        f"{r['id']} {r['name']}: {r.get('reason')} ({r.get('responseStatus')})"
        for r in musts
        if r["status"] != "ok"
    ]
    assert not failed, "\n".join(failed)


def test_the_documented_results_are_current(results: list[dict[str, Any]]) -> None:
    table = render(results)
    text = DOC.read_text()
    head, found, rest = text.partition(BEGIN)
    assert found and END in rest, f"{DOC} has lost its {BEGIN} ... {END} markers"
    current, _, tail = rest.partition(END)
    if os.environ.get(UPDATE):
        DOC.write_text(f"{head}{BEGIN}\n{table}{END}{tail}")
        return
    assert current.strip() == table.strip(), (
        f"the audit results differ from {DOC.name}; if the change is intended, run"
        f" {UPDATE}=1 .venv/bin/pytest tests/http/test_graphql_http_audit.py"
    )


def render(results: list[dict[str, Any]]) -> str:
    installed = NODE_DIR / "node_modules" / "graphql-http" / "package.json"
    version = json.loads(installed.read_text())["version"]
    levels = ("MUST", "SHOULD", "MAY")
    counts = {
        level: (sum(r["status"] == "ok" for r in rs), len(rs))
        for level in levels
        if (rs := [r for r in results if r["name"].startswith(level + " ")])
    }
    summary = ", ".join(f"{level} {ok} of {total}" for level, (ok, total) in counts.items())
    lines = [
        f"graphql-http {version}, {len(results)} audits; passed: {summary}.",
        "",
        "| id | level | audit | result |",
        "|---|---|---|---|",
    ]
    ordered = sorted(results, key=lambda r: levels.index(r["name"].split(" ")[0]))
    for r in ordered:
        level, _, name = r["name"].partition(" ")
        if r["status"] == "ok":
            result = "pass"
        else:
            result = f"**not met**: {r['reason']} (got {r['responseStatus']})"
        name = name.replace("*/*", "`*/*`").replace("|", "\\|")
        lines.append(f"| {r['id']} | {level} | {name} | {result} |")
    return "\n".join(lines) + "\n"
