"""From the ``[audit]`` settings to the objects the trail works with (store, keys, policies)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic.dataclasses import dataclass as pydantic_dataclass

from audit.errors import AuditConfigError
from audit.keys import DataKey, Signer, load_or_create_data_key, load_or_create_signer
from audit.sqlite import SqliteStore
from audit.store import CheckpointPolicy, SqlStore
from audit.witness import WitnessSpec, parse_witness
from kernel.settings import (
    TABLE,
    Positive,
    PositiveInt,
    Refused,
    Table,
    Text,
    check,
    config_path,
    path,
    setting,
)


def _backend(value: Any) -> str:
    if value not in ("sqlite", "postgres"):
        raise Refused(f"must be 'sqlite' or 'postgres', got {value!r}")
    return str(value)


def _type_names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise Refused("must be a list of GraphQL type names")
    return tuple(value)


def _witnesses(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(w, str) for w in value):
        raise Refused('must be a list of witnesses such as ["file:/var/lib/witness/{log}.jsonl"]')
    problems = []
    for text in value:
        try:
            parse_witness(text)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise Refused(*problems)
    return tuple(value)


Under = Annotated[Path, check(path)]  # relative: under the data dir
ConfigFile = Annotated[Path, check(config_path)]  # relative: to the config file


@pydantic_dataclass(frozen=True, slots=True, config=TABLE)
class AuditSettings(Table):
    """The ``[audit]`` table (docs/audit.md); relative paths are under the data dir, files the
    config names (keys) relative to the config file."""

    NAME = "audit"

    backend: Annotated[str, check(_backend)] = setting("sqlite", "`sqlite` or `postgres`")
    path: Under = setting(Path("audit/trail.db"), "SQLite file (relative to `data_dir`)")
    postgres_dsn: Annotated[str, Text] = setting(
        "", "libpq connection string (passwords via `PGPASSFILE`)", shown="none"
    )
    postgres_dsn_env: Annotated[str, Text] = setting(
        "JOINTGATE_AUDIT_DSN", "or the whole DSN from this environment variable"
    )
    postgres_schema: Annotated[str, Text] = setting(
        "jointgate_audit", "schema holding the trail's tables"
    )
    log_id: Annotated[str, Text] = setting(
        "", "this replica's log; one log per replica", shown="host name"
    )
    signing_key_file: ConfigFile = setting(
        Path("audit/keys/signing.key"),
        "Ed25519 key signing checkpoints (PKCS#8 PEM, created with mode 0600 if missing; `.pub`"
        " beside it)",
    )
    data_key_file: ConfigFile = setting(
        Path("audit/keys/data.key"),
        "32-byte key (64 hex) for encryption at rest and the blind index; keep it off the"
        " database host",
    )
    data_key_env: Annotated[str, Text] = setting(
        "", "or the data key from this environment variable (then no file)", shown="none"
    )
    retention_days: Annotated[int, PositiveInt] = setting(
        400, "records older than this go to archive files (`jointgate audit archive`)"
    )
    archive_dir: Under = setting(
        Path("audit/archive"), "where archive files go (relative to `data_dir`)"
    )
    checkpoint_every: Annotated[int, PositiveInt] = setting(
        1000, "keep a signed checkpoint every N records ..."
    )
    checkpoint_interval_s: Annotated[float, Positive] = setting(60.0, "... or T seconds")
    witnesses: Annotated[tuple[str, ...], check(_witnesses)] = setting(
        ("file:witness/checkpoints.jsonl",),
        "where every kept checkpoint is also published, outside the store: `file:PATH` (an"
        " append-only file; relative: under `data_dir`; `{log}` in the name: a file per log),"
        " `sqlite:///PATH`, `postgresql://...` (an insert-only table); `[]`: none (docs/audit.md)",
    )
    max_batch: Annotated[int, PositiveInt] = setting(
        1024, "most records in one group-commit transaction"
    )
    unindexed_types: Annotated[tuple[str, ...], check(_type_names)] = setting(
        ("Transaction",), "types whose keys are kept (sealed) but not blind-indexed"
    )

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
    witnesses: tuple[WitnessSpec, ...] = ()  # resolved against the data dir

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


def witness_specs(settings: AuditSettings, data_dir: Path) -> tuple[WitnessSpec, ...]:
    """The witnesses of resolved settings; AuditConfigError if one is not a witness, or is a
    file in the store's own directory or the archive's (then it would share their fate)."""
    specs, problems = [], []
    for text in settings.witnesses:
        try:
            spec = parse_witness(text).resolved(data_dir)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        where = spec.directory
        store_dir = settings.path.parent if settings.backend == "sqlite" else None
        # beside the store (DATA_DIR/witness/ when the store is DATA_DIR/audit/trail.db, or
        # DATA_DIR/trail.db), never in its directory, nor under it unless that is the data dir
        inside = (
            where is not None
            and store_dir is not None
            and _within(where, store_dir)
            and (_same(where, store_dir) or not _same(store_dir, data_dir))
        )
        if inside:
            problems.append(
                f"{spec.shown}: in the audit store's directory ({store_dir}); a witness needs"
                " a directory of its own, beside the store's (such as DATA_DIR/witness/)"
            )
        elif where is not None and _within(where, settings.archive_dir):
            problems.append(f"{spec.shown}: in audit.archive_dir; give it a directory of its own")
        specs.append(spec)
    if problems:
        raise AuditConfigError("; ".join(f"audit.witnesses: {p}" for p in problems))
    return tuple(specs)


def _within(path: Path, directory: Path) -> bool:
    path, directory = path.resolve(), directory.resolve()
    return path == directory or directory in path.parents


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def load_config(settings: AuditSettings, data_dir: Path) -> AuditConfig:
    resolved = settings.resolved(data_dir)
    witnesses = witness_specs(resolved, data_dir)
    return AuditConfig(
        settings=resolved,
        log_id=resolved.log_id or default_log_id(),
        signer=load_or_create_signer(resolved.signing_key_file),
        key=load_or_create_data_key(
            None if resolved.data_key_env else resolved.data_key_file, resolved.data_key_env
        ),
        policy=CheckpointPolicy(resolved.checkpoint_every, resolved.checkpoint_interval_s),
        unindexed_types=frozenset(resolved.unindexed_types),
        witnesses=witnesses,
    )
