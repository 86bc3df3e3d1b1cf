"""Telemetry: spans per request and per agency exchange, traceparent in and out, the trace id in
the audit record and in log lines, metrics at /metrics, OTLP export, and the [telemetry] table."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from audit.log import MemoryAuditLog
from commands.demo import prepare
from connectors.http import AgencyHTTP, TransportSettings
from connectors.police import PoliceConnector
from connectors.registry import AgencySettings
from connectors.resilience import Resilience
from connectors.transport import HttpxTransport
from gateway import logs
from gateway.app import build_gateway, create_app
from gateway.ratelimit_settings import RateLimits
from gateway.settings import Settings, TelemetrySettings, telemetry_settings
from gateway.telemetry import FLUSH_AFTER_S, Telemetry
from kernel.config import ConfigError
from kernel.types import AuditRecord
from sandbox.banking import DEFAULT_KEY
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, mint_token
from sandbox.world import World
from tests.cases import register_fixture_cases
from tests.gateway.conftest import Harness, open_harness, uscc

QUERY = """query Demo($uscc: USCC!) {
  enterprise(uscc: $uscc) { name legalRepresentative { idNumber name } bankAccounts { number } }
}"""
# a market officer investigating: account numbers masked, holders' names denied
MASKED_AND_DENIED = '{ enterprise(uscc: "%s") { name bankAccounts { number holderName } } }' % uscc(
    3
)
FIELDS = {"allow": "fields_allowed", "mask": "fields_masked", "deny": "fields_denied"}
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def recorded(harness: Harness) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    harness.gateway.telemetry.export_spans(exporter, SimpleSpanProcessor)
    return exporter


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


# -- traces --------------------------------------------------------------------------------------


async def test_a_request_is_a_server_span_with_a_child_per_stage(harness: Harness) -> None:
    exporter = recorded(harness)
    response = await harness.query(QUERY, {"uscc": uscc(3)})
    assert response.status_code == 200 and "errors" not in response.json()
    spans = by_name(exporter.get_finished_spans())
    assert set(spans) == {"POST /graphql", "analyze", "authorize", "execute", "audit.commit"}
    server = spans["POST /graphql"]
    assert server.kind is SpanKind.SERVER and server.parent is None
    assert server.context is not None
    for stage in ("analyze", "authorize", "execute", "audit.commit"):
        parent = spans[stage].parent
        assert parent is not None and parent.span_id == server.context.span_id, stage
        assert hex_trace(spans[stage]) == hex_trace(server)
    attributes = dict(server.attributes or {})
    assert attributes["graphql.operation.name"] == "Demo"
    assert attributes["http.response.status_code"] == 200
    assert attributes["jointgate.request_id"] == response.headers["x-request-id"]
    assert harness.audit.records[-1].trace_id == hex_trace(server)


async def test_the_callers_traceparent_is_continued(harness: Harness) -> None:
    exporter = recorded(harness)
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    await harness.query(QUERY, {"uscc": uscc(3)}, traceparent=traceparent)
    server = by_name(exporter.get_finished_spans())["POST /graphql"]
    assert hex_trace(server) == CALLER_TRACE
    assert server.parent is not None and format(server.parent.span_id, "016x") == CALLER_SPAN
    assert harness.audit.records[-1].trace_id == CALLER_TRACE


async def test_without_an_exporter_nothing_is_recorded_but_trace_ids_are_kept(
    harness: Harness,
) -> None:
    """The default: no span exporter, so spans are not recorded; the audit record still gets
    the caller's trace id (or a fresh one per request)."""
    unsampled = f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"
    await harness.query("{ __typename }", traceparent=unsampled)
    await harness.query("{ __typename }", traceparent="00-garbage")
    await harness.query("{ __typename }")
    ids = [r.trace_id for r in harness.audit.records]
    assert ids[0] == CALLER_TRACE
    assert all(len(i) == 32 and int(i, 16) for i in ids[1:]) and ids[1] != ids[2]


async def test_a_refused_request_is_one_span_with_its_status(harness: Harness) -> None:
    exporter = recorded(harness)
    response = await harness.client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 401
    spans = by_name(exporter.get_finished_spans())
    assert set(spans) == {"POST /graphql", "audit.commit"}  # refused before analysis
    assert dict(spans["POST /graphql"].attributes or {})["jointgate.outcome"] == "refused"


# -- agency calls --------------------------------------------------------------------------------


