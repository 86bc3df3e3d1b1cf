"""Governance databases for tests: SQLite in a temp dir, and the real PostgreSQL server."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from policies.db import Database
from policies.engine import DEFAULT_DIR

PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'governance.sqlite3'}")
        yield db
        db.close()
        return
    schema = f"jg_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    db = Database(f"{PG}?options=-csearch_path%3D{schema}")
    try:
        yield db
    finally:
        db.close()
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A writable copy of the default policy set (policies and Cedar schema, no tests)."""
    target = tmp_path / "policies"
    target.mkdir()
    for path in [*DEFAULT_DIR.glob("*.cedar"), DEFAULT_DIR / "jointgate.cedarschema"]:
        shutil.copy(path, target)
    return target
