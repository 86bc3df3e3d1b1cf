"""Log lines: one JSON object per line, each carrying the request and the trace it belongs to.

    {"time": "2026-12-01T21:30:00.123Z", "level": "ERROR", "logger": "jointgate.pipeline",
     "message": "audit commit failed; refusing to answer", "request_id": "9f2c...",
     "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "error": {"type": "OSError", ...}}

The pipeline binds the request id and trace id once per request (:func:`bind`); a filter on the
handler copies them into every record written meanwhile, in that request's task and the tasks
it starts. Extras passed with ``extra={...}`` become keys of their own; any whose name says it
holds a secret is replaced by ``"[redacted]"``. Log calls never pass personal data (query
variables, results, justifications): those belong to the audit trail, sealed.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from gateway.settings import TelemetrySettings

__all__ = ["JsonFormatter", "RequestFilter", "TextFormatter", "bind", "configure", "unbind"]

_request: ContextVar[tuple[str, str] | None] = ContextVar("jointgate_log_request", default=None)
_RECORD_KEYS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_SECRET = re.compile(r"authorization|token|password|passwd|secret|(^|_)key$|cookie", re.I)
# libraries whose INFO lines quote request URLs, and so the identifiers looked up at agencies
QUIET = ("httpx", "httpcore")


def bind(request_id: str, trace_id: str) -> Token[tuple[str, str] | None]:
    """Log records written from now on in this context carry these ids; undo with unbind."""
    return _request.set((request_id, trace_id))


def unbind(token: Token[tuple[str, str] | None]) -> None:
    _request.reset(token)


class RequestFilter(logging.Filter):
    """Adds ``request_id`` and ``trace_id`` of the current request (``None`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _request.get()
        if not hasattr(record, "request_id"):
            record.request_id = bound[0] if bound else None
        if not hasattr(record, "trace_id"):
            record.trace_id = bound[1] if bound else None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "trace_id": getattr(record, "trace_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_KEYS and key not in line:
                line[key] = "[redacted]" if _SECRET.search(key) else value
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = {
                "type": record.exc_info[0].__name__,
                "stack": self.formatException(record.exc_info),
            }
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """For a terminal (``log_format = "text"``): the ids at the end, when there are any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        trace_id = getattr(record, "trace_id", None)
        if trace_id:
            text += f" [request {getattr(record, 'request_id', None)} trace {trace_id}]"
        return text


def configure(settings: TelemetrySettings, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records (uvicorn's included, with ``log_config=None``) to one handler
    on ``stream`` (standard error), formatted as ``settings.log_format`` says; replaces the
    handler an earlier call installed. HTTP client libraries log at WARNING at most: their
    INFO lines quote agency URLs, query strings (personal data) included."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.set_name("jointgate")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "jointgate"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
