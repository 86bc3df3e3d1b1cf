"""The README's quick start is true: its curl example sends a valid GraphQL request."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from commands.main import build_parser

README = Path(__file__).parents[1] / "README.md"

# stand-ins for the commands the snippet calls: jointgate answers as the demo does, and curl
# prints the body it would send
SHELL_STUBS = r"""
jointgate() {
  case "$1" in
    token) echo header.payload.signature ;;
    sandbox) echo '{"enterprise_uscc": "91110105MA0000001X"}' ;;
  esac
}
curl() {
  while [ $# -gt 0 ]; do
    if [ "$1" = "-d" ]; then printf '%s' "$2"; fi
    shift
  done
}
"""


def test_the_quick_start_curl_sends_valid_json() -> None:
    text = README.read_text()
    snippet = re.search(r"^TOKEN=.*?^\s*-d .*?\"\}\"$", text, re.M | re.S)
    assert snippet, "the quick start's TOKEN= ... curl -d block is missing from README.md"
    lines = [line for line in snippet.group(0).splitlines() if not line.startswith(". ")]
    shell = SHELL_STUBS + "\n".join(lines).replace("python -c", "python3 -c")
    sent = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=30)
    assert sent.returncode == 0, sent.stderr
    body = json.loads(sent.stdout)  # a newline inside the JSON string made this fail
    assert 'enterprise(uscc: "91110105MA0000001X")' in body["query"]
    assert "policeCases { caseNumber charge }" in body["query"]


STUB_USCC = "91110105MA0000001X"
# curl prints what it would send: a line per header, then the body
SENDING_CURL = r"""
jointgate() { echo "token-of-$2"; }
curl() {
  while [ $# -gt 0 ]; do
    case "$1" in
      -H) echo "header: $2" ;;
      -d) echo "body: $2" ;;
    esac
    shift
  done
}
USCC={STUB_USCC}
"""


def masking_snippet() -> str:
    """The README's second curl: one query, asked by each of the users it loops over."""
    text = README.read_text()
    snippet = re.search(r"^for WHO in .*?^done$", text, re.M | re.S)
    assert snippet, "the masking example (for WHO in ...; done) is missing from README.md"
    return snippet.group(0)


def masking_requests() -> list[tuple[str, dict[str, str], dict[str, object]]]:
    """(user, headers, body) of each request the masking example sends."""
    shell = SENDING_CURL.replace("{STUB_USCC}", STUB_USCC) + masking_snippet()
    sent = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=30)
    assert sent.returncode == 0, sent.stderr
    requests = []
    for block in filter(str.strip, sent.stdout.split("\n\n")):  # echo: a blank line after each
        lines = block.splitlines()
        headers = dict(line[len("header: ") :].split(": ", 1) for line in lines[:-1])
        assert lines[-1].startswith("body: ")
        body = json.loads(lines[-1][len("body: ") :])
        user = headers["Authorization"].removeprefix("Bearer token-of-")
        requests.append((user, headers, body))
    return requests


def test_the_masking_example_asks_as_two_users_for_supervision() -> None:
    requests = masking_requests()
    assert [user for user, _, _ in requests] == ["market.officer", "bank.analyst"]
    for _, headers, body in requests:
        assert headers["X-Purpose"] == "supervision" and "X-Case-Id" not in headers
        query = str(body["query"])
        assert 'enterprise(uscc: "91110105MA0000001X")' in query
        assert "bankAccounts { number bank }" in query
        assert "legalRepresentative { idNumber name }" in query


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (README.parent / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    named = set(re.findall(r"`make ([a-z][\w-]*)", README.read_text()))
    named |= set(re.findall(r"^make ([a-z][\w-]*)", README.read_text(), re.M))
    assert named, "the README names no make target"
    assert named <= targets, f"README names targets the Makefile lacks: {named - targets}"


def test_the_docs_examples_address_the_demo_gateway_at_its_port() -> None:
    """A newcomer pastes the docs' loopback URLs against `jointgate demo`: they name its port
    (docs/deployment.md's compose gateways, 8401 and 8402, are another setup)."""
    port = build_parser().parse_args(["demo"]).port  # the CLI's own default, not a copy
    docs = [README, *sorted((README.parent / "docs").glob("*.md"))]
    wrong = [
        f"{doc.name}: {url}"
        for doc in docs
        if doc.name != "deployment.md"
        for url in re.findall(
            r"(?:ws|http)s?://(?:127\.0\.0\.1|localhost):\d+/graphql", doc.read_text()
        )
        if not url.endswith(f":{port}/graphql")
    ]
    assert not wrong, wrong


def test_the_signals_and_tracing_example_sends_a_valid_query() -> None:
    """The quick start's riskSignals and traceFunds curl: valid JSON, a query the schema takes."""
    from graphql import parse, validate

    from sandbox.world import generate
    from schema.unified import build_schema

    scenario = generate(0.02).scenario  # real identifiers: the schema checks them
    uscc, account = scenario["enterprise_uscc"], scenario["account_number"]
    text = README.read_text()
    snippet = re.search(r"^ACCOUNT=.*?^\s*-d .*?\"\}\"$", text, re.M | re.S)
    assert snippet, "the quick start's ACCOUNT= ... curl block is missing from README.md"
    stubs = SHELL_STUBS.replace(
        '{"enterprise_uscc": "91110105MA0000001X"}',
        json.dumps({"enterprise_uscc": uscc, "account_number": account}),
    )
    shell = f"{stubs}USCC={uscc}\n" + snippet.group(0).replace("python -c", "python3 -c")
    sent = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=30)
    assert sent.returncode == 0, sent.stderr
    query = json.loads(sent.stdout)["query"]
    assert f'traceFunds(account: "{account}"' in query
    assert validate(build_schema().graphql, parse(query)) == []
