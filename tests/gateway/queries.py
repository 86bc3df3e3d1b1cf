"""Generated callers and queries, shared by the property tests.

``cases`` (used by test_need_to_know_property.py) draws a principal, a purpose, a case and a
query with aliases, inline and named fragments, nesting and lists, over the fields visible to
the principal (schema visibility: other fields are refused by validation, tested apart). ``requests`` (used by
executor/test_run.py) draws the same kind of query with more of the language in it: ``@include`` /
``@skip`` (literal or from variables), ``__typename`` anywhere, a field selected twice (merged),
root arguments from variables, identifiers that fail their check, and agencies that are down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from kernel.types import Principal
from tests.gateway.conftest import Harness, card, resident_id, uscc

AGENCIES = ["police", "market", "banking", "courts", "credit", "office"]
ROLES = [
    "investigator",
    "officer",
    "analyst",
    "regulator",
    "clerk",
    "emergency",
    "auditor",
    "jit-member",
]
CASES = ["JIT-2026-001", "J1101052026000003", "JIT-2026-999"]  # the last in no team


@dataclass
class Node:
    """One selected field: its response key, its (type, field), and its sub-selection."""

    key: str
    type_name: str
    field_name: str
    children: list[Node] = field(default_factory=list)


ROOTS: dict[str, tuple[str, Callable[[int], str]]] = {
    "enterprise": ("Enterprise", lambda i: f'(uscc: "{uscc(i)}")'),
    "person": ("Person", lambda i: f'(idNumber: "{resident_id(i)}")'),
    "bankAccount": ("BankAccount", lambda i: f'(number: "{card(i)}")'),
    "policeCase": ("PoliceCase", lambda i: f'(caseNumber: "J110105202600{i:04d}")'),
    "enterprises": (
        "EnterpriseConnection",
        lambda i: f'(nameContains: "财富", first: {i % 4 + 1})',
    ),
    # lookups by a list of identifiers (a missing one among them: i + 20 is not in the world)
    "persons": (
        "Person",
        lambda i: (
            f'(idNumbers: ["{resident_id(i)}", "{resident_id(i + 20)}", "{resident_id(i + 1)}"])'
        ),
    ),
    "courtCases": (
        "CourtCase",
        lambda i: f'(caseNumbers: ["(2025)京01民初{i + 1}号", "(2025)京01民初{i % 3 + 1}号"])',
    ),
}


Visible = frozenset[tuple[str, str]] | None  # (type, field) pairs to draw from; None: all


@st.composite
def selections(draw: st.DrawFn, type_name: str, depth: int, visible: Visible = None) -> list[Node]:
    from schema.unified import build_schema

    catalog = _catalog()
    fields = _fields_of(type_name, visible)
    chosen = draw(fields) if fields is not None else []
    nodes = []
    for index, name in enumerate(chosen):
        resource = catalog[(type_name, name)]
        alias = draw(_alias(index, name))
        node = Node(alias, type_name, name)
        if resource.target is not None:
            if depth >= 3:
                continue
            node.children = draw(selections(resource.target, depth + 1, visible))
            if not node.children:
                continue
        nodes.append(node)
    del build_schema
    return nodes or [Node("__typename", type_name, "__typename")]


_CATALOG: Any = None
_STRATEGIES: dict[Any, Any] = {}  # built once: drawing from a new strategy costs validating it


def _cached(key: Any, make: Callable[[], Any]) -> Any:
    strategy = _STRATEGIES.get(key)
    if strategy is None:
        strategy = _STRATEGIES[key] = make()
    return strategy


def _fields_of(type_name: str, visible: Visible = None) -> st.SearchStrategy[list[str]] | None:
    def make() -> st.SearchStrategy[list[str]] | None:
        fields = sorted(
            f for (t, f) in _catalog() if t == type_name and (visible is None or (t, f) in visible)
        )
        if not fields:
            return None
        return st.lists(st.sampled_from(fields), min_size=1, max_size=4, unique=True)

    return _cached(("fields", type_name, visible), make)  # type: ignore[no-any-return]


def _alias(index: int, name: str) -> st.SearchStrategy[str]:
    return _cached(  # type: ignore[no-any-return]
        ("alias", index, name), lambda: st.sampled_from([name, name, f"a{index}_{name}"])
    )


def _choice(*options: Any) -> st.SearchStrategy[Any]:
    return _cached(("choice", options), lambda: st.sampled_from(options))  # type: ignore[no-any-return]


def _catalog() -> Any:
    global _CATALOG
    if _CATALOG is None:
        from schema.unified import build_schema

        _CATALOG = build_schema().catalog
    return _CATALOG


def render(nodes: list[Node], fragments: dict[str, str], draw: st.DrawFn) -> str:
    parts = []
    for node in nodes:
        head = node.key if node.key == node.field_name else f"{node.key}: {node.field_name}"
        if node.field_name == "transactions":
            head += "(first: 3)"
        text = (
            head if not node.children else f"{head} {{ {render(node.children, fragments, draw)} }}"
        )
        style = draw(_choice("plain", "plain", "inline", "named"))
        if style == "inline":
            text = f"... on {node.type_name} {{ {text} }}"
        elif style == "named":
            name = f"F{len(fragments)}"
            fragments[name] = f"fragment {name} on {node.type_name} {{ {text} }}"
            text = f"...{name}"
        parts.append(text)
    return " ".join(parts)


@dataclass(frozen=True)
class Case:
    principal: Principal
    purpose: str
    case_id: str | None
    in_team: bool
    break_glass: str | None
    justification: str | None
    query: str
    tree: tuple[Node, ...]


_ROLE_LISTS = st.lists(st.sampled_from(ROLES), max_size=3)


@st.composite
def callers(draw: st.DrawFn) -> tuple[Principal, str, str | None]:
    principal = Principal(
        subject=draw(_choice("u-alpha", "u-beta", "jit.member")),
        agency=draw(_choice(*AGENCIES)),
        roles=frozenset(draw(_ROLE_LISTS)),
        clearance=draw(st.integers(0, 3)),
    )
    purpose = draw(
        _choice("investigation", "supervision", "risk-monitoring", "enforcement", "audit")
    )
    case_id = (
        draw(_choice(*CASES))
        if purpose in ("investigation", "enforcement")
        else draw(_choice(None, *CASES))
    )
    return principal, purpose, case_id


@st.composite
def cases(draw: st.DrawFn, visible: Callable[[Principal, bool], Visible] | None = None) -> Case:
    """``visible(principal, in_team)``: the fields the caller could ever see."""
    principal, purpose, case_id = draw(callers())
    in_team = draw(st.booleans())
    shown = visible(principal, in_team) if visible is not None else None
    root_names = sorted(r for r in ROOTS if shown is None or ("Query", r) in shown)
    root_lists = _cached(
        ("roots", shown), lambda: st.lists(st.sampled_from(root_names), min_size=1, max_size=2)
    )
    roots = []
    for index, root in enumerate(draw(root_lists)):
        type_name, args = ROOTS[root]
        alias = f"r{index}"
        roots.append(
            (
                Node(alias, "Query", root, draw(selections(type_name, 1, shown))),
                args(draw(st.integers(0, 13))),
            )
        )
    fragments: dict[str, str] = {}
    body = " ".join(
        f"{n.key}: {n.field_name}{args} {{ {render(n.children, fragments, draw)} }}"
        for n, args in roots
    )
    query = "query Q { " + body + " } " + " ".join(fragments.values())
    return Case(
        principal, purpose, case_id, in_team,
        draw(_choice(None, None, "urgent")), draw(_choice(None, "lead 42")),
        query, tuple(n for n, _ in roots),
    )  # fmt: skip


# the agency collection and key field behind each entity type of the small world
KEYS = {
    "Enterprise": ("market", "enterprise", "uscc"),
    "Person": ("police", "person", "id_number"),
    "BankAccount": ("banking", "account", "number"),
    "Transaction": ("banking", "transaction", "id"),
    "PoliceCase": ("police", "case", "case_number"),
    "CourtCase": ("courts", "court_case", "case_number"),
    "CreditReport": ("credit", "credit_report", "party_id"),
}


def vary_labels(harness: Harness) -> dict[tuple[str, str], dict[str, Any]]:
    """Give the world's records every handling code, sensitivity and case link, in place."""
    by_key = {}
    for type_name, (agency, kind, key) in KEYS.items():
        for i, row in enumerate(harness.agencies[agency]._records[kind]):
            row["handling_code"] = f"H{i % 4}"
            row["sensitivity"] = (i * 3) % 4
            row["linked_cases"] = ["JIT-2026-001"] if i % 3 == 0 else []
            by_key[(type_name, str(row[key]))] = row
    return by_key


