"""``jointgate config check FILE``: validate a config as ``jointgate serve`` does, and say what
it configures, without starting anything or contacting anyone.

Exit 0 with a summary on stdout; exit 1 with every problem (key and fix, one a line) on stderr:
the settings loader checks each table on its own and every key of it
(kernel/settings.py), and what start-up would trip over is checked too: the files and
variables the settings name, the policies, volume caps against the schema's types.
``jointgate serve`` runs the same :func:`check_config` before it builds anything, so a config
this passes is one serve starts with, and one it refuses serve refuses with the same lines.
The summary names secrets' sources, never their values.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from audit.config import witness_specs
from audit.errors import AuditConfigError, AuditKeyError
from audit.keys import load_or_create_data_key
from gateway.cache_settings import CacheSettings
from gateway.notify_settings import NotifySettings
from gateway.ratelimit_settings import RateLimits
from gateway.settings import Settings, load_checked, overrides
from gateway.telemetry_settings import TelemetrySettings
from kernel.config import ConfigError
from policies.engine import DEFAULT_DIR as DEFAULT_POLICY_DIR
from policies.engine import PolicyError, load_bundle
from schema.catalog import Catalog
from schema.unified import build_schema  # the schema serve builds; its types and fields

#: The standard variables the OTLP exporters read when ``telemetry.otlp_endpoint`` is "".
OTLP_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)


def check_command(path: Path) -> int:
    """Every problem of the file, its overrides and what they name, in one run."""
    try:
        settings, problems = check_config(path)
    except ConfigError as exc:  # the file cannot be read or parsed: nothing more to check
        return _report(exc.problems)
    if problems:
        return _report(problems)
    print(summary(path, settings))
    return 0


def check_config(path: Path) -> tuple[Settings, list[str]]:
    """The settings of a config file and every problem that would stop ``jointgate serve``
    with it (the check both commands run); ConfigError if the file cannot be read or parsed."""
    catalog = build_schema().catalog
    settings, problems = load_checked(path, volume_types={t for t, _ in catalog})
    return settings, problems + startup_problems(settings, catalog)


def _report(problems: Iterable[str]) -> int:
    for problem in problems:
        print(f"jointgate config check: {problem}", file=sys.stderr)
    return 1


def startup_problems(settings: Settings, catalog: Catalog) -> list[str]:
    """What the settings alone cannot show but the gateway's start would trip over: the
    variables and files they name, and the policies (loaded and validated against ``catalog``)."""
    problems = _policy_problems(settings, catalog)
    audit = settings.audit
    if audit.backend == "postgres" and not (
        audit.postgres_dsn or os.environ.get(audit.postgres_dsn_env)
    ):
        problems.append(
            f"audit.postgres_dsn: required for the postgres backend (or set the environment"
            f" variable {audit.postgres_dsn_env})"
        )
    try:  # a witness in the store's directory shares the store's fate: refused as serve does
        witness_specs(audit.resolved(settings.data_dir), settings.data_dir)
    except AuditConfigError as exc:
        problems.append(str(exc))
    data_key_file = audit.resolved(settings.data_dir).data_key_file
    if audit.data_key_env and not os.environ.get(audit.data_key_env):
        problems.append(
            f"audit.data_key_env: environment variable {audit.data_key_env} is not set"
            " (the audit data key, 64 hex digits)"
        )
    elif audit.data_key_env or data_key_file.exists():  # else created at start
        try:  # read as serve reads it: a key serve would refuse is refused here
            load_or_create_data_key(data_key_file, audit.data_key_env)
        except AuditKeyError as exc:
            key = "audit.data_key_env" if audit.data_key_env else "audit.data_key_file"
            problems.append(f"{key}: {exc}")
    limits = settings.rate_limits
    if limits.key_env and not os.environ.get(limits.key_env):
        problems.append(
            f"rate_limits.key_env: environment variable {limits.key_env} is not set"
            " (the hash key of rate limits, the cache and paging cursors, 64 hex digits)"
        )
    elif limits.key_env or (settings.data_dir / limits.key_file).exists():  # else created
        try:
            limits.hash_key(settings.data_dir)
        except ConfigError as exc:
            problems += exc.problems
    return problems


def _policy_problems(settings: Settings, catalog: Catalog) -> list[str]:
    """The policy set serve loads first: ``policy.dir``, else the shipped one."""
    if not settings.enforcement:
        return []
    directory = settings.policy_dir or DEFAULT_POLICY_DIR
    where = "policy.dir" if settings.policy_dir is not None else "policies (the shipped set)"
    if not any(directory.glob("*.cedar")):
        return [f"{where}: no *.cedar files in {directory}"]
    try:
        load_bundle(directory, catalog)
    except PolicyError as exc:
        return [f"{where}: {problem}" for problem in exc.problems]
    return []


def summary(path: Path, s: Settings) -> str:
    audit = s.audit
    lines = [f"{path}: OK"]
    settings_only = {k: v for k, v in os.environ.items() if "__" in k}  # checked by load()
    for override in overrides(settings_only):
        lines.append(f"  {override.key:<28} from {override.variable}")
    lines += [
        f"  listen               {s.host}:{s.port}"
        + (f", {s.workers} worker processes" if s.workers > 1 else ""),
        f"  client address       {_client_address(s)}",
        f"  data dir             {s.data_dir}",
        f"  identity provider    {s.issuer} (audience {s.audience})",
        f"  token keys (JWKS)    {s.jwks_url or s.jwks_file}",
    ]
    for name, agency in s.agencies.items():
        extra = ", mutual TLS" if agency.tls and agency.tls.cert_file else ""
        if name == "banking":
            extra += f", HMAC key id {agency.key_id} ({len(agency.key)} bytes)"
        lines.append(f"  agency {name:<13} {agency.url} (timeout {agency.timeout_s:g} s{extra})")
    store = (
        f"postgres, schema {audit.postgres_schema}"
        + (f", DSN from {audit.postgres_dsn_env}" if not audit.postgres_dsn else "")
        if audit.backend == "postgres"
        else f"sqlite, {audit.resolved(s.data_dir).path}"
    )
    data_key = audit.data_key_env or audit.resolved(s.data_dir).data_key_file
    lines += [
        f"  audit                {store}; log {audit.log_id or '(host name)'}",
        f"  audit keys           signing {audit.signing_key_file}, data {data_key}",
        f"  audit witnesses      {_witnesses(s)}",
        f"  policy               {s.policy_dir or '(shipped default set)'}, mode {s.policy_mode}"
        + ("" if s.enforcement else ", ENFORCEMENT OFF"),
        f"  governance           {redact(s.governance_url)}",
        f"  rate limits          {_rate_limits(s.rate_limits)}",
        f"  telemetry            {_telemetry(s.telemetry)}",
        f"  logs                 {s.telemetry.log_format}, level {s.telemetry.log_level}",
        f"  cache                {_cache(s.cache.resolved(s.rate_limits))}",
        f"  notifications        {_notifications(s.notifications.resolved(s.rate_limits))}",
    ]
    local = [
        what
        for what, is_local in (
            ("audit trail", audit.backend == "sqlite"),
            ("teams and reviews", s.governance_db is None),
        )
        if is_local
    ]
    if local:
        lines.append(
            f"  note: {' and '.join(local)} in the data dir: one replica only (docs/deployment.md)"
        )
    return "\n".join(lines)


def _witnesses(s: Settings) -> str:
    """Where the trail's checkpoints are witnessed (docs/audit.md), or that they are not."""
    try:
        specs = witness_specs(s.audit.resolved(s.data_dir), s.data_dir)
    except AuditConfigError:  # reported as a problem
        return "(refused)"
    if not specs:
        return "NONE: a restored backup or a rolled-back trail would verify"
    return "; ".join(
        f"{spec.kind} {redact(spec.target) if spec.kind == 'postgresql' else spec.target}"
        for spec in specs
    )


