"""Gateway settings: one TOML file and its ``JOINTGATE_*`` environment overrides, validated at
start with errors that name the key and the fix.

Each subsystem declares its own table (kernel/settings.py says how), and this module composes
them; the overrides (kernel/overrides.py) and the key table of docs/configuration.md
(gateway/settings_docs.py) are derived from the same declarations:

    [gateway]              HttpSettings         gateway/http_settings.py
    [auth]                 AuthSettings         gateway/auth_settings.py
    [audit]                AuditSettings        audit/config.py
    [policy]               PolicySettings       gateway/policy_settings.py
    [governance]           GovernanceSettings   gateway/policy_settings.py
    [notifications]        NotifySettings       gateway/notify_settings.py
    [cache]                CacheSettings        gateway/cache_settings.py
    [subscriptions]        SubscriptionSettings gateway/subscription_settings.py
    [limits]               QueryLimits          gateway/limits_settings.py
    [rate_limits]          RateLimits           gateway/ratelimit_settings.py
    [persisted_operations] PersistedSettings    gateway/persisted.py
    [telemetry]            TelemetrySettings    gateway/telemetry_settings.py
    [office]               OfficeSettings       office/settings.py
    [signals]              SignalSettings       signals/settings.py
    [console]              ConsoleSettings      gateway/console_settings.py
    [agencies.NAME]        AgencySettings       connectors/registry.py (+ connectors/resilience.py)
    [agencies.NAME.tls]    AgencyTLS            connectors/tls.py
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic.dataclasses import dataclass

from audit.config import AuditSettings
from connectors.registry import AGENCIES, AgencySettings
from connectors.tls import AgencyTLS
from gateway.auth_settings import AuthSettings
from gateway.cache_settings import CacheSettings
from gateway.console_settings import ConsoleSettings
from gateway.http_settings import HttpSettings
from gateway.limits_settings import QueryLimits
from gateway.notify_settings import NotifySettings
from gateway.persisted import PersistedSettings
from gateway.policy_settings import GovernanceSettings, PolicySettings
from gateway.ratelimit_settings import RateLimits
from gateway.subscription_settings import SubscriptionSettings
from gateway.telemetry_settings import TelemetrySettings
from kernel.config import ConfigError
from kernel.overrides import Override, Overrides, blame_problem, merge, variable_name
from kernel.settings import TABLE, Kind, Table, declared, load_table, setting
from office.settings import OfficeSettings
from signals.settings import SignalSettings

__all__ = [
    "AGENCIES",
    "SETTINGS",
    "TABLES",
    "Settings",
    "TelemetrySettings",
    "all_variables",
    "from_mapping",
    "load",
    "load_audit",
    "load_auth",
    "load_checked",
    "load_governance",
    "load_policy_source",
    "load_review_deadline",
    "overrides",
    "variable_name",
]


@dataclass(frozen=True, kw_only=True, config=TABLE)
class Settings(HttpSettings, AuthSettings, PolicySettings, GovernanceSettings):
    """Everything the gateway is configured with: the keys of ``[gateway]``, ``[auth]``,
    ``[policy]`` and ``[governance]`` as attributes of their own (``settings.port``), the
    other tables as theirs (``settings.rate_limits.user_rate``)."""

    agencies: dict[str, AgencySettings] = setting()
    audit: AuditSettings = setting(factory=AuditSettings)
    notifications: NotifySettings = setting(factory=NotifySettings)  # docs/deployment.md
    cache: CacheSettings = setting(factory=CacheSettings)  # docs/cache.md
    subscriptions: SubscriptionSettings = setting(factory=SubscriptionSettings)
    limits: QueryLimits = setting(factory=QueryLimits)  # docs/limits.md
    rate_limits: RateLimits = setting(factory=RateLimits)  # docs/limits.md
    persisted: PersistedSettings = setting(factory=PersistedSettings, key="persisted_operations")
    telemetry: TelemetrySettings = setting(factory=TelemetrySettings)  # docs/telemetry.md
    office: OfficeSettings = setting(factory=OfficeSettings)  # docs/workflows.md
    signals: SignalSettings = setting(factory=SignalSettings)  # docs/signals.md
    console: ConsoleSettings = setting(factory=ConsoleSettings)  # docs/console.md
    extra: dict[str, Any] = setting(factory=dict, internal=True)

    @property
    def governance_url(self) -> str:
        return self.governance_db or f"sqlite:///{self.data_dir / 'governance.sqlite3'}"


#: every table of jointgate.toml by its path (``*``: each agency), and its declaration
DECLARED: dict[str, type[Table]] = {
    "gateway": HttpSettings,
    "auth": AuthSettings,
    "audit": AuditSettings,
    "policy": PolicySettings,
    "governance": GovernanceSettings,
    "notifications": NotifySettings,
    "cache": CacheSettings,
    "subscriptions": SubscriptionSettings,
    "limits": QueryLimits,
    "rate_limits": RateLimits,
    "persisted_operations": PersistedSettings,
    "telemetry": TelemetrySettings,
    "office": OfficeSettings,
    "signals": SignalSettings,
    "console": ConsoleSettings,
    "agencies.*": AgencySettings,
    "agencies.*.tls": AgencyTLS,
}
#: the tables of the file
TABLES = tuple(dict.fromkeys(pattern.split(".")[0] for pattern in DECLARED))
#: every setting by table and its TOML type: what the overrides set and how they read it
SETTINGS: dict[str, dict[str, Kind]] = {
    pattern: {d.key: d.kind for d in declared(cls)} for pattern, cls in DECLARED.items()
}
_ENV = Overrides(SETTINGS, {"agencies": AGENCIES})
all_variables = _ENV.all_variables
overrides = _ENV.overrides
_NO_AUTH = {"issuer": "(missing)", "audience": "(missing)"}  # stands in when [auth] is wrong


def load(path: Path) -> Settings:
    """The file with the ``JOINTGATE_*`` environment overrides applied; a ConfigError lists
    every problem of both."""
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
    problems: list[str] = []
    raw, found = _read(path, problems)
    settings, more = build(raw, path.parent, volume_types)
    return settings, [blame_problem(p, found) for p in problems + more]


def from_mapping(raw: dict[str, Any], base: Path = Path()) -> Settings:
    """The settings of a parsed file; a ConfigError lists every problem."""
    settings, problems = build(raw, base)
    if problems:
        raise ConfigError(*problems)
    return settings


def build(
    raw: Mapping[str, Any], base: Path, volume_types: Collection[str] | None = None
) -> tuple[Settings, list[str]]:
    """The settings of ``raw`` and every problem with them, each table checked on its own: one
    with problems contributes its defaults, so that the rest is checked all the same. Volume
    caps are checked against ``volume_types`` when given (the schema's types)."""
    problems: list[str] = []
    tables = _tables(raw, problems)

    def part(name: str, fallback: Any = None, where: str = "", **context: Any) -> Any:
        cls = DECLARED["agencies.*" if name.startswith("agencies.") else name]
        value, found = load_table(cls, tables[name], where or name, base=base, **context)
        problems.extend(found)
        return fallback if value is None else value

    gateway = _fields(part("gateway"))
    auth = _fields(part("auth")) or _NO_AUTH
    agencies = {
        name: part(f"agencies.{name}", AgencySettings(url=""), f"agencies.{name}")
        for name in AGENCIES
    }
    audit = part("audit", AuditSettings())
    governance = _fields(part("governance"))
    database = governance.get("governance_db")
    policy = _fields(part("policy", database=database))
    settings = Settings(
        **gateway,
        **auth,
        **policy,
        **governance,
        agencies=agencies,
        audit=audit,
        notifications=part("notifications", NotifySettings()),
        cache=part("cache", CacheSettings()),
        subscriptions=part("subscriptions", SubscriptionSettings()),
        limits=part("limits", QueryLimits()),
        rate_limits=part("rate_limits", RateLimits(), volume_types=volume_types),
        persisted=part("persisted_operations", PersistedSettings()),
        telemetry=part("telemetry", TelemetrySettings()),
        office=part("office", OfficeSettings()),
        signals=part("signals", SignalSettings()),
        console=part("console", ConsoleSettings()),
    )
    return settings, problems


def _fields(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _tables(raw: Mapping[str, Any], problems: list[str]) -> dict[str, Mapping[str, Any]]:
    """Each table of ``raw`` by name, ``agencies.NAME`` too ({} where missing or not a table);
    a problem for what is no table of the configuration."""
    for name in raw:
        if name not in TABLES:
            close = difflib.get_close_matches(name, TABLES, n=1)
            hint = f"did you mean [{close[0]}]?" if close else f"tables: {', '.join(TABLES)}"
            problems.append(f"{name}: not a table of the configuration; {hint}")
    tables: dict[str, Mapping[str, Any]] = {name: _table(raw, name, problems) for name in TABLES}
    agencies = tables.pop("agencies")
    for name in sorted(set(agencies) - set(AGENCIES)):
        problems.append(f"agencies.{name}: unknown agency; known: {', '.join(AGENCIES)}")
    for name in AGENCIES:
        tables[f"agencies.{name}"] = _table(agencies, name, problems, "agencies.")
    return tables


def _table(
    raw: Mapping[str, Any], name: str, problems: list[str] | None = None, prefix: str = ""
) -> dict[str, Any]:
    value = raw.get(name, {})
    if isinstance(value, dict):
        return value
    problem = f"{prefix}{name}: must be a table ([{prefix}{name}])"
    if problems is None:
        raise ConfigError(problem)
    problems.append(problem)
    return {}


def _read(path: Path, problems: list[str] | None = None) -> tuple[dict[str, Any], list[Override]]:
    """The parsed file with the environment's overrides, and those overrides. Bad variables
    are added to ``problems`` (and left out), or raised without it."""
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    except OSError as exc:  # a directory, no permission ...
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    found, bad = _ENV.scan(os.environ, raw)
    merged, conflicts = merge(raw, found)
    bad += conflicts
    if bad and problems is None:
        raise ConfigError(*bad)
    if problems is not None:
        problems += bad
    return merged, found


def _data_dir(raw: Mapping[str, Any], path: Path) -> Path:
    data_dir = Path(_table(raw, "gateway").get("data_dir", ".jointgate"))
    return data_dir if data_dir.is_absolute() else path.parent / data_dir


def load_governance(path: Path) -> tuple[str, NotifySettings]:
    """The governance database URL and the resolved notification settings of a config file (for
    ``jointgate teams`` and ``jointgate policy propose|approve``, which need nothing else)."""
    raw, _ = _read(path)
    database = GovernanceSettings.from_mapping(_table(raw, "governance")).governance_db
    url = database or f"sqlite:///{_data_dir(raw, path) / 'governance.sqlite3'}"
    notifications = NotifySettings.from_mapping(_table(raw, "notifications"))
    rate_limits = RateLimits.from_mapping(_table(raw, "rate_limits"), path.parent)
    return url, notifications.resolved(rate_limits)


def load_review_deadline(path: Path) -> float:
    """``governance.review_deadline_h`` of a config file, in seconds (``jointgate review``)."""
    raw, _ = _read(path)
    return GovernanceSettings.from_mapping(_table(raw, "governance")).review_deadline_h * 3600


def load_auth(path: Path) -> AuthSettings:
    """Only the ``[auth]`` table of a config file: the identity provider whose tokens the
    gateways accept, for the governance commands, which verify their officials' tokens exactly
    as the gateway does (commands/official.py)."""
    raw, _ = _read(path)
    return AuthSettings.from_mapping(_table(raw, "auth"), path.parent)


def load_policy_source(path: Path) -> tuple[bool, Path | None]:
    """Where the gateways of a config file take their policies from: ``policy.shared`` (the set
    published in the governance database) and ``policy.dir`` (None: the shipped set), for
    ``jointgate policy propose`` and ``explain``, which must not act on the wrong one."""
    raw, _ = _read(path)
    database = _table(raw, "governance").get("database") or None
    policy = PolicySettings.from_mapping(_table(raw, "policy"), path.parent, database=database)
    return policy.policy_shared, policy.policy_dir


def load_audit(path: Path) -> tuple[AuditSettings, Path]:
    """Only the ``[audit]`` table and the data dir of a config file (for ``jointgate audit``,
    which needs neither the identity provider nor the agencies)."""
    raw, _ = _read(path)
    return audit_settings(_table(raw, "audit"), path.parent), _data_dir(raw, path)


def audit_settings(table: Mapping[str, Any], base: Path = Path()) -> AuditSettings:
    """The ``[audit]`` table; paths stay relative to the data dir, files named by the config
    (keys) relative to the config file."""
    return AuditSettings.from_mapping(table, base)


def telemetry_settings(table: Mapping[str, Any]) -> TelemetrySettings:
    """``[telemetry]`` (docs/telemetry.md); every key checked, an unknown one named."""
    return TelemetrySettings.from_mapping(table)