async def test_traceparent_reaches_the_agency_on_every_attempt() -> None:
    seen: list[httpx.Request] = []

    def agency(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json={"data": [], "total": 0})

    settings = TransportSettings("http://police.test", resilience=Resilience(retry_backoff_s=0.001))
    police = PoliceConnector(
        settings, transport=HttpxTransport(settings.base_url, transport=httpx.MockTransport(agency))
    )
    telemetry = Telemetry(TelemetrySettings())
    exporter = InMemorySpanExporter()
    telemetry.export_spans(exporter, SimpleSpanProcessor)
    telemetry.instrument({"police": police})
    with telemetry.request({}, "r1") as traced:
        await police.http.get("/api/v1/persons", {"id_number": ["110105198001010011"]})
    await police.aclose()

    exchanges = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert [dict(s.attributes or {})["jointgate.attempt"] for s in exchanges] == [1, 2]
    assert [dict(s.attributes or {})["http.response.status_code"] for s in exchanges] == [503, 200]
    assert exchanges[0].status.status_code is StatusCode.ERROR
    assert "110105198001010011" not in json.dumps([dict(s.attributes or {}) for s in exchanges])
    for request, span in zip(seen, exchanges, strict=True):
        assert span.context is not None
        version, trace_id, parent_id, flags = request.headers["traceparent"].split("-")
        assert (version, trace_id) == ("00", traced.trace_id)
        assert int(flags, 16) & 1  # sampled (and 0x02, W3C level 2: the trace id is random)
        assert parent_id == format(span.context.span_id, "016x")  # the exchange's own span
    text = telemetry.prometheus().decode()
    assert 'jointgate_agency_call_duration_seconds_count{agency="police",outcome="ok"} 1' in text
    assert 'jointgate_agency_circuit_state{agency="police"} 0' in text


async def test_unrecorded_requests_still_pass_the_trace_on() -> None:
    seen: list[httpx.Request] = []

    def agency(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": []})

    http = AgencyHTTP(
        "police",
        TransportSettings("http://police.test"),
        transport=HttpxTransport("http://police.test", transport=httpx.MockTransport(agency)),
    )
    telemetry = Telemetry(TelemetrySettings())  # no exporter: nothing recorded
    with telemetry.request({"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"}, "r1"):
        await http.get("/api/v1/persons", {})
    await http.get("/api/v1/persons", {})  # outside any request: no header at all
    await http.aclose()
    assert seen[0].headers["traceparent"].startswith(f"00-{CALLER_TRACE}-")
    assert "traceparent" not in seen[1].headers


async def test_agency_spans_through_the_gateway_over_real_http(
    tmp_path: Path, urls: dict[str, str], world: World
) -> None:
    jwks, _ = prepare(tmp_path)
    register_fixture_cases(tmp_path)
    settings = Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, data_dir=tmp_path, jwks_file=jwks,
        agencies={n: AgencySettings(url=u, key=DEFAULT_KEY) for n, u in urls.items()},
        rate_limits=RateLimits(enabled=False),
    )  # fmt: skip
    gateway = build_gateway(settings, audit=MemoryAuditLog())
    exporter = InMemorySpanExporter()
    gateway.telemetry.export_spans(exporter, SimpleSpanProcessor)
    app = create_app(gateway)
    headers = {
        "authorization": f"Bearer {mint_token('jit.member', tmp_path)}",
        "x-purpose": "investigation",
        "x-case-id": "JIT-2026-001",
    }
    body = {"query": QUERY, "variables": {"uscc": world.scenario["enterprise_uscc"]}}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        response = await client.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        metrics = (await client.get("/metrics")).text
    spans = exporter.get_finished_spans()
    execute = by_name(spans)["execute"]
    assert execute.context is not None
    calls = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert {dict(s.attributes or {})["jointgate.agency"] for s in calls} == {
        "market",
        "police",
        "banking",
    }
    for call in calls:
        assert call.parent is not None and call.parent.span_id == execute.context.span_id
        assert dict(call.attributes or {})["http.response.status_code"] == 200
    for agency in ("market", "police", "banking"):
        assert (
            f'jointgate_agency_call_duration_seconds_count{{agency="{agency}",outcome="ok"}}'
            in (metrics)
        )
        # the calls' keep-alive connections stay open for the next request
        assert sample(metrics, f'jointgate_agency_connections{{agency="{agency}"}}') >= 1
    assert sample(metrics, 'jointgate_agency_connections{agency="courts"}') == 0  # not called


# -- metrics -------------------------------------------------------------------------------------