# --- requests with more of the language, for comparing executors -------------------------------


def _bad(value: str) -> str:
    """The identifier with its last character changed: it fails its check."""
    return value[:-1] + ("0" if value[-1] != "0" else "1")


# root field -> (target type, argument, its type, a valid value for key i)
ARGUMENT_ROOTS: dict[str, tuple[str, str, str, Callable[[int], str]]] = {
    "enterprise": ("Enterprise", "uscc", "USCC!", uscc),
    "person": ("Person", "idNumber", "ResidentID!", resident_id),
    "bankAccount": ("BankAccount", "number", "AccountNumber!", card),
    "policeCase": ("PoliceCase", "caseNumber", "PoliceCaseNumber!", lambda i: f"J110105202600{i:04d}"),
    "courtCase": ("CourtCase", "caseNumber", "CourtCaseNumber!", lambda i: f"(2025)京01民初{i + 1}号"),
}  # fmt: skip


_REQUEST_ROOTS = st.lists(
    st.sampled_from(sorted({*ROOTS, *ARGUMENT_ROOTS})), min_size=1, max_size=3
)
_DOWN = st.lists(st.sampled_from(["market", "police", "banking", "courts", "credit"]), max_size=1)


@dataclass(frozen=True)
class Request:
    principal: Principal
    purpose: str
    case_id: str | None
    query: str
    variables: dict[str, Any] | None
    down: tuple[str, ...]  # agencies switched off for this request


