"""From the ``[audit]`` settings to the objects the trail works with (store, keys, policies)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from audit.errors import AuditConfigError
from audit.keys import DataKey, Signer, load_or_create_data_key, load_or_create_signer
from audit.store import CheckpointPolicy, SqlStore
from gateway.settings import AuditSettings


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
            from audit.postgres import PostgresStore

            dsn = s.postgres_dsn or os.environ.get(s.postgres_dsn_env, "")
            if not dsn:
                raise AuditConfigError(
                    f"audit.postgres_dsn: required for the postgres backend (or set the"
                    f" environment variable {s.postgres_dsn_env})"
                )
            return PostgresStore(dsn, s.postgres_schema)
        from audit.sqlite import SqliteStore

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