def sample(text: str, series: str) -> float:
    """The value of one series line of a Prometheus exposition."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in:\n{text}")


async def test_metrics_count_requests_decisions_and_refusals(tmp_path: Path) -> None:
    limits = RateLimits(redis_url="", user_rate=0.01, user_burst=3)
    async with open_harness(tmp_path, rate_limits=limits) as harness:
        for _ in range(2):
            assert (await harness.query(QUERY, {"uscc": uscc(3)})).status_code == 200
        officer: dict[str, Any] = {"user": "market.officer", "case": "J1101052026000003"}
        assert (await harness.query(MASKED_AND_DENIED, **officer)).status_code == 200
        assert (await harness.query("{ __typename }")).status_code == 200
        assert (await harness.query("{ __typename }")).status_code == 429
        await harness.client.post("/graphql", json={"query": "{ __typename }"})  # no token
        response = await harness.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert "# TYPE jointgate_requests_total counter" in text
    assert sample(text, 'jointgate_requests_total{operation="Demo",outcome="ok"}') == 2
    assert sample(text, 'jointgate_requests_total{operation="anonymous",outcome="ok"}') == 1
    assert sample(text, 'jointgate_requests_total{operation="anonymous",outcome="partial"}') == 1
    assert sample(text, 'jointgate_requests_total{operation="none",outcome="refused"}') == 2
    assert sample(text, 'jointgate_refusals_total{code="RATE_LIMITED"}') == 1
    assert sample(text, 'jointgate_refusals_total{code="UNAUTHENTICATED"}') == 1
    histogram = 'jointgate_request_duration_seconds_bucket{operation="Demo",outcome="ok",le="+Inf"}'
    assert sample(text, histogram) == 2
    records = harness.audit.records
    for outcome in ("allow", "mask", "deny"):
        fields = sum(len(getattr(r, FIELDS[outcome])) for r in records)
        assert fields > 0, outcome
        assert sample(text, f'jointgate_policy_decisions_total{{outcome="{outcome}"}}') == fields
    assert sample(text, "jointgate_audit_commit_duration_seconds_count") == 6
    assert sample(text, "jointgate_audit_commit_failures_total") == 0


async def test_a_failed_audit_commit_is_counted(harness: Harness) -> None:
    harness.audit.fail = True
    assert (await harness.query("{ __typename }")).status_code == 503
    text = (await harness.client.get("/metrics")).text
    assert sample(text, "jointgate_audit_commit_failures_total") == 1
    assert sample(text, 'jointgate_requests_total{operation="anonymous",outcome="refused"}') == 1
    assert sample(text, 'jointgate_refusals_total{code="AUDIT_UNAVAILABLE"}') == 1


def test_operation_names_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.telemetry.MAX_OPERATION_NAMES", 2)
    telemetry = Telemetry(TelemetrySettings())
    for name in ("A", "B", "C", "A", "D"):
        with telemetry.request({}, "r") as traced:
            record = AuditRecord("r", operation_name=name, query_hash="h", outcome="ok")
            telemetry.answered(traced, record, 200, 0.001)
    text = telemetry.prometheus().decode()
    assert sample(text, 'jointgate_requests_total{operation="A",outcome="ok"}') == 2
    assert sample(text, 'jointgate_requests_total{operation="other",outcome="ok"}') == 2
    assert 'operation="C"' not in text


def test_operation_labels_are_short_and_carry_no_identifiers() -> None:
    """Issue 15: one ``query aaa…(30,000) { __typename }`` made /metrics 530 KB, and names are
    chosen by callers and shown to whoever reads /metrics (and the traces)."""
    telemetry = Telemetry(TelemetrySettings())
    exporter = InMemorySpanExporter()
    telemetry.export_spans(exporter, SimpleSpanProcessor)
    names = {
        "Demo": "Demo",
        "x" * 64: "x" * 64,
        "a" * 30_000: "other",
        "y" * 65: "other",
        "Lookup" + uscc(3): "other",  # an identifier in the name
        "Suspect110105198001010011": "other",
        "Report2026Q1": "Report2026Q1",
        "anonymous": "other",  # a label of its own: an unnamed operation
    }
    for name in names:
        with telemetry.request({}, "r") as traced:
            record = AuditRecord("r", operation_name=name, query_hash="h", outcome="ok")
            telemetry.answered(traced, record, 200, 0.001)
    text = telemetry.prometheus().decode()
    assert set(re.findall(r'operation="([^"]*)"', text)) == set(names.values())
    assert sample(text, 'jointgate_requests_total{operation="other",outcome="ok"}') == 5
    assert max(len(line) for line in text.splitlines()) < 300
    spans = [dict(s.attributes or {}) for s in exporter.get_finished_spans()]
    assert [s["graphql.operation.name"] for s in spans] == list(names.values())


async def test_a_giant_operation_name_does_not_swell_the_metrics(harness: Harness) -> None:
    before = len((await harness.client.get("/metrics")).content)
    for n in range(3):
        name = chr(ord("a") + n) * 30_000
        response = await harness.query(f"query {name} {{ __typename }}")
        assert response.status_code == 200
    after = (await harness.client.get("/metrics")).text
    assert len(after) - before < 4_000, len(after) - before
    assert sample(after, 'jointgate_requests_total{operation="other",outcome="ok"}') == 3


async def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    async with open_harness(tmp_path, telemetry=TelemetrySettings(metrics=False)) as harness:
        await harness.query("{ __typename }")
        assert (await harness.client.get("/metrics")).status_code == 404


# -- OTLP ----------------------------------------------------------------------------------------


@pytest.fixture
def collector() -> Iterator[tuple[str, list[str]]]:
    """A stand-in OTLP/HTTP collector on loopback: its base URL and the paths posted to it."""
    posted: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            posted.append(self.path)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", posted
    server.shutdown()
    server.server_close()


def exercise(telemetry: Telemetry) -> None:
    with telemetry.request({}, "r1") as traced, telemetry.stage("analyze"):
        pass
    telemetry.answered(traced, AuditRecord("r1", outcome="ok"), 200, 0.002)
    telemetry.shutdown()


def test_spans_and_metrics_go_to_the_configured_otlp_endpoint(
    collector: tuple[str, list[str]],
) -> None:
    url, posted = collector
    exercise(Telemetry(TelemetrySettings(otlp_endpoint=url)))
    assert sorted(set(posted)) == ["/v1/metrics", "/v1/traces"]


def test_the_standard_otlp_environment_variable_is_honoured(
    collector: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, posted = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    exercise(Telemetry(TelemetrySettings()))
    assert sorted(set(posted)) == ["/v1/metrics", "/v1/traces"]


# -- logs ----------------------------------------------------------------------------------------


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the ``jointgate`` loggers write, through the JSON formatter of ``jointgate serve``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestFilter())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("jointgate")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_log_lines_are_json_with_the_request_and_trace_id(
    harness: Harness, log_lines: io.StringIO
) -> None:
    exporter = recorded(harness)
    harness.audit.fail = True
    response = await harness.query("{ __typename }")
    assert response.status_code == 503
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    failed = next(line for line in lines if line["message"].startswith("audit commit failed"))
    trace_id = hex_trace(by_name(exporter.get_finished_spans())["POST /graphql"])
    assert failed["request_id"] == response.headers["x-request-id"]
    assert failed["trace_id"] == trace_id
    assert (failed["level"], failed["logger"]) == ("ERROR", "jointgate.pipeline")
    assert failed["error"]["type"] == "OSError" and failed["time"].endswith("Z")
    answered = next(line for line in lines if line["message"] == "request answered")
    assert answered["trace_id"] == trace_id and answered["status"] == 503
    assert harness.token() not in log_lines.getvalue()


def test_secrets_in_extras_are_redacted_and_lines_outside_requests_have_no_ids(
    log_lines: io.StringIO,
) -> None:
    logging.getLogger("jointgate.test").warning(
        "calling %s", "police", extra={"authorization": "Bearer abc", "api_key": "k", "n": 3}
    )
    line = json.loads(log_lines.getvalue())
    assert line["message"] == "calling police"
    assert (line["authorization"], line["api_key"], line["n"]) == ("[redacted]", "[redacted]", 3)
    assert line["request_id"] is None and line["trace_id"] is None


def test_configure_installs_one_handler_on_the_root_logger() -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        logs.configure(TelemetrySettings(log_format="text", log_level="warning"), stream)
        handler = logs.configure(TelemetrySettings(log_level="warning"), stream)
        assert [h for h in root.handlers if h.get_name() == "jointgate"] == [handler]
        token = logs.bind("req-1", CALLER_TRACE)
        logging.getLogger("uvicorn.error").warning("draining")
        logging.getLogger("httpx").info("HTTP Request: GET http://police/?id_number=110105...")
        logs.unbind(token)
        line = json.loads(stream.getvalue())
        assert (line["logger"], line["request_id"], line["trace_id"]) == (
            "uvicorn.error", "req-1", CALLER_TRACE,
        )  # fmt: skip
    finally:
        root.handlers[:] = before
        root.setLevel(level)
        for name in logs.QUIET:
            logging.getLogger(name).setLevel(logging.NOTSET)


# -- settings ------------------------------------------------------------------------------------


def test_telemetry_settings_defaults_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    assert telemetry_settings({}) == TelemetrySettings()
    assert telemetry_settings(
        {"otlp_endpoint": "https://otel.example:4318/", "sample_ratio": 0, "log_level": "DEBUG"}
    ) == TelemetrySettings(otlp_endpoint="https://otel.example:4318", sample_ratio=0.0,
                           log_level="debug")  # fmt: skip


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"otlp_endpoint": "otel:4318"}, "telemetry.otlp_endpoint: the collector's OTLP/HTTP"),
        ({"sample_ratio": 1.5}, "telemetry.sample_ratio: a share from 0 to 1, got 1.5"),
        ({"sample_ratio": True}, "telemetry.sample_ratio"),
        ({"log_format": "xml"}, "telemetry.log_format: 'json' or 'text', got 'xml'"),
        ({"log_level": "loud"}, "telemetry.log_level: one of debug, info, warning, error"),
        ({"metrics": "yes"}, "telemetry.metrics: true or false"),
        ({"service_name": "a b"}, "telemetry.service_name"),
        ({"endpoint": "x"}, "telemetry.endpoint: unknown key; known: service_name"),
    ],
)
def test_bad_telemetry_settings_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        telemetry_settings(table)


def test_otel_service_name_is_the_default_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)  # no exporter
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout-gateway")
    settings = telemetry_settings({"metrics": False})
    assert settings.service_name == "checkout-gateway"
    telemetry = Telemetry(settings)
    assert telemetry.tracer_provider.resource.attributes["service.name"] == "checkout-gateway"
    telemetry.shutdown()
    assert telemetry_settings({"service_name": "jg-1"}).service_name == "jg-1"  # the key wins
    monkeypatch.setenv("OTEL_SERVICE_NAME", "not a name")
    with pytest.raises(
        ConfigError, match=r"service_name: .*'not a name' \(set by OTEL_SERVICE_NAME\)"
    ):
        telemetry_settings({})
    assert telemetry_settings({"service_name": "jg-1"}).service_name == "jg-1"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "")  # empty: unset, as for the OpenTelemetry SDK
    assert telemetry_settings({}).service_name == "jointgate"


def test_the_telemetry_table_is_read_from_the_config_file(tmp_path: Path) -> None:
    from gateway.settings import load

    config = tmp_path / "jointgate.toml"
    agencies = "".join(
        f'[agencies.{n}]\nurl = "http://{n}.example"\n' for n in ("police", "market", "courts")
    )
    config.write_text(
        '[auth]\nissuer = "i"\naudience = "a"\njwks_url = "https://i/jwks"\n' + agencies
        + '[agencies.banking]\nurl = "http://b.example"\nkey_file = "bank.key"\n'
        + '[agencies.credit]\nurl = "http://c.example"\ninstitution = "B1"\npassword_file = "credit.password"\n'
        + '[telemetry]\nlog_format = "text"\nsample_ratio = "all"\n'
    )  # fmt: skip
    (tmp_path / "bank.key").write_text("k")
    (tmp_path / "credit.password").write_text("p")
    with pytest.raises(ConfigError, match=r"telemetry.sample_ratio: a share from 0 to 1"):
        load(config)


def _histogram_count(telemetry: Telemetry, name: str) -> int:
    assert telemetry.metrics_reader is not None
    data = telemetry.metrics_reader.get_metrics_data()  # what OTLP collects: no flush first
    return sum(
        point.count
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points  # type: ignore[union-attr]
    )


async def test_latencies_are_recorded_a_moment_later_in_one_batch() -> None:
    """Off the request's path: within FLUSH_AFTER_S on their own (what OTLP exports), and at
    once when /metrics is scraped."""
    telemetry = Telemetry(TelemetrySettings())
    for _ in range(3):
        telemetry._agency_call("police", 0.01, "ok")
    assert _histogram_count(telemetry, "jointgate.agency.call.duration") == 0  # not yet
    await asyncio.sleep(FLUSH_AFTER_S * 2)
    assert _histogram_count(telemetry, "jointgate.agency.call.duration") == 3
    telemetry._agency_call("police", 0.01, "ok")
    text = telemetry.prometheus().decode()
    assert (
        sample(text, 'jointgate_agency_call_duration_seconds_count{agency="police",outcome="ok"}')
        == 4
    )
