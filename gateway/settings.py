"""Gateway settings: one TOML file, validated at start with errors that name the key and the fix.

See docs/configuration.md for every key and its default.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import ssl
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from audit.config import AuditSettings
from connectors.registry import AgencySettings
from connectors.resilience import Resilience
from connectors.tls import AgencyTLS, client_context
from connectors.wire import url_problem
from gateway.jwks import public_key_set
from gateway.limits import QueryLimits
from gateway.notify import NotifySettings
from gateway.persisted import PersistedOperations, PersistedSettings
from gateway.ratelimit import RateLimits
from gateway.record_cache import CacheSettings
from kernel.config import Checker, ConfigError

if TYPE_CHECKING:
    from gateway.config_env import Override

AGENCIES = ("police", "market", "banking", "courts")


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    """The ``[telemetry]`` table (docs/telemetry.md): traces, metrics and logs."""

    service_name: str = "jointgate"  # service.name of spans and metrics
    otlp_endpoint: str = ""  # OTLP/HTTP base URL; "": OTEL_EXPORTER_OTLP_ENDPOINT, else none
    sample_ratio: float = 1.0  # share of new traces recorded, when spans are exported
    log_format: str = "json"  # or "text"
    log_level: str = "info"
    metrics: bool = True  # GET /metrics and the OTLP metrics export


@dataclass(frozen=True, slots=True)
class Settings:
    issuer: str
    audience: str
    agencies: dict[str, AgencySettings]
    host: str = "127.0.0.1"
    port: int = 8400
    workers: int = 1  # processes serving the port (gateway/serve.py); 1: this process
    data_dir: Path = Path(".jointgate")
    jwks_file: Path | None = None
    jwks_url: str | None = None
    jwks_refresh_s: float = 300.0
    jwks_min_refetch_s: float = 30.0  # an unknown kid refetches the key set at most this often
    token_leeway_s: int = 30
    audit: AuditSettings = field(default_factory=AuditSettings)
    max_body_bytes: int = 256 * 1024
    request_deadline_s: float = 10.0  # every agency call of one request ends by then
    # the HTTP surface (docs/configuration.md; gateway/graphql_http.py, gateway/http_security.py)
    request_timeout_s: float = 15.0  # past this the client gets 504 REQUEST_TIMEOUT
    max_json_depth: int = 16  # nesting of objects and arrays in a request body or its variables
    batching: bool = False  # accept a JSON array of operations in one POST
    max_batch_operations: int = 10
    cors_allowed_origins: tuple[str, ...] = ()  # browser origins that may call the gateway
    cors_allow_credentials: bool = False
    hsts_max_age_s: int = 0  # Strict-Transport-Security max-age; 0: header not sent
    # proxies whose X-Forwarded-For names the client (gateway/forwarded.py); none by default
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    policy_dir: Path | None = None  # None: the default set shipped in policies/
    policy_mode: str = "enforce"  # enforce: denied fields null + error; reject: refuse operation
    enforcement: bool = True  # False only to measure what enforcement costs
    policy_reload_s: float = 1.0  # how often policy files are checked for changes
    governance_db: str | None = None  # teams and reviews; None: SQLite in the data dir
    # replicas enforce the set published in the governance database (docs/deployment.md)
    policy_shared: bool = False
    notifications: NotifySettings = field(default_factory=NotifySettings)  # docs/deployment.md
    cache: CacheSettings = field(default_factory=CacheSettings)  # docs/cache.md
    limits: QueryLimits = field(default_factory=QueryLimits)
    rate_limits: RateLimits = field(default_factory=RateLimits)  # docs/limits.md
    persisted: PersistedSettings = field(default_factory=PersistedSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)  # docs/telemetry.md
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def governance_url(self) -> str:
        return self.governance_db or f"sqlite:///{self.data_dir / 'governance.sqlite3'}"


def load(path: Path) -> Settings:
    """The file with the ``JOINTGATE_*`` environment overrides applied (gateway/config_env.py);
    a ConfigError lists every problem of both."""
    settings, problems = load_checked(path)
    if problems:
        raise ConfigError(*problems)
    return settings


def load_checked(
    path: Path, volume_types: Collection[str] | None = None
) -> tuple[Settings, list[str]]:
    """The settings of a file and its environment overrides, and every problem found in them
    (``jointgate config check``): a problem names its key, and the variable when the value came
    from one. With problems the settings hold defaults where the problems were; a file that
    cannot be read or parsed raises ConfigError. ``volume_types``: the schema's types, which
    volume caps must name (gateway/config_check.py: ``check_config``)."""
    from gateway.config_env import blame_problem

    check = Checker()
    raw, found = _read(path, check)
    settings = build(raw, path.parent, check, volume_types)
    return settings, [blame_problem(p, found) for p in check.problems]


def _read(path: Path, check: Checker | None = None) -> tuple[dict[str, Any], list[Override]]:
    """The parsed file with the environment's overrides, and those overrides. Bad variables
    are noted in ``check`` (and left out), or raised without one."""
    from gateway.config_env import merge, scan

    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    found, problems = scan(os.environ, raw)
    merged, conflicts = merge(raw, found)
    problems += conflicts
    if problems and check is None:
        raise ConfigError(*problems)
    if check is not None:
        check.note(*problems)
    return merged, found


def from_mapping(raw: dict[str, Any], base: Path = Path()) -> Settings:
    """The settings of a parsed file; a ConfigError lists every problem (:class:`Checker`)."""
    check = Checker()
    settings = build(raw, base, check)
    check.raise_problems()
    return settings


def build(
    raw: dict[str, Any],
    base: Path,
    check: Checker,
    volume_types: Collection[str] | None = None,
) -> Settings:
    """The settings of ``raw``, each table checked on its own and every problem noted in
    ``check``; a table with a problem contributes its defaults (:class:`Checker`). Volume caps
    are checked against ``volume_types`` when given (the schema's types)."""
    raw = _screened(raw, check)
    t: dict[str, dict[str, Any]] = {
        name: check.value(partial(_table, raw, name), {}) for name in TABLES
    }
    agencies = {
        name: check.table(
            f"agencies.{name}",
            _agency_table(t["agencies"], name),
            partial(_agency, name, base=base),
            AgencySettings(url=""),
        )
        for name in AGENCIES
    }
    database = check.table("governance", t["governance"], _governance_database, None)
    gateway: dict[str, Any] = check.table("gateway", t["gateway"], partial(_gateway, base=base), {})
    auth: dict[str, Any] = check.table("auth", t["auth"], partial(_auth, base=base), _NO_AUTH)
    policy: dict[str, Any] = check.table(
        "policy", t["policy"], partial(_policy, base=base, database=database), {}
    )
    audit = check.table("audit", t["audit"], partial(audit_settings, base=base), AuditSettings())
    notify = check.table("notifications", t["notifications"], NotifySettings.from_mapping,
                         NotifySettings())  # fmt: skip
    cache = check.table("cache", t["cache"], CacheSettings.from_mapping, CacheSettings())
    limits = check.table("limits", t["limits"], _limits, QueryLimits())
    rate_limit_table = partial(RateLimits.from_mapping, base=base, volume_types=volume_types)
    rate_limits = check.table("rate_limits", t["rate_limits"], rate_limit_table, RateLimits())
    persisted = check.table("persisted_operations", t["persisted_operations"],
                            partial(_persisted, base=base), PersistedSettings())  # fmt: skip
    telemetry = check.table("telemetry", t["telemetry"], telemetry_settings, TelemetrySettings())
    return Settings(
        agencies=agencies,
        **gateway,
        **auth,
        audit=audit,
        **policy,
        governance_db=database,
        notifications=notify,
        cache=cache,
        limits=limits,
        rate_limits=rate_limits,
        persisted=persisted,
        telemetry=telemetry,
    )


#: the tables of jointgate.toml (docs/configuration.md; gateway/config_env.py lists their keys)
TABLES = (
    "gateway", "auth", "audit", "policy", "governance", "notifications", "cache", "limits",
    "rate_limits", "persisted_operations", "telemetry", "agencies",
)  # fmt: skip
# tables whose builders take any key: checked against config_env.SETTINGS before they run
_OPEN_TABLES = ("gateway", "auth", "audit", "policy", "governance")
_NO_AUTH: dict[str, Any] = {"issuer": "", "audience": ""}


def _screened(raw: dict[str, Any], check: Checker) -> dict[str, Any]:
    """``raw`` without what no setting is: unknown tables, unknown keys of the tables whose
    builders do not check them, and text settings that are not text (a path of ``5`` would
    otherwise fail deep inside as a TypeError). Each is noted as a problem."""
    from gateway.config_env import SETTINGS

    screened: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in TABLES:
            close = difflib.get_close_matches(name, TABLES, n=1)
            hint = f"did you mean [{close[0]}]?" if close else f"tables: {', '.join(TABLES)}"
            check.note(f"{name}: not a table of the configuration; {hint}")
        elif name in _OPEN_TABLES and isinstance(value, dict):
            screened[name] = _known_keys(name, value, SETTINGS[name], check)
        else:
            screened[name] = value
    if isinstance(agencies := screened.get("agencies"), dict):
        for name in sorted(set(agencies) - set(AGENCIES)):
            check.note(f"agencies.{name}: unknown agency; known: {', '.join(AGENCIES)}")
    return screened


def _known_keys(
    name: str, table: dict[str, Any], kinds: Mapping[str, str], check: Checker
) -> dict[str, Any]:
    from gateway.config_env import SECRET_KEYS

    kept = {}
    for key, value in table.items():
        kind = kinds.get(key)
        if kind is None and key in SECRET_KEYS:
            check.note(
                f"{name}.{key}: secrets are not read from the config; use {key}_file or {key}_env"
                if f"{key}_file" in kinds
                else f"{name}.{key}: secrets are not read from the config (docs/configuration.md)"
            )
        elif kind is None:
            close = difflib.get_close_matches(key, kinds, n=1)
            hint = f"did you mean {name}.{close[0]}?" if close else f"known: {', '.join(kinds)}"
            check.note(f"{name}.{key}: unknown key; {hint}")
        elif kind == "str" and not isinstance(value, str):
            check.note(f"{name}.{key}: must be text (a TOML string), got {value!r}")
        else:
            kept[key] = value
    return kept


def _agency_table(agencies: dict[str, Any], name: str) -> dict[str, Any]:
    table = agencies.get(name)
    return table if isinstance(table, dict) else {}


def _agency(name: str, table: dict[str, Any], base: Path) -> AgencySettings:
    where = f"agencies.{name}"
    url = table.get("url")
    settings = AgencySettings(
        url=url.rstrip("/") if isinstance(url, str) else "",
        timeout_s=_number(table, "timeout_s", 5.0, where),
        max_connections=int(_number(table, "max_connections", 64, where)),
        key_id=str(table.get("key_id", "jointgate")),
        resilience=_resilience(table, where),
        tls=_tls(table, where, base),
    )
    # the URL and the secret last, together: a missing one ends the table's check (it names no
    # key of the table left to drop), and by then every other key has been checked
    problems = [_agency_url(name, url)]
    key = b""
    if name == "banking":
        try:
            key = _secret(table, where, base)
        except ConfigError as exc:
            problems += exc.problems
    if any(problems):
        raise ConfigError(*filter(None, problems))
    return replace(settings, key=key)


def _agency_url(name: str, url: object) -> str:
    """The problem with ``agencies.NAME.url``, or "" (connectors/wire.py: ``url_problem``)."""
    where = f"agencies.{name}.url"
    if not isinstance(url, str) or not url:
        return f"{where}: required; the base URL of the {name} system"
    problem = url_problem(url)
    return f"{where}: {problem}, got {url!r}" if problem else ""


def _auth(auth: dict[str, Any], base: Path) -> dict[str, Any]:
    settings = {
        "jwks_file": _jwks_file(auth.get("jwks_file"), base),
        "jwks_url": _jwks_url(auth.get("jwks_url")),
        "jwks_refresh_s": _number(auth, "jwks_refresh_s", 300.0, "auth"),
        "jwks_min_refetch_s": _number(auth, "jwks_min_refetch_s", 30.0, "auth"),
        "token_leeway_s": int(_number(auth, "leeway_s", 30, "auth")),
    }
    missing = []  # last and all at once (:class:`Checker`)
    if not settings["jwks_file"] and not settings["jwks_url"]:
        missing.append("auth.jwks_url: required (or auth.jwks_file): where the signing keys are")
    elif settings["jwks_file"] and settings["jwks_url"]:  # which one signs would be a guess
        missing.append("auth.jwks_file and auth.jwks_url: both set; keep one")
    for key in ("issuer", "audience"):
        if not isinstance(auth.get(key), str) or not auth[key]:
            missing.append(f"auth.{key}: required; the token's expected '{key[:3]}' claim")
    if missing:
        raise ConfigError(*missing)
    return {"issuer": auth["issuer"], "audience": auth["audience"], **settings}


def _jwks_file(name: str | None, base: Path) -> Path | None:
    """``auth.jwks_file``, read and its keys loaded here, so that a wrong file stops the start,
    not the first request (the gateway reads it again at start and on each refresh)."""
    if not name:
        return None
    path = base / name
    try:
        public_key_set(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"auth.jwks_file: cannot read a JWKS from {path} ({exc})") from None
    return path


def _jwks_url(url: str | None) -> str | None:
    """``auth.jwks_url``: https; plain http only to this host (an identity provider or a sidecar
    beside the gateway), since whoever can alter the keys on the way can sign any token."""
    if not url:
        return None
    problem = url_problem(url, ("http", "https") if _local_http(url) else ("https",), base=False)
    if problem:
        local = "; http:// only to this host (localhost, 127.0.0.1, ::1)"
        raise ConfigError(
            f"auth.jwks_url: {problem}{local if problem.startswith('must') else ''}, got {url!r}"
        )
    return url


def _local_http(url: str) -> bool:
    """An ``http://`` URL to a loopback address of this host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme != "http":
        return False
    try:
        return host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        return False


def _gateway(gateway: dict[str, Any], base: Path) -> dict[str, Any]:
    data_dir = Path(gateway.get("data_dir", ".jointgate"))
    port = gateway.get("port", 8400)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"gateway.port: a whole number from 1 to 65535, got {port!r}")
    return {
        "host": str(gateway.get("host", "127.0.0.1")),
        "port": port,
        "workers": _workers(gateway),
        "data_dir": data_dir if data_dir.is_absolute() else base / data_dir,
        "max_body_bytes": int(_number(gateway, "max_body_bytes", 256 * 1024, "gateway")),
        "request_deadline_s": _number(gateway, "request_deadline_s", 10.0, "gateway"),
        **_http_surface(gateway),
    }


def _policy(policy: dict[str, Any], base: Path, database: str | None) -> dict[str, Any]:
    mode = policy.get("mode", "enforce")
    if mode not in ("enforce", "reject"):
        raise ConfigError(f"policy.mode: 'enforce' or 'reject', got {mode!r}")
    enforcement = policy.get("enforcement", "on")
    if enforcement not in ("on", "off"):
        raise ConfigError(f"policy.enforcement: 'on' or 'off', got {enforcement!r}")
    return {
        "policy_dir": (base / policy["dir"]) if policy.get("dir") else None,
        "policy_mode": mode,
        "enforcement": enforcement == "on",
        "policy_reload_s": _number(policy, "reload_s", 1.0, "policy"),
        "policy_shared": _shared(policy, database),
    }


def _governance_database(governance: dict[str, Any]) -> str | None:
    database = governance.get("database")
    if database is not None and not str(database).startswith(("sqlite:///", "postgresql://")):
        raise ConfigError("governance.database: a sqlite:///PATH or postgresql:// URL")
    return str(database) if database else None


LOG_LEVELS = ("debug", "info", "warning", "error")
_ENDPOINT = re.compile(r"https?://[^/\s?#]+(/[^\s?#]*)?")


def telemetry_settings(table: dict[str, Any]) -> TelemetrySettings:
    """``[telemetry]`` (docs/telemetry.md); every key checked, an unknown one named."""
    known = [f.name for f in dataclasses.fields(TelemetrySettings)]
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"telemetry.{unknown[0]}: unknown key; known: {', '.join(known)}")
    d = TelemetrySettings()
    # OpenTelemetry's standard variable is the default; the key (or its JOINTGATE_ override) wins
    standard = os.environ.get("OTEL_SERVICE_NAME", "")
    from_env = bool(standard) and "service_name" not in table
    name = table.get("service_name", standard or d.service_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", name):
        raise ConfigError(
            f"telemetry.service_name: letters, digits, '.', '_', '-'; got {name!r}"
            + (" (set by OTEL_SERVICE_NAME)" if from_env else "")
        )
    endpoint = table.get("otlp_endpoint", d.otlp_endpoint)
    if not isinstance(endpoint, str) or (endpoint and not _ENDPOINT.fullmatch(endpoint)):
        raise ConfigError(
            "telemetry.otlp_endpoint: the collector's OTLP/HTTP base URL, such as"
            f' "http://otel-collector:4318" ("" for none), got {endpoint!r}'
        )
    ratio = table.get("sample_ratio", d.sample_ratio)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise ConfigError(f"telemetry.sample_ratio: a share from 0 to 1, got {ratio!r}")
    log_format = table.get("log_format", d.log_format)
    if log_format not in ("json", "text"):
        raise ConfigError(f"telemetry.log_format: 'json' or 'text', got {log_format!r}")
    level = table.get("log_level", d.log_level)
    if not isinstance(level, str) or level.lower() not in LOG_LEVELS:
        raise ConfigError(f"telemetry.log_level: one of {', '.join(LOG_LEVELS)}; got {level!r}")
    metrics = table.get("metrics", d.metrics)
    if not isinstance(metrics, bool):
        raise ConfigError(f"telemetry.metrics: true or false, got {metrics!r}")
    return TelemetrySettings(
        service_name=name,
        otlp_endpoint=endpoint.rstrip("/"),
        sample_ratio=float(ratio),
        log_format=log_format,
        log_level=level.lower(),
        metrics=metrics,
    )


def audit_settings(audit: dict[str, Any], base: Path = Path()) -> AuditSettings:
    """The ``[audit]`` table; paths stay relative to the data dir, files named by the config
    (keys) relative to the config file."""
    backend = str(audit.get("backend", "sqlite"))
    if backend not in ("sqlite", "postgres"):
        raise ConfigError(f"audit.backend: must be 'sqlite' or 'postgres', got {backend!r}")
    if "data_key" in audit:
        raise ConfigError(
            "audit.data_key: secrets are not read from the config; use data_key_file or"
            " data_key_env"
        )
    unindexed = audit.get("unindexed_types", ["Transaction"])
    if not isinstance(unindexed, list) or not all(isinstance(t, str) for t in unindexed):
        raise ConfigError("audit.unindexed_types: must be a list of GraphQL type names")
    defaults = AuditSettings()

    def config_path(key: str, default: Path) -> Path:
        return (base / str(audit[key])).absolute() if key in audit else default

    return AuditSettings(
        backend=backend,
        path=Path(audit.get("path", defaults.path)),
        postgres_dsn=str(audit.get("postgres_dsn", "")),
        postgres_dsn_env=str(audit.get("postgres_dsn_env", defaults.postgres_dsn_env)),
        postgres_schema=str(audit.get("postgres_schema", defaults.postgres_schema)),
        log_id=str(audit.get("log_id", "")),
        signing_key_file=config_path("signing_key_file", defaults.signing_key_file),
        data_key_file=config_path("data_key_file", defaults.data_key_file),
        data_key_env=str(audit.get("data_key_env", "")),
        retention_days=int(_number(audit, "retention_days", 400, "audit")),
        archive_dir=Path(audit.get("archive_dir", defaults.archive_dir)),
        checkpoint_every=int(_number(audit, "checkpoint_every", 1000, "audit")),
        checkpoint_interval_s=_number(audit, "checkpoint_interval_s", 60.0, "audit"),
        max_batch=int(_number(audit, "max_batch", 1024, "audit")),
        unindexed_types=tuple(unindexed),
    )


def _shared(policy: dict[str, Any], database: object) -> bool:
    """``policy.shared``; by default on exactly when the governance database is configured
    (replicas that share teams share the policy set too)."""
    shared = policy.get("shared", database is not None)
    if not isinstance(shared, bool):
        raise ConfigError(f"policy.shared: true or false, got {shared!r}")
    return shared


def load_governance(path: Path) -> tuple[str, NotifySettings]:
    """The governance database URL and the resolved notification settings of a config file (for
    ``jointgate teams`` and ``jointgate policy publish``, which need nothing else)."""
    raw, _ = _read(path)
    data_dir = Path(_table(raw, "gateway").get("data_dir", ".jointgate"))
    data_dir = data_dir if data_dir.is_absolute() else path.parent / data_dir
    database = _table(raw, "governance").get("database")
    url = str(database) if database else f"sqlite:///{data_dir / 'governance.sqlite3'}"
    notifications = NotifySettings.from_mapping(_table(raw, "notifications"))
    rate_limits = RateLimits.from_mapping(_table(raw, "rate_limits"), path.parent)
    return url, notifications.resolved(rate_limits)


def load_policy_source(path: Path) -> tuple[bool, Path | None]:
    """Where the gateways of a config file take their policies from: ``policy.shared`` (the set
    published in the governance database) and ``policy.dir`` (None: the shipped set), for
    ``jointgate policy publish`` and ``explain``, which must not act on the wrong one."""
    raw, _ = _read(path)
    policy = _table(raw, "policy")
    shared = _shared(policy, _table(raw, "governance").get("database"))
    return shared, (path.parent / str(policy["dir"])) if policy.get("dir") else None


def load_audit(path: Path) -> tuple[AuditSettings, Path]:
    """Only the ``[audit]`` table and the data dir of a config file (for ``jointgate audit``,
    which needs neither the identity provider nor the agencies)."""
    raw, _ = _read(path)
    data_dir = Path(_table(raw, "gateway").get("data_dir", ".jointgate"))
    base = path.parent
    return audit_settings(_table(raw, "audit"), base), (
        data_dir if data_dir.is_absolute() else base / data_dir
    )


def _limits(table: dict[str, Any]) -> QueryLimits:
    """``[limits]``: every QueryLimits field, positive integers; introspection_roles a list."""
    defaults = QueryLimits()
    values: dict[str, Any] = {}
    for name in (f.name for f in dataclasses.fields(QueryLimits)):
        if name not in table:
            continue
        if name == "introspection_roles":
            roles = table[name]
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise ConfigError("limits.introspection_roles: a list of role names")
            values[name] = frozenset(roles)
        else:
            values[name] = int(_number(table, name, getattr(defaults, name), "limits"))
    unknown = sorted(set(table) - {f.name for f in dataclasses.fields(QueryLimits)})
    if unknown:
        raise ConfigError(f"limits.{unknown[0]}: unknown limit; see docs/limits.md")
    return dataclasses.replace(defaults, **values)


def _persisted(table: dict[str, Any], base: Path) -> PersistedSettings:
    """``[persisted_operations]``; the trusted file is read and checked here, at start."""
    where = "persisted_operations"
    unknown = sorted(set(table) - {f.name for f in dataclasses.fields(PersistedSettings)})
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key; see docs/limits.md")
    clients = table.get("restricted_clients", [])
    if not isinstance(clients, list) or not all(isinstance(c, str) and c for c in clients):
        raise ConfigError(f"{where}.restricted_clients: a list of client ids (azp / client_id)")
    trusted = base / str(table["trusted_file"]) if "trusted_file" in table else None
    if clients and trusted is None:
        raise ConfigError(
            f"{where}.trusted_file: required with restricted_clients (the operations they may run)"
        )
    settings = PersistedSettings(
        trusted, frozenset(clients), int(_number(table, "cache_size", 10_000, where))
    )
    try:
        PersistedOperations.from_settings(settings)
    except OSError as exc:
        raise ConfigError(f"{where}.trusted_file: cannot read {trusted}: {exc.strerror}") from None
    except ValueError as exc:  # also JSONDecodeError
        raise ConfigError(
            f"{where}.trusted_file: {exc}; expected a JSON object of sha256 -> query"
        ) from None
    return settings


def _http_surface(gateway: dict[str, Any]) -> dict[str, Any]:
    """The ``[gateway]`` keys of the HTTP surface: timeout, JSON depth, batching, CORS, HSTS."""
    deadline = _number(gateway, "request_deadline_s", 10.0, "gateway")
    timeout = _number(gateway, "request_timeout_s", max(15.0, deadline + 5), "gateway")
    if timeout <= deadline:
        raise ConfigError(
            f"gateway.request_timeout_s: must be longer than gateway.request_deadline_s"
            f" ({deadline:g}), so that a slow agency ends in AGENCY_UNAVAILABLE, not a timeout"
        )
    flags = {}
    for key in ("batching", "cors_allow_credentials"):
        flags[key] = gateway.get(key, False)
        if not isinstance(flags[key], bool):
            raise ConfigError(f"gateway.{key}: true or false, got {flags[key]!r}")
    origins = gateway.get("cors_allowed_origins", [])
    if not isinstance(origins, list) or not all(
        isinstance(o, str) and re.fullmatch(r"https?://[^/\s*]+", o) for o in origins
    ):
        raise ConfigError(
            "gateway.cors_allowed_origins: a list of origins such as"
            ' "https://app.agency.example" (scheme and host, no path, no wildcard)'
        )
    hsts = gateway.get("hsts_max_age_s", 0)
    if isinstance(hsts, bool) or not isinstance(hsts, int) or hsts < 0:
        raise ConfigError(f"gateway.hsts_max_age_s: a whole number of seconds >= 0, got {hsts!r}")
    return {
        "trusted_proxies": _trusted_proxies(gateway.get("trusted_proxies", [])),
        "request_timeout_s": timeout,
        "max_json_depth": int(_number(gateway, "max_json_depth", 16, "gateway")),
        "max_batch_operations": int(_number(gateway, "max_batch_operations", 10, "gateway")),
        "cors_allowed_origins": tuple(origins),
        "hsts_max_age_s": hsts,
        **flags,
    }


def _trusted_proxies(value: object) -> tuple[IPv4Network | IPv6Network, ...]:
    """``gateway.trusted_proxies``: addresses (``10.0.0.7``) and networks (``10.0.0.0/8``)."""
    key = "gateway.trusted_proxies"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f'{key}: a list of the proxies\' addresses or networks, such as ["10.0.0.0/8"]'
        )
    networks, problems = [], []
    for text in value:
        try:  # an IPv6 zone (%eth0) would never match a peer (gateway/forwarded.py)
            network = ip_network(text.strip(), strict=False) if "%" not in text else None
        except ValueError:
            network = None
        if network is None:
            problems.append(f"{key}: {text!r} is not an IP address or network")
            continue
        try:
            networks.append(ip_network(text.strip()))  # strict: it parsed, so only host bits fail
        except ValueError:
            problems.append(f"{key}: {text!r} has host bits set; the network is {network}")
    if problems:
        raise ConfigError(*problems)
    return tuple(networks)


def _workers(gateway: dict[str, Any]) -> int:
    workers = gateway.get("workers", 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
        raise ConfigError(
            f"gateway.workers: a whole number from 1 to 64 (processes serving the port; about"
            f" one per core), got {workers!r}"
        )
    return workers


def _table(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: must be a table ([{name}])")
    return value


def _number(table: dict[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}.{key}: must be a positive number, got {value!r}")
    return float(value)


def _resilience(table: dict[str, Any], where: str) -> Resilience:
    """The ``Resilience`` keys of an agency table (docs/resilience.md); the defaults live there."""
    default = Resilience()
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Resilience):
        value = table.get(f.name, getattr(default, f.name))
        key = f"{where}.{f.name}"
        if f.type == "int":
            low = 0 if f.name in ("retries", "retry_budget_min") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{key}: must be a whole number >= {low}, got {value!r}")
        elif f.name in ("retry_budget_ratio", "breaker_failure_rate"):
            zero_ok = f.name == "retry_budget_ratio"
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (0 <= value <= 1 if zero_ok else 0 < value <= 1)
            ):
                raise ConfigError(f"{key}: must be a share from 0 to 1, got {value!r}")
            value = float(value)
        else:
            value = _number(table, f.name, value, where)
        values[f.name] = value
    return Resilience(**values)


def _tls(table: dict[str, Any], where: str, base: Path) -> AgencyTLS | None:
    """``[agencies.NAME.tls]``: ``ca_file``, ``cert_file``, ``key_file``, loaded once here so
    that a wrong file stops the start, not the first request."""
    raw = table.get("tls")
    if raw is None:
        return None
    where = f"{where}.tls"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table ([{where}])")
    unknown = sorted(set(raw) - {"ca_file", "cert_file", "key_file"})
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key; known: ca_file, cert_file, key_file")
    files = {k: base / str(v) for k, v in raw.items()}
    if isinstance(url := table.get("url"), str) and url and not url.startswith("https://"):
        raise ConfigError(f"{where[: -len('.tls')]}.url: must be https:// with [{where}]")
    if "key_file" in files and "cert_file" not in files:
        raise ConfigError(f"{where}.cert_file: required with key_file (the client certificate)")
    missing = [k for k, path in files.items() if not path.is_file()]
    if missing:
        raise ConfigError(f"{where}.{missing[0]}: cannot read {files[missing[0]]}")
    tls = AgencyTLS(files.get("ca_file"), files.get("cert_file"), files.get("key_file"))
    try:
        client_context(tls)
    except (OSError, ssl.SSLError) as exc:
        key = "cert_file" if "cert_file" in files else "ca_file"
        raise ConfigError(f"{where}.{key}: cannot load ({exc}); expected PEM files") from None
    return tls


def _secret(table: dict[str, Any], where: str, base: Path) -> bytes:
    """A secret from ``key_file`` or the environment variable named by ``key_env``; never inline."""
    if "key" in table:
        raise ConfigError(
            f"{where}.key: secrets are not read from the config; use key_file or key_env"
        )
    if "key_file" in table:
        path = base / str(table["key_file"])
        try:
            return path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"{where}.key_file: cannot read {path}: {exc.strerror}") from None
    env = str(table.get("key_env", "JOINTGATE_BANK_KEY"))
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"{where}.key_env: environment variable {env} is not set (HMAC key)")
    return value.encode()
