"""From the ``[audit]`` settings to the objects the trail works with (store, keys, policies)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, replace
from pathlib import Path

from audit.errors import AuditConfigError
from audit.keys import DataKey, Signer, load_or_create_data_key, load_or_create_signer
from audit.sqlite import SqliteStore
from audit.store import CheckpointPolicy, SqlStore


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """The ``[audit]`` table (docs/audit.md); relative paths are under the data dir."""

    backend: str = "sqlite"  # or "postgres"
    path: Path = Path("audit/trail.db")
    postgres_dsn: str = ""
    postgres_dsn_env: str = "JOINTGATE_AUDIT_DSN"
    postgres_schema: str = "jointgate_audit"
    log_id: str = ""  # default: the host name
    signing_key_file: Path = Path("audit/keys/signing.key")
    data_key_file: Path = Path("audit/keys/data.key")
    data_key_env: str = ""
    retention_days: int = 400
    archive_dir: Path = Path("audit/archive")
    checkpoint_every: int = 1000
    checkpoint_interval_s: float = 60.0
    max_batch: int = 1024
    unindexed_types: tuple[str, ...] = ("Transaction",)

    def resolved(self, data_dir: Path) -> AuditSettings:
        def under(path: Path) -> Path:
            return path if path.is_absolute() else data_dir / path

        return replace(
            self,
            path=under(self.path),
            signing_key_file=under(self.signing_key_file),
            data_key_file=under(self.data_key_file),
            archive_dir=under(self.archive_dir),
        )


@dataclass(frozen=True, slots=True)
class AuditConfig:
    settings: AuditSettings  # paths already resolved against the data dir
    log_id: str
    signer: Signer
    key: DataKey
    policy: CheckpointPolicy
    unindexed_types: frozenset[str]

    @property
    def archive_dir(self) -> Path:
        return self.settings.archive_dir

    @property
    def retention_days(self) -> int:
        return self.settings.retention_days

    def new_store(self) -> SqlStore:
        """A store with its own connection (one per thread of use)."""
        s = self.settings
        if s.backend == "postgres":
            # psycopg, imported only by those who use it: 0.3 s of every SQLite gateway's start
            from audit.postgres import PostgresStore  # start-up (python -X importtime)

            dsn = s.postgres_dsn or os.environ.get(s.postgres_dsn_env, "")
            if not dsn:
                raise AuditConfigError(
                    f"audit.postgres_dsn: required for the postgres backend (or set the"
                    f" environment variable {s.postgres_dsn_env})"
                )
            return PostgresStore(dsn, s.postgres_schema)
        return SqliteStore(s.path)


def default_log_id() -> str:
    return socket.gethostname() or "gateway"


def load_config(settings: AuditSettings, data_dir: Path) -> AuditConfig:
    resolved = settings.resolved(data_dir)
    return AuditConfig(
        settings=resolved,
        log_id=resolved.log_id or default_log_id(),
        signer=load_or_create_signer(resolved.signing_key_file),
        key=load_or_create_data_key(
            None if resolved.data_key_env else resolved.data_key_file, resolved.data_key_env
        ),
        policy=CheckpointPolicy(resolved.checkpoint_every, resolved.checkpoint_interval_s),
        unindexed_types=frozenset(resolved.unindexed_types),
    )
