"""Gateway settings: one TOML file, validated at start with errors that name the key and the fix.

See docs/configuration.md for every key and its default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AGENCIES = ("police", "market", "banking", "courts")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key and what to do."""


@dataclass(frozen=True, slots=True)
class AgencySettings:
    url: str
    timeout_s: float = 5.0
    max_connections: int = 64
    key_id: str = "jointgate"  # banking: HMAC key id
    key: bytes = b""  # banking: HMAC secret


@dataclass(frozen=True, slots=True)
class Settings:
    issuer: str
    audience: str
    agencies: dict[str, AgencySettings]
    host: str = "127.0.0.1"
    port: int = 8400
    data_dir: Path = Path(".jointgate")
    jwks_file: Path | None = None
    jwks_url: str | None = None
    jwks_refresh_s: float = 300.0
    token_leeway_s: int = 30
    audit_path: Path = Path("audit/audit.jsonl")
    max_body_bytes: int = 256 * 1024
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def audit_file(self) -> Path:
        return self.audit_path if self.audit_path.is_absolute() else self.data_dir / self.audit_path


def load(path: Path) -> Settings:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_mapping(raw, base=path.parent)


def from_mapping(raw: dict[str, Any], base: Path = Path()) -> Settings:
    gateway = _table(raw, "gateway")
    auth = _table(raw, "auth")
    audit = _table(raw, "audit")
    agencies_raw = _table(raw, "agencies")
    agencies: dict[str, AgencySettings] = {}
    for name in AGENCIES:
        table = agencies_raw.get(name)
        if not isinstance(table, dict) or not isinstance(table.get("url"), str):
            raise ConfigError(f"agencies.{name}.url: required; the base URL of the {name} system")
        secret = _secret(table, f"agencies.{name}", base) if name == "banking" else b""
        agencies[name] = AgencySettings(
            url=table["url"].rstrip("/"),
            timeout_s=_number(table, "timeout_s", 5.0, f"agencies.{name}"),
            max_connections=int(_number(table, "max_connections", 64, f"agencies.{name}")),
            key_id=str(table.get("key_id", "jointgate")),
            key=secret,
        )
    unknown = set(agencies_raw) - set(AGENCIES)
    if unknown:
        raise ConfigError(
            f"agencies.{sorted(unknown)[0]}: unknown agency; known: {', '.join(AGENCIES)}"
        )
    jwks_file = auth.get("jwks_file")
    jwks_url = auth.get("jwks_url")
    if not jwks_file and not jwks_url:
        raise ConfigError("auth.jwks_url: required (or auth.jwks_file): where the signing keys are")
    for key in ("issuer", "audience"):
        if not isinstance(auth.get(key), str) or not auth[key]:
            raise ConfigError(f"auth.{key}: required; the token's expected '{key[:3]}' claim")
    data_dir = Path(gateway.get("data_dir", ".jointgate"))
    return Settings(
        issuer=auth["issuer"],
        audience=auth["audience"],
        agencies=agencies,
        host=str(gateway.get("host", "127.0.0.1")),
        port=int(_number(gateway, "port", 8400, "gateway")),
        data_dir=data_dir if data_dir.is_absolute() else base / data_dir,
        jwks_file=(base / jwks_file) if jwks_file else None,
        jwks_url=jwks_url,
        jwks_refresh_s=_number(auth, "jwks_refresh_s", 300.0, "auth"),
        token_leeway_s=int(_number(auth, "leeway_s", 30, "auth")),
        audit_path=Path(audit.get("path", "audit/audit.jsonl")),
        max_body_bytes=int(_number(gateway, "max_body_bytes", 256 * 1024, "gateway")),
    )


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
