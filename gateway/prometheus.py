"""Metrics as Prometheus reads them: the text exposition format (version 0.0.4) rendered from the
OpenTelemetry SDK's in-memory reader, and the callback that turns a dict of plain counts into an
observable counter's observations (gateway/telemetry.py keeps its counters that way).

    lines = exposition(metric.name, metric.unit, metric.description, metric.data)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics.export import Gauge, Histogram, Sum

__all__ = ["PROMETHEUS_CONTENT_TYPE", "exposition", "observe_counts"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def observe_counts(
    counts: Callable[[], dict[Any, int]], labels: Sequence[str]
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """An observable counter's callback over a dict of plain counts keyed by label values."""

    def callback(options: CallbackOptions) -> Iterable[Observation]:
        for key, value in counts().copy().items():  # copy: atomic, if OTLP reads from its thread
            values = key if isinstance(key, tuple) else (key,)
            yield Observation(value, dict(zip(labels, values, strict=True)))

    return callback


def exposition(name: str, unit: str, description: str, data: Any) -> list[str]:
    name = name.replace(".", "_") + ("_seconds" if unit == "s" else "")
    if isinstance(data, Sum) and data.is_monotonic:
        kind, name = "counter", name + "_total"
    elif isinstance(data, Sum | Gauge):
        kind = "gauge"
    elif isinstance(data, Histogram):
        kind = "histogram"
    else:
        return []
    lines = [f"# HELP {name} {_escape(description, help_text=True)}", f"# TYPE {name} {kind}"]
    for point in data.data_points:
        labels = dict(point.attributes or {})
        if kind != "histogram":
            lines.append(f"{name}{_labels(labels)} {_number(point.value)}")
            continue
        cumulative = 0
        for bound, count in zip(point.explicit_bounds, point.bucket_counts, strict=False):
            cumulative += count
            lines.append(f"{name}_bucket{_labels({**labels, 'le': _number(bound)})} {cumulative}")
        lines.append(f"{name}_bucket{_labels({**labels, 'le': '+Inf'})} {point.count}")
        lines.append(f"{name}_sum{_labels(labels)} {_number(point.sum)}")
        lines.append(f"{name}_count{_labels(labels)} {point.count}")
    return lines


def _labels(labels: Mapping[str, Any]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _escape(text: str, help_text: bool = False) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text if help_text else text.replace('"', '\\"')


def _number(value: float) -> str:
    return (
        repr(float(value))
        if isinstance(value, float) and not value.is_integer()
        else str(int(value))
    )
