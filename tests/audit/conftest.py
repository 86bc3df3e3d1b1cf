"""Audit fixtures: a trail configuration in a temporary data dir, and records like the
pipeline assembles them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from audit.config import AuditConfig, load_config
from gateway.settings import AuditSettings
from gateway.types import AgencyCall, AuditRecord

PERSON = "110105198001011234"
ENTERPRISE = "91110105MA0000001X"


def make_config(data_dir: Path, **settings: Any) -> AuditConfig:
    return load_config(AuditSettings(**{"log_id": "test-log", **settings}), data_dir)


@pytest.fixture
def config(tmp_path: Path) -> AuditConfig:
    return make_config(tmp_path)


def record(n: int = 0, **fields: Any) -> AuditRecord:
    """An investigator's enterprise lookup that showed a person and an enterprise."""
    rec = AuditRecord(
        request_id=fields.pop("request_id", uuid.uuid4().hex),
        received_at=1_790_000_000.0 + n,
        client="127.0.0.1",
        trace_id="0af7651916cd43dd8448eb211c80319c",
        subject=fields.pop("subject", "jit.member"),
        agency="police",
        roles=("investigator", "jit-member"),
        purpose="investigation",
        case_id=fields.pop("case_id", "JIT-2026-001"),
        justification="涉嫌非法吸收公众存款，核查法人",
        operation_name="Demo",
        operation_type="query",
        query_hash="0" * 64,
        query_text="query Demo($uscc: USCC!) { enterprise(uscc: $uscc) { name legalRepresentative { idNumber } } }",
        variables={"uscc": fields.pop("uscc", ENTERPRISE)},
        fields_requested=["enterprise.name", "enterprise.legalRepresentative.idNumber"],
        fields_allowed=["enterprise.name"],
        fields_masked=["enterprise.legalRepresentative.idNumber"],
        agency_calls=[AgencyCall("market", "enterprise", 1, "ok", 3.2)],
        policy_version="v1",
        status=200,
        outcome="ok",
        response_size=321,
        response_hash="ab" * 32,
        latency_ms=12.5,
    )
    rec.saw("Enterprise", ENTERPRISE)
    rec.saw("Person", fields.pop("person", PERSON))
    for key, value in fields.items():
        setattr(rec, key, value)
    return rec
