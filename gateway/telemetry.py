"""Traces, metrics and the log context of every request; one :class:`Telemetry` per gateway.

    Pipeline.handle ─▶ request()   server span, continuing the caller's ``traceparent``; its
                                   trace id goes into the audit record and every log line
        stage("analyze") ─▶ stage("authorize") ─▶ stage("execute") ─▶ agency exchange spans
                                   (connectors/http.py; ``traceparent`` sent to the agency)
        stage("audit.commit")
    ─▶ answered()                  request count and latency by operation and outcome

Cheap by construction (docs/telemetry.md has the measurements): the SDK's synchronous
instruments cost microseconds per call, so counters are plain integers the SDK reads at
collection time (observable counters), and only latencies use SDK histograms. Without a span
exporter the spans are not recorded (only their ids exist), and stage spans are skipped when
the request's span is not recorded. Metrics are read at ``GET /metrics`` (Prometheus text,
rendered here from an in-memory reader) and pushed by OTLP/HTTP when an endpoint is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import context, trace
from opentelemetry.metrics import CallbackOptions, NoOpMeterProvider, Observation
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, Span, SpanKind, StatusCode, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from audit.publish import WitnessState
from connectors.base import Connector
from connectors.http import ExchangeTelemetry
from gateway import logs
from gateway.prometheus import PROMETHEUS_CONTENT_TYPE, exposition, observe_counts
from gateway.settings import TelemetrySettings
from kernel.types import AuditRecord

__all__ = [
    "MAX_OPERATION_NAME",
    "MAX_OPERATION_NAMES",
    "PROMETHEUS_CONTENT_TYPE",
    "LiveEvents",
    "RequestTrace",
    "Telemetry",
]

log = logging.getLogger("jointgate.requests")
MAX_OPERATION_NAMES = 100  # distinct operation labels; later names are counted as "other"
MAX_OPERATION_NAME = 64  # characters of a name shown as a label; a longer one is "other"
# six digits in a row: a name that may quote an identifier (a USCC's region code, a resident ID,
# an account or a police case number); callers choose names, and /metrics shows them to its readers
_IDENTIFIER_LIKE = re.compile(r"[0-9]{6}")
_LABELS = frozenset({"none", "anonymous"})  # requests without a name the caller chose
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}
_PROPAGATOR = TraceContextTextMapPropagator()
_recorded: ContextVar[bool] = ContextVar("jointgate_request_recorded", default=False)
_NOTHING: contextlib.nullcontext[None] = contextlib.nullcontext()


@dataclass(frozen=True, slots=True)
class LiveEvents:
    """Where the live events' metrics are read (gateway/app.py wires them)."""

    lead_events: Callable[[], dict[str, int]]  # delivered on this replica, by kind
    active: Callable[[], int]  # subscriptions open
    deliveries: Callable[[], dict[str, int]]  # delivered / withheld
    overdue: Callable[[], int | None]  # overdue major events, as last counted (None: not yet)


@dataclass(frozen=True, slots=True)
class RequestTrace:
    span: Span
    trace_id: str  # 32 hex digits