class _Renderer:
    """Renders a selection tree with directives, __typename and repeated fields."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.fragments: dict[str, str] = {}
        self.variables: dict[str, bool] = {}

    def directive(self) -> str:
        kind = self.draw(_choice("", "", "", "", "@include", "@skip"))
        if not kind:
            return ""
        value = self.draw(_choice("true", "false", "$yes", "$no", "$maybe"))
        if value.startswith("$"):
            self.variables[value[1:]] = True
        return f" {kind}(if: {value})"

    def render(self, nodes: list[Node]) -> str:
        draw = self.draw
        parts = []
        for node in nodes:
            head = node.key if node.key == node.field_name else f"{node.key}: {node.field_name}"
            if node.field_name == "transactions":
                head += "(first: 3)"
            copies = draw(_choice(1, 1, 1, 2))  # the same key twice: merged
            for _ in range(copies):
                sub = self.render(node.children) if node.children else ""
                text = f"{head}{self.directive()}" + (f" {{ {sub} }}" if sub else "")
                style = draw(_choice("plain", "plain", "inline", "named"))
                if style == "inline":
                    text = f"... on {node.type_name}{self.directive()} {{ {text} }}"
                elif style == "named":
                    name = f"F{len(self.fragments)}"
                    self.fragments[name] = f"fragment {name} on {node.type_name} {{ {text} }}"
                    text = f"...{name}{self.directive()}"
                parts.append(text)
        if draw(_choice(False, False, False, True)):
            parts.insert(draw(st.integers(0, len(parts))), "__typename")
        return " ".join(parts)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    principal, purpose, case_id = draw(callers())
    renderer = _Renderer(draw)
    arguments: dict[str, str] = {}
    values: dict[str, Any] = {}
    roots = []
    for index, root in enumerate(draw(_REQUEST_ROOTS)):
        i = draw(st.integers(0, 13))
        if root in ARGUMENT_ROOTS:
            type_name, argument, argument_type, value_of = ARGUMENT_ROOTS[root]
            value = value_of(i)
            if draw(_choice(*[False] * 9, True)):
                value = _bad(value)  # literal: refused by validation; variable: BAD_USER_INPUT
            if draw(st.booleans()):
                variable = f"v{index}"
                arguments[variable] = argument_type
                values[variable] = value
                args = f"({argument}: ${variable})"
            else:
                args = f'({argument}: "{value}")'
        else:
            type_name, make_args = ROOTS[root]
            args = make_args(i)
        children = draw(selections(type_name, 1))
        body = renderer.render(children)
        roots.append(f"r{index}: {root}{args}{renderer.directive()} {{ {body} }}")
    if draw(_choice(False, False, False, False, True)):
        roots.append("__typename")
    flags = {"yes": True, "no": False, "maybe": draw(st.booleans())}
    for name in renderer.variables:
        arguments[name] = "Boolean!"
        values[name] = flags[name]
    declared = ", ".join(f"${name}: {t}" for name, t in arguments.items())
    query = f"query Q{f'({declared})' if declared else ''} {{ {' '.join(roots)} }} " + " ".join(
        renderer.fragments.values()
    )
    down = tuple(draw(_DOWN))
    return Request(principal, purpose, case_id, query, values or None, down)
