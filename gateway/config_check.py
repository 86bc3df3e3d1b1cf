"""``jointgate config check FILE``: validate a config as ``jointgate serve`` would, and say what
it configures, without starting anything or contacting anyone.

Exit 0 with a summary on stdout; exit 1 with the problem (key and fix) on stderr. The summary
names secrets' sources, never their values.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gateway.config_env import overrides
from gateway.settings import ConfigError, Settings, load


def check_command(path: Path) -> int:
    try:
        settings = load(path)
        problems = deployment_problems(settings)
    except ConfigError as exc:
        print(f"jointgate config check: {exc}", file=sys.stderr)
        return 1
    if problems:
        for problem in problems:
            print(f"jointgate config check: {problem}", file=sys.stderr)
        return 1
    print(summary(path, settings))
    return 0


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
    return problems


def summary(path: Path, s: Settings) -> str:
    audit = s.audit
    lines = [f"{path}: OK"]
    settings_only = {k: v for k, v in os.environ.items() if "__" in k}  # checked by load()
    for override in overrides(settings_only):
        lines.append(f"  {override.key:<28} from {override.variable}")
    lines += [
        f"  listen               {s.host}:{s.port}",
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


def redact(location: str) -> str:
    """A URL or libpq DSN with its password replaced by ``***``."""
    location = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", location)
    parts = urlsplit(location)
    if not parts.password:
        return location
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
