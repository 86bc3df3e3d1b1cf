"""The README's quick start is true: its curl example sends a valid GraphQL request."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

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


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (README.parent / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    named = set(re.findall(r"`make ([a-z][\w-]*)", README.read_text()))
    named |= set(re.findall(r"^make ([a-z][\w-]*)", README.read_text(), re.M))
    assert named, "the README names no make target"
    assert named <= targets, f"README names targets the Makefile lacks: {named - targets}"
