"""The house's layers hold (docs/architecture.md, "Layers"): read from the code's own imports.

Each package stands on a floor and imports only packages of lower floors; no two packages import
each other; no file imports itself back through others; a function-level import of the
project's own modules says why next to it (start-up time is the one reason).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# floor by package, bottom up (the same table is drawn in docs/architecture.md)
FLOORS = {
    "kernel": 0,
    "connectors": 1,
    "audit": 1,
    "signals": 1,
    "sandbox": 2,
    "schema": 2,
    "policies": 3,
    "office": 4,
    "gateway": 5,
    "console": 6,
    "commands": 7,
}
LAZY_REASON = "start-up"  # a function-level import of our own carries this word in its comment


def _modules() -> Iterator[tuple[str, Path]]:
    for package in FLOORS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


MODULES = dict(_modules())


def _imported(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    """The project modules one import statement names (``from pkg import mod`` as pkg.mod)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] in FLOORS]
    base = node.module or ""
    assert not node.level, f"{module}: relative import; the house uses absolute ones"
    if base.split(".")[0] not in FLOORS:
        return []
    names = [f"{base}.{a.name}" for a in node.names]
    return [n for n in names if n in MODULES] or [base]


def _imports(module: str) -> tuple[set[str], list[tuple[int, str, str]]]:
    """Module-level imports (TYPE_CHECKING ones too), and function-level ones with their line."""
    path = MODULES[module]
    source = path.read_text()
    lines = source.splitlines()
    top: set[str] = set()
    lazy: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for name in _imported(child, module):
                    if in_function:
                        lazy.append((child.lineno, name, lines[child.lineno - 1]))
                    else:
                        top.add(name)
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(ast.parse(source), False)
    return top, lazy


def _owner(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


GRAPH = {m: {_owner(n) for n in _imports(m)[0]} - {m} for m in MODULES}


def test_every_package_has_a_floor() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - {"tests", "bench", "scripts"} <= set(FLOORS), "give the new package a floor"


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_a_package_imports_only_lower_floors(package: str) -> None:
    upward = sorted(
        f"{m} imports {n}"
        for m, names in GRAPH.items()
        if m.split(".")[0] == package
        for n in names
        if n.split(".")[0] != package and FLOORS[n.split(".")[0]] >= FLOORS[package]
    )
    assert not upward, "\n".join(upward)


def test_no_file_level_import_cycle() -> None:
    """Tarjan's strongly connected components over the module-level import graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            connect(v)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_function_level_imports_of_our_own_say_why() -> None:
    unexplained = [
        f"{MODULES[m].relative_to(ROOT)}:{line}: {name}"
        for m in MODULES
        for line, name, text in _imports(m)[1]
        if LAZY_REASON not in text
        and LAZY_REASON not in MODULES[m].read_text().splitlines()[line - 2]
    ]
    assert not unexplained, "\n".join(unexplained)


def test_no_module_over_600_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {n}"
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) > 600
    ]
    assert not long, "\n".join(long)


STAGES = (  # the walk of one request, in order (gateway/pipeline.py's docstring)
    "gateway.graphql_http",
    "gateway.authn",
    "gateway.ratelimit",
    "gateway.purpose",
    "gateway.analyze",
    "gateway.authorize",
    "gateway.execute",
    "gateway.respond",
)
BESIDE_THE_WALK = {"gateway.telemetry", "gateway.settings"}  # spans and metrics; their defaults


def test_the_pipeline_enters_eight_stages_and_no_helper_of_theirs() -> None:
    entered = {n for n in GRAPH["gateway.pipeline"] if n.startswith("gateway.")}
    assert entered - BESIDE_THE_WALK == set(STAGES)
    assert len(STAGES) <= 8
    assert {n.split(".")[0] for n in GRAPH["gateway.pipeline"]} <= {
        "gateway", "kernel", "audit", "policies"
    }, "the audit contract is audit/log.py; break-glass reviews are policies/review.py"  # fmt: skip
    source = MODULES["gateway.pipeline"].read_text()
    for stage in STAGES:
        assert f"``{stage.split('.')[1]}``" in source.split('"""')[1], f"{stage}: not in the walk"