def _client_address(s: Settings) -> str:
    """Whose ``X-Forwarded-For`` names the client in audit records (gateway/forwarded.py)."""
    if not s.trusted_proxies:
        return "the TCP peer; X-Forwarded-For ignored (no trusted proxies)"
    behind = ", ".join(str(network) for network in s.trusted_proxies)
    return f"from X-Forwarded-For behind {behind}; else the TCP peer"


def _rate_limits(limits: RateLimits) -> str:
    if not limits.enabled:
        return "OFF"
    return (
        f"user {limits.user_rate:g}/s (burst {limits.user_burst}),"
        f" agency {limits.agency_rate:g}/s (burst {limits.agency_burst});"
        f" {_redis(limits.redis_url, limits.redis_password_env, 'in-process only (one replica)')}"
    )


def _telemetry(telemetry: TelemetrySettings) -> str:
    otlp = redact(telemetry.otlp_endpoint) if telemetry.otlp_endpoint else "none"
    if not telemetry.otlp_endpoint:
        variable = next((v for v in OTLP_VARIABLES if os.environ.get(v)), None)
        if variable is not None:
            otlp = f"{redact(os.environ[variable])} (from {variable})"
    return (
        f"service {telemetry.service_name}, OTLP {otlp}, sample ratio {telemetry.sample_ratio:g},"
        f" metrics {'on' if telemetry.metrics else 'off'}"
    )


def _cache(cache: CacheSettings) -> str:
    """``cache`` resolved: its Redis is the rate limiter's unless it names one."""
    if not cache.ttl_s:
        return "off"
    if not cache.enabled:
        return "off (no Redis to keep it in)"
    cached = ", ".join(
        f"{agency} {category} {ttl:g} s" for (agency, category), ttl in sorted(cache.ttl_s.items())
    )
    return f"{cached}; {_redis(cache.redis_url or '', cache.redis_password_env, 'none')}"


def _notifications(notify: NotifySettings) -> str:
    """``notify`` resolved: its Redis is the rate limiter's unless it names one."""
    if not notify.redis_url:
        return f"polling only, every {notify.poll_s:g} s"
    return (
        f"{_redis(notify.redis_url, notify.redis_password_env, 'none')}, channel {notify.channel};"
        f" polling every {notify.poll_s:g} s while Redis is away"
    )


def _redis(url: str, password_env: str | None, without: str) -> str:
    """Where a service's Redis is, password by its variable only; ``without`` when url is ""."""
    if not url:
        return without
    return f"Redis {redact(url)}" + (f", password from {password_env}" if password_env else "")


def redact(location: str) -> str:
    """A URL or libpq DSN with its password replaced by ``***``."""
    location = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", location)
    parts = urlsplit(location)
    if not parts.password:
        return location
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
