"""The executor stays readable: small modules that share only public names (issue #16)."""

from __future__ import annotations

import ast
from pathlib import Path

import gateway.executor

PACKAGE = Path(gateway.executor.__file__).parent
MAX_LINES = 600


def test_no_module_is_over_600_lines() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_modules_import_only_public_names_from_each_other() -> None:
    private = []
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gateway"):
                names = [alias.name for alias in node.names]
                private += [f"{path.name}: {node.module}.{n}" for n in names if n.startswith("_")]
    assert private == []
