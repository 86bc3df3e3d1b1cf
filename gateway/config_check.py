"""``jointgate config check FILE``: validate a config as ``jointgate serve`` would, and say what
it configures, without starting anything or contacting anyone.

Exit 0 with a summary on stdout; exit 1 with every problem (key and fix, one a line) on stderr:
the settings loader checks each table on its own and goes on after a wrong key
(``gateway.settings.Checker``), and the files and variables the settings name are checked too.
The summary names secrets' sources, never their values.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from connectors.cache import CacheSettings
from gateway.config_env import overrides
from gateway.notify import NotifySettings
from gateway.ratelimit import RateLimits
from gateway.settings import ConfigError, Settings, TelemetrySettings, load_checked

#: The standard variables the OTLP exporters read when ``telemetry.otlp_endpoint`` is "".
OTLP_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)


def check_command(path: Path) -> int:
    """Every problem of the file, its overrides and what they name, in one run."""
    try:
        settings, problems = load_checked(path)
    except ConfigError as exc:  # the file cannot be read or parsed: nothing more to check
        return _report(exc.problems)
    problems += deployment_problems(settings)
    if problems:
        return _report(problems)
    print(summary(path, settings))
    return 0


def _report(problems: Iterable[str]) -> int:
    for problem in problems:
        print(f"jointgate config check: {problem}", file=sys.stderr)
    return 1


def deployment_problems(settings: Settings) -> list[str]:
    """What ``load`` cannot see but the first request would trip over: files and variables the
    settings name."""
    problems = []
    if settings.jwks_file is not None:
        try:
            keys = json.loads(settings.jwks_file.read_text()).get("keys")
        except (OSError, ValueError, AttributeError) as exc:
            keys = None
            problems.append(f"auth.jwks_file: cannot read a JWKS from {settings.jwks_file} ({exc})")
        else:
            if not isinstance(keys, list) or not keys:
                problems.append(f'auth.jwks_file: {settings.jwks_file} has no "keys"')
    if settings.policy_dir is not None and not any(settings.policy_dir.glob("*.cedar")):
        problems.append(f"policy.dir: no *.cedar files in {settings.policy_dir}")
    audit = settings.audit
    if audit.backend == "postgres" and not (
        audit.postgres_dsn or os.environ.get(audit.postgres_dsn_env)
    ):
        problems.append(
            f"audit.postgres_dsn: required for the postgres backend (or set the environment"
            f" variable {audit.postgres_dsn_env})"
        )
    if audit.data_key_env and not os.environ.get(audit.data_key_env):
        problems.append(
            f"audit.data_key_env: environment variable {audit.data_key_env} is not set"
            " (the audit data key, 64 hex digits)"
        )
    hash_key_env = settings.rate_limits.key_env
    if hash_key_env and not os.environ.get(hash_key_env):
        problems.append(
            f"rate_limits.key_env: environment variable {hash_key_env} is not set"
            " (the hash key of rate limits, the cache and paging cursors, 64 hex digits)"
        )
    return problems


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
