"""Links across domains go through ``schema.refs``: no domain module imports another, and every
reference there leads to the entity type it names."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import ForwardRef, get_args

import pytest
from strawberry.types.lazy_type import StrawberryLazyReference

from schema import refs
from schema.base import SPECS
from schema.unified import build_schema

SCHEMA = Path(refs.__file__).parent
DOMAINS = (
    "schema.enterprise",
    "schema.person",
    "schema.banking",
    "schema.police",
    "schema.court",
    "schema.credit",
)
REFERENCES = sorted(name for name in vars(refs) if name.endswith("_") and name[0].isupper())


def _schema_imports(module: str) -> set[str]:
    """Every ``schema.*`` module a module imports, at any level (``TYPE_CHECKING`` ones too)."""
    tree = ast.parse((SCHEMA / f"{module.split('.')[1]}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {name for name in found if name.startswith("schema.")}


@pytest.mark.parametrize("module", DOMAINS)
def test_a_domain_module_imports_no_other_domain(module: str) -> None:
    assert not _schema_imports(module) & (set(DOMAINS) - {module})


def test_the_references_import_no_schema_module() -> None:
    assert not _schema_imports("schema.refs")


@pytest.mark.parametrize("name", REFERENCES)
def test_a_reference_leads_to_the_entity_it_names(name: str) -> None:
    build_schema()
    target, lazy = get_args(getattr(refs, name))
    assert isinstance(target, ForwardRef) and isinstance(lazy, StrawberryLazyReference)
    cls = lazy.resolve_forward_ref(target).resolve_type()
    assert cls.__name__ == name.removesuffix("_") and cls.__module__ == lazy.module
    assert lazy.module in DOMAINS and SPECS[cls].kind is not None  # an @entity of a domain