class _UntilExported(Sampler):
    """Follows the caller's sampled flag; samples new traces at ``ratio`` once spans have an
    exporter, and none before (nobody would read them)."""

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio
        self._delegate: Sampler = ParentBased(ALWAYS_OFF)

    def exported(self) -> None:
        self._delegate = ParentBased(TraceIdRatioBased(self.ratio))

    def should_sample(
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"JointGate({self._delegate.get_description()})"


FLUSH_AFTER_S = 0.05  # latencies wait at most this long to be recorded (Telemetry._later)


class Telemetry:
    """Built from ``[telemetry]``; OTLP exporters when ``otlp_endpoint`` (or the standard
    ``OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]ENDPOINT`` variables) says where to."""

    def __init__(self, settings: TelemetrySettings) -> None:
        self.settings = settings
        # one instance per process: the series of gateway workers on one host stay apart
        resource = Resource.create(
            {
                "service.name": settings.service_name,
                "service.instance.id": f"{socket.gethostname()}/{os.getpid()}",
            }
        )
        self._sampler = _UntilExported(settings.sample_ratio)
        self.tracer_provider = TracerProvider(
            sampler=self._sampler, resource=resource, shutdown_on_exit=False
        )
        self.tracer = self.tracer_provider.get_tracer("jointgate")
        base = settings.otlp_endpoint
        if base or _env("TRACES"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.export_spans(OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None))
        self.metrics_reader: InMemoryMetricReader | None = None
        readers: list[MetricReader] = []
        if settings.metrics:
            self.metrics_reader = InMemoryMetricReader()
            readers.append(self.metrics_reader)
            if base or _env("METRICS"):
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                    OTLPMetricExporter,
                )

                endpoint = f"{base}/v1/metrics" if base else None
                readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint)))
        self.meter_provider: MeterProvider | NoOpMeterProvider = (
            MeterProvider(
                readers, resource, exemplar_filter=AlwaysOffExemplarFilter(), shutdown_on_exit=False
            )
            if settings.metrics
            else NoOpMeterProvider()  # instruments that do nothing, at no cost
        )
        self._operations: set[str] = set()
        self._requests: dict[tuple[str, str], int] = {}
        self._refusals: dict[str, int] = {}
        self._decisions = {"allow": 0, "mask": 0, "deny": 0}
        self._audit_failures = 0
        self._agency_errors: dict[tuple[str, str], int] = {}
        self._connectors: Mapping[str, Connector] = {}
        self._redis: Mapping[str, Callable[[], Mapping[str, Any]]] = {}  # service -> health()
        self._witnesses: Sequence[WitnessState] = ()
        self._overdue_reviews: Callable[[], int | None] = lambda: None  # gateway/governance.py
        self._live: LiveEvents | None = None  # gateway/events.py, gateway/subscriptions.py
        self._deferred: list[tuple[Any, float, dict[str, str] | None]] = []
        self._flush_scheduled = False
        self._instruments()

    def _instruments(self) -> None:
        meter = self.meter_provider.get_meter("jointgate")
        counted: Callable[..., Any] = meter.create_observable_counter
        counted(
            "jointgate.requests",
            [observe_counts(lambda: self._requests, ("operation", "outcome"))],
            "{request}",
            "Requests answered, by operation name and outcome (ok, partial, failed, refused)",
        )
        counted(
            "jointgate.refusals",
            [observe_counts(lambda: self._refusals, ("code",))],
            "{request}",
            "Requests refused as a whole, by error code (RATE_LIMITED, VOLUME_LIMITED, ...)",
        )
        counted(
            "jointgate.policy.decisions",
            [observe_counts(lambda: self._decisions, ("outcome",))],
            "{field}",
            "Field paths decided, by policy outcome (allow, mask, deny)",
        )
        counted(
            "jointgate.audit.commit.failures",
            [lambda _: [Observation(self._audit_failures)]],
            "{record}",
            "Audit records that could not be committed (each one a 503)",
        )
        counted(
            "jointgate.agency.errors",
            [observe_counts(lambda: self._agency_errors, ("agency", "error"))],
            "{call}",
            "Agency calls that failed after retries, by agency and error",
        )
        meter.create_observable_gauge(
            "jointgate.agency.circuit.state",
            [self._circuits],
            description="Circuit breaker per agency: 0 closed, 1 half-open, 2 open",
        )
        meter.create_observable_gauge(
            "jointgate.redis.up",
            [self._redis_health("state", lambda state: int(state != "away"))],
            description="Redis reachable (1; also before the first call) or away (0), by service",
        )
        counted(
            "jointgate.redis.failures",
            [self._redis_health("failures", int)],
            "{call}",
            "Redis calls and checks that failed (the service fell back), by service",
        )
        meter.create_observable_gauge(
            "jointgate.audit.witness.up",
            [self._witness("up")],
            description="Audit witness took the latest checkpoint it was given (1), is down or"
            " refusing (0), by witness",
        )
        counted(
            "jointgate.audit.witness.failures",
            [self._witness("failures")],
            "{attempt}",
            "Attempts to publish a checkpoint to a witness that could not reach or write it"
            " (each retried), by witness",
        )
        counted(
            "jointgate.audit.witness.refusals",
            [self._witness("refusals")],
            "{checkpoint}",
            "Checkpoints a witness refused as inconsistent with what it holds (a rolled-back or"
            " replaced store), by witness",
        )
        meter.create_observable_gauge(
            "jointgate.audit.witness.size",
            [self._witness("size")],
            "{record}",
            "Records covered by the latest checkpoint a witness took, by witness",
        )
        meter.create_observable_gauge(
            "jointgate.reviews.overdue",
            [self._overdue],
            "{access}",
            "Break-glass accesses past their review deadline (governance.review_deadline_h),"
            " not yet signed off",
        )
        meter.create_observable_gauge(
            "jointgate.major_events.overdue",
            [self._live_value(lambda live: live.overdue())],
            "{lead}",
            "Major events past their 24-hour reporting deadline, not acknowledged by the joint"
            " office (as last swept)",
        )
        counted(
            "jointgate.lead.events",
            [observe_counts(lambda: self._live.lead_events() if self._live else {}, ("kind",))],
            "{event}",
            "Lead events delivered on this replica (its own and other replicas'), by kind",
        )
        meter.create_observable_gauge(
            "jointgate.subscriptions.active",
            [self._live_value(lambda live: live.active())],
            "{subscription}",
            "GraphQL subscriptions open on this replica",
        )
        counted(
            "jointgate.subscription.events",
            [observe_counts(lambda: self._live.deliveries() if self._live else {}, ("outcome",))],
            "{event}",
            "Events decided for a subscriber: delivered, or withheld (the lead not readable)",
        )
        meter.create_observable_gauge(
            "jointgate.agency.in_flight",
            [self._status_count("in_flight")],
            "{call}",
            "Agency calls in flight",
        )
        meter.create_observable_gauge(
            "jointgate.agency.connections",
            [self._status_count("connections")],
            "{connection}",
            "Keep-alive connections open to the agency",
        )

        def histogram(name: str, description: str) -> Any:
            return meter.create_histogram(
                name, "s", description, explicit_bucket_boundaries_advisory=SECONDS
            )

        self._request_seconds = histogram(
            "jointgate.request.duration", "Request latency, by operation name and outcome"
        )
        self._audit_seconds = histogram("jointgate.audit.commit.duration", "Audit commit latency")
        self._agency_seconds = histogram(
            "jointgate.agency.call.duration",
            "Agency call latency (retries included), by agency and outcome",
        )

    def export_spans(self, exporter: SpanExporter, processor: Any = BatchSpanProcessor) -> None:
        """Send spans to ``exporter`` (OTLP, or an in-memory one in tests) and start sampling
        new traces at ``sample_ratio``."""
        self.tracer_provider.add_span_processor(processor(exporter))
        self._sampler.exported()

    def instrument(self, connectors: Mapping[str, Connector]) -> None:
        """Spans and latency for every HTTP connector's calls; circuits of all in the metrics."""
        self._connectors = connectors
        exchange = ExchangeTelemetry(self.tracer, self._agency_call)
        for connector in connectors.values():
            http = getattr(connector, "http", None)
            if http is not None and hasattr(http, "telemetry"):
                http.telemetry = exchange

    # --- the request, in pipeline order -------------------------------------------------------

    @contextlib.contextmanager
    def request(self, headers: Mapping[str, str], request_id: str) -> Iterator[RequestTrace]:
        """The request's server span, current (and its ids bound for log lines) inside."""
        parent = _PROPAGATOR.extract(headers) if "traceparent" in headers else None
        span = self.tracer.start_span("POST /graphql", parent, SpanKind.SERVER)
        trace_id = format(span.get_span_context().trace_id, "032x")
        if span.is_recording():
            span.set_attribute("jointgate.request_id", request_id)
        attached = context.attach(trace.set_span_in_context(span))
        recorded = _recorded.set(span.is_recording())
        bound = logs.bind(request_id, trace_id)
        try:
            yield RequestTrace(span, trace_id)
        finally:
            logs.unbind(bound)
            _recorded.reset(recorded)
            context.detach(attached)
            span.end()

    def stage(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A child span of the request's, if the request is recorded; else nothing at all."""
        return self._span(name) if _recorded.get() else _NOTHING

    @contextlib.contextmanager
    def _span(self, name: str) -> Iterator[None]:
        with self.tracer.start_as_current_span(
            name, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield
            except BaseException as exc:
                span.set_status(StatusCode.ERROR)
                span.set_attribute("error.type", exc.__class__.__name__)
                raise

    def decided(self, record: AuditRecord) -> None:
        """The plan's outcomes, counted per field path as the audit record lists them."""
        decisions = self._decisions
        decisions["allow"] += len(record.fields_allowed)
        decisions["mask"] += len(record.fields_masked)
        decisions["deny"] += len(record.fields_denied)

    def refused(self, code: str) -> None:
        self._refusals[code] = self._refusals.get(code, 0) + 1

    def committed(self, seconds: float, ok: bool) -> None:
        self._later(self._audit_seconds, seconds, None)
        if not ok:
            self._audit_failures += 1

    def answered(
        self, request: RequestTrace, record: AuditRecord, status: int, seconds: float
    ) -> None:
        """The request's count, latency and span attributes; ``status`` as sent (503 if the
        audit commit failed)."""
        operation = self._operation(record)
        outcome = "refused" if status >= 400 else record.outcome
        key = (operation, outcome)
        self._requests[key] = self._requests.get(key, 0) + 1
        self._later(self._request_seconds, seconds, {"operation": operation, "outcome": outcome})
        span = request.span
        if span.is_recording():
            span.set_attributes(
                {
                    "http.response.status_code": status,
                    "graphql.operation.name": _shown(record.operation_name),
                    "graphql.operation.type": record.operation_type or "",
                    "jointgate.outcome": outcome,
                }
            )
            if status >= 500:
                span.set_status(StatusCode.ERROR)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "request answered",
                extra={
                    "operation": operation,
                    "status": status,
                    "outcome": outcome,
                    "error_codes": record.error_codes,
                    "latency_ms": round(seconds * 1e3, 3),
                },
            )

    def _operation(self, record: AuditRecord) -> str:
        """A bounded label: the first MAX_OPERATION_NAMES names fit to show (:func:`_shown`)
        as they are, then "other"."""
        if record.query_hash is None:
            return "none"  # refused before the query was analysed
        name = record.operation_name
        if not name:
            return "anonymous"
        if name in self._operations:
            return name
        name = _shown(name)
        if name != "other" and len(self._operations) < MAX_OPERATION_NAMES:
            self._operations.add(name)
            return name
        return "other"

    def _agency_call(self, agency: str, seconds: float, outcome: str) -> None:
        self._later(self._agency_seconds, seconds, {"agency": agency, "outcome": outcome})
        if outcome != "ok":
            key = (agency, outcome)
            self._agency_errors[key] = self._agency_errors.get(key, 0) + 1

    def watch_redis(self, health: Mapping[str, Callable[[], Mapping[str, Any]]]) -> None:
        """The Redis links' health (gateway/redis.py) in the metrics: service -> health()."""
        self._redis = health

    def watch_live(self, live: LiveEvents) -> None:
        """Lead events, subscriptions and overdue major events in the metrics."""
        self._live = live

    def _live_value(
        self, value: Callable[[LiveEvents], int | None]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            found = value(self._live) if self._live is not None else None
            if found is not None:
                yield Observation(found)

        return observe

    def watch_reviews(self, overdue: Callable[[], int | None]) -> None:
        """The number of overdue break-glass reviews, as last counted (None: not yet)."""
        self._overdue_reviews = overdue

    def _overdue(self, options: CallbackOptions) -> Iterable[Observation]:
        count = self._overdue_reviews()
        if count is not None:
            yield Observation(count)

    def _redis_health(
        self, key: str, value: Callable[[Any], int]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            for service, health in self._redis.items():
                yield Observation(value(health()[key]), {"service": service})

        return observe

    def watch_witnesses(self, states: Sequence[WitnessState]) -> None:
        """The audit trail's witnesses (audit/publish.py) in the metrics."""
        self._witnesses = states

    def _witness(self, key: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            for state in self._witnesses:
                up = state.state in ("ok", "waiting")
                value = int(up) if key == "up" else int(getattr(state, key))
                yield Observation(value, {"witness": state.shown})

        return observe

    def _circuits(self, options: CallbackOptions) -> Iterable[Observation]:
        for name, connector in self._connectors.items():
            state = connector.status().get("circuit")
            if state in CIRCUIT_STATES:
                yield Observation(CIRCUIT_STATES[state], {"agency": name})

    def _status_count(self, key: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        """A gauge's callback: ``status()[key]`` of every connector that reports it."""

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            for name, connector in self._connectors.items():
                value = connector.status().get(key)
                if isinstance(value, int):
                    yield Observation(value, {"agency": name})

        return observe

    def _later(self, histogram: Any, seconds: float, attributes: dict[str, str] | None) -> None:
        """Record a latency a moment later (``FLUSH_AFTER_S``), with whatever else came in
        meanwhile: the SDK's ``record`` spends about 17 µs cleaning and hashing attributes, and
        a demo request makes eight, each of them on the request's path. Outside an event loop
        (tools, tests) at once; a scrape and ``shutdown`` flush first."""
        self._deferred.append((histogram, seconds, attributes))
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_later(FLUSH_AFTER_S, self._flush_due)

    def _flush_due(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        """Record the deferred latencies into the SDK's histograms."""
        items, self._deferred = self._deferred, []
        for histogram, seconds, attributes in items:
            histogram.record(seconds, attributes)

    # --- export -------------------------------------------------------------------------------

    def prometheus(self) -> bytes:
        """Every metric in the Prometheus text exposition format (version 0.0.4)."""
        if self.metrics_reader is None:
            return b""
        self.flush()
        data = self.metrics_reader.get_metrics_data()
        lines: list[str] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    lines += exposition(
                        metric.name, metric.unit or "", metric.description or "", metric.data
                    )
        return ("\n".join(lines) + "\n").encode()

    def shutdown(self) -> None:
        """Flush what is buffered for OTLP and stop the exporters (blocking; call in a thread)."""
        self.flush()
        self.tracer_provider.shutdown()
        if isinstance(self.meter_provider, MeterProvider):
            self.meter_provider.shutdown()


def _shown(name: str | None) -> str:
    """An operation name as metrics and spans show it: "" for none; "other" for one longer than
    MAX_OPERATION_NAME, with six digits in a row (it may quote an identifier) or spelt like one
    of the labels that stand for no name ("none", "anonymous"); else itself.
    (A name is a GraphQL name, ``[_A-Za-z][_0-9A-Za-z]*``: the analyze stage parsed it.)"""
    if not name:
        return ""
    if len(name) > MAX_OPERATION_NAME or name in _LABELS or _IDENTIFIER_LIKE.search(name):
        return "other"
    return name


def _env(signal: str) -> bool:
    """Whether the standard variables name an endpoint (the exporters then read them)."""
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )
