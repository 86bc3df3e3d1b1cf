"""The ``[telemetry]`` table (docs/telemetry.md): traces, metrics and logs."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

from pydantic.dataclasses import dataclass

from kernel.settings import TABLE, Flag, Info, Refused, Table, check, context, setting

LOG_LEVELS = ("debug", "info", "warning", "error")
_ENDPOINT = re.compile(r"https?://[^/\s?#]+(/[^\s?#]*)?")


def _service_name(value: Any, info: Info) -> str:
    """The key, else (from a config) OpenTelemetry's standard variable, else ``jointgate``."""
    standard = os.environ.get("OTEL_SERVICE_NAME", "") if context(info) else ""
    name = value if value is not None else standard or "jointgate"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", name):
        raise Refused(
            f"letters, digits, '.', '_', '-'; got {name!r}"
            + (" (set by OTEL_SERVICE_NAME)" if value is None else "")
        )
    return name


def _endpoint(value: Any) -> str:
    if not isinstance(value, str) or (value and not _ENDPOINT.fullmatch(value)):
        raise Refused(
            "the collector's OTLP/HTTP base URL, such as"
            f' "http://otel-collector:4318" ("" for none), got {value!r}'
        )
    return value.rstrip("/")


def _ratio(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise Refused(f"a share from 0 to 1, got {value!r}")
    return float(value)


def _log_format(value: Any) -> str:
    if value not in ("json", "text"):
        raise Refused(f"'json' or 'text', got {value!r}")
    return str(value)


def _log_level(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in LOG_LEVELS:
        raise Refused(f"one of {', '.join(LOG_LEVELS)}; got {value!r}")
    return value.lower()


@dataclass(frozen=True, slots=True, config=TABLE)
class TelemetrySettings(Table):
    """The ``[telemetry]`` table; every key checked, an unknown one named."""

    NAME = "telemetry"
    LIST_KEYS = True

    service_name: Annotated[str, check(_service_name)] = setting(
        None,
        "`service.name` of the spans and metrics; the key (or its override) wins over"
        " `OTEL_SERVICE_NAME`",
        shown="`jointgate` (env `OTEL_SERVICE_NAME` when set)",
        always=True,
        kind="str",
    )
    otlp_endpoint: Annotated[str, check(_endpoint)] = setting(
        "",
        "OTLP/HTTP collector base URL; traces go to `/v1/traces`, metrics to `/v1/metrics`",
        shown='`""` (env `OTEL_EXPORTER_OTLP_ENDPOINT`, else none)',
    )
    sample_ratio: Annotated[float, check(_ratio)] = setting(
        1.0,
        "share of new traces recorded when spans are exported (a caller's sampled"
        " `traceparent` is followed); without an exporter nothing is recorded",
    )
    log_format: Annotated[str, check(_log_format)] = setting(
        "json",
        "one JSON object per log line (`json`), or plain text (`text`)",
        shown="`json` (`text` in `jointgate demo`)",
    )
    log_level: Annotated[str, check(_log_level)] = setting(
        "info", "`debug`, `info`, `warning` or `error`; `debug` adds a line per request"
    )
    metrics: Annotated[bool, Flag] = setting(
        True, "`GET /metrics` (Prometheus text) and the OTLP metrics export; `false`: 404"
    )
