"""Agencies (``/console/agencies``): each member agency's connector health (its circuit
breaker, load and retry budget: ``Connector.status()``) and, from the gateway's own metrics,
its call latency percentiles and error rate (the ``jointgate.agency.call.duration`` histogram
by agency and outcome, gateway/telemetry.py). What the gateway does not measure is shown as
"not measured", never estimated; no record value is ever shown. The read is recorded
(``console.agencies.view``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.i18n import messages
from console.web import Page, console, page, record, render
from gateway.governance import AUDITOR, CASE_ADMIN, POLICY_ADMIN
from gateway.telemetry import Telemetry

PAGE = Page("agencies", "agencies.title", (POLICY_ADMIN, AUDITOR, CASE_ADMIN), 60)
DURATION = "jointgate.agency.call.duration"
QUANTILES = (0.5, 0.95, 0.99)

messages(
    {
        "agencies.title": ("成员单位", "Agencies"),
        "agencies.intro": (
            "各成员单位接口的健康状况，以及自网关启动以来的调用延迟与错误率（仅统计，不显示任何记录内容）。",
            "Each member agency's connector health, and its call latency and error rate since"
            " the gateway started (counts only: no record is shown).",
        ),
        "agencies.agency": ("单位", "Agency"),
        "agencies.health": ("健康状况", "Health"),
        "agencies.circuit": ("熔断器", "Circuit"),
        "agencies.calls": ("调用次数", "Calls"),
        "agencies.errors": ("错误率", "Error rate"),
        "agencies.not_measured": ("未测量", "not measured"),
        "agencies.no_status": ("该接口不报告状态", "this connector reports no state"),
        "agencies.above": ("> {s}", "> {s}"),
        "agencies.metrics_off": (
            "网关未启用指标（[telemetry] metrics = false）：延迟与错误率未测量。",
            "The gateway's metrics are off ([telemetry] metrics = false): latency and errors"
            " are not measured.",
        ),
        "agencies.none": ("没有配置成员单位。", "No agency is configured."),
    }
)


@dataclass
class Calls:
    """One agency's measured calls: the duration histogram's buckets summed over outcomes."""

    bounds: Sequence[float] = ()
    buckets: list[int] = field(default_factory=list)
    total: int = 0
    failed: int = 0

    def add(self, bounds: Sequence[float], counts: Sequence[int], ok: bool) -> None:
        if not self.buckets:
            self.bounds, self.buckets = tuple(bounds), [0] * len(counts)
        for i, n in enumerate(counts):
            self.buckets[i] += n
        n = sum(counts)
        self.total += n
        if not ok:
            self.failed += n

    def quantile(self, q: float) -> tuple[float, bool] | None:
        """The ``q`` quantile, linearly interpolated in its bucket (as Prometheus'
        ``histogram_quantile``), and whether it lies above the last bound (then the bound)."""
        if self.total == 0:
            return None
        rank, seen = q * self.total, 0
        for i, n in enumerate(self.buckets):
            if n and seen + n >= rank:
                if i >= len(self.bounds):
                    return self.bounds[-1], True
                lower = self.bounds[i - 1] if i > 0 else 0.0
                return lower + (self.bounds[i] - lower) * (rank - seen) / n, False
            seen += n
        return self.bounds[-1], True


def measured(telemetry: Telemetry) -> dict[str, Calls] | None:
    """Every agency's calls as the metrics hold them; None when metrics are off."""
    reader = telemetry.metrics_reader
    if reader is None:
        return None
    telemetry.flush()
    data = reader.get_metrics_data()
    found: dict[str, Calls] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != DURATION:
                    continue
                for point in getattr(metric.data, "data_points", ()):
                    labels: Mapping[str, Any] = point.attributes or {}
                    calls = found.setdefault(str(labels.get("agency", "")), Calls())
                    calls.add(
                        point.explicit_bounds, point.bucket_counts, labels.get("outcome") == "ok"
                    )
    return found


def _seconds(value: tuple[float, bool] | None, lang_above: str) -> str | None:
    if value is None:
        return None
    shown = f"{value[0] * 1000:.1f} ms" if value[0] < 1 else f"{value[0]:.2f} s"
    return lang_above.replace("{s}", shown) if value[1] else shown


def _status(status: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A connector's state: its numbers and words only (nothing else is reported)."""
    return [
        (k, str(v)) for k, v in sorted(status.items())
        if isinstance(v, bool | int | str) or (isinstance(v, float) and math.isfinite(v))
    ]  # fmt: skip


def _rate(found: Calls | None) -> str | None:
    return f"{100 * found.failed / found.total:.1f} %" if found and found.total else None


@page(PAGE)
async def agencies(request: Request) -> Response:
    gateway = console(request).gateway
    await record(request, "console.agencies.view", {})
    calls = measured(gateway.telemetry)
    rows = []
    for name, connector in sorted(gateway.connectors.items()):
        status = connector.status()
        found = calls.get(name) if calls is not None else None
        rows.append({
            "name": name, "circuit": status.get("circuit"), "status": _status(status),
            "calls": found.total if found else None,
            "quantiles": [found.quantile(q) if found else None for q in QUANTILES],
            "error_rate": _rate(found),
        })  # fmt: skip
    return render(
        request, "agencies.html", rows=rows, metrics_on=calls is not None, seconds=_seconds,
        quantiles=[f"p{round(q * 100)}" for q in QUANTILES],
    )  # fmt: skip


ROUTES = [Route("/agencies", agencies)]
