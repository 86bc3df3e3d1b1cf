"""infra/alerts: Prometheus rules that parse, are complete, and name only metrics the gateway
exports (rendered by a real Telemetry at /metrics, not a list kept by hand)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from gateway.telemetry import LiveEvents, Telemetry
from gateway.telemetry_settings import TelemetrySettings
from tests.infra.conftest import INFRA

RULES = INFRA / "alerts" / "jointgate.rules.yaml"
DURATION = re.compile(r"^[0-9]+[smhd]$")
METRIC = re.compile(r"\b(jointgate_[a-z_]+)\b")


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def exported() -> set[str]:
    """The metric families /metrics shows, every one observed once."""
    telemetry = Telemetry(TelemetrySettings(metrics=True))
    telemetry.watch_redis({"events": lambda: {"state": "up", "failures": 0}})
    telemetry.watch_live(
        LiveEvents(
            lead_events=lambda: {"SUBMITTED": 1},
            active=lambda: 1,
            deliveries=lambda: {"delivered": 1, "withheld": 0},
            overdue=lambda: 1,
        )
    )
    telemetry.committed(0.001, False)
    text = telemetry.prometheus().decode()
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def test_the_rule_file_parses_into_named_groups() -> None:
    loaded = yaml.safe_load(RULES.read_text())
    names = [g["name"] for g in loaded["groups"]]
    assert names and len(names) == len(set(names))


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_every_rule_is_complete(rule: dict[str, Any]) -> None:
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
    assert re.fullmatch(r"JointGate[A-Za-z]+", rule["alert"])
    assert DURATION.match(rule["for"])
    assert rule["labels"]["severity"] in ("critical", "warning")
    assert {"summary", "description", "runbook"} <= set(rule["annotations"])
    assert (INFRA.parent / rule["annotations"]["runbook"].partition("#")[0]).exists()


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_every_metric_a_rule_names_is_exported(rule: dict[str, Any]) -> None:
    named = set(METRIC.findall(rule["expr"]))
    assert named and named <= exported(), named - exported()


def test_overdue_major_events_alert() -> None:
    (overdue,) = [r for r in rules() if r["alert"] == "JointGateMajorEventOverdue"]
    assert "jointgate_major_events_overdue" in overdue["expr"]
    assert overdue["labels"]["severity"] == "critical"
