"""The ``[rate_limits]`` table (docs/limits.md): request rates, volume caps, their Redis and the
hash key; gateway/ratelimit.py enforces them."""

from __future__ import annotations

import difflib
import os
import secrets
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic.dataclasses import dataclass

from gateway.redis_settings import DEFAULT_REDIS_URL, not_empty
from gateway.redis_settings import redis_url as _redis_url
from kernel.config import ConfigError
from kernel.keyfile import write_secret
from kernel.settings import (
    TABLE,
    Flag,
    Info,
    Positive,
    Refused,
    String,
    Table,
    check,
    config_path,
    context,
    setting,
    whole,
)


def _volume_defaults() -> Mapping[str, int]:
    return MappingProxyType({"Person": 500, "BankAccount": 500, "PoliceCase": 200})


def _volume(value: Any, info: Info) -> Mapping[str, int]:
    """Type name -> distinct records; from the file, the types must be the schema's
    (``volume_types`` in the context, when the schema is at hand)."""
    if not isinstance(value, Mapping):
        raise Refused("must be a table of type name = distinct records")
    problems: list[str | tuple[str, str]] = [
        (name, f"must be a whole number >= 1, got {cap!r}")
        for name, cap in value.items()
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1
    ]
    known = context(info).get("volume_types")
    if known is not None:
        problems += [(name, problem) for name, problem in _unknown_types(value, known)]
    if problems:
        raise Refused(*problems)
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True, config=TABLE)
class RateLimits(Table):
    """The ``[rate_limits]`` table; every key and its reason in docs/limits.md."""

    NAME = "rate_limits"

    enabled: Annotated[bool, Flag] = setting(
        True, "`false` only for benchmarks and tests that are not about limits"
    )
    user_rate: Annotated[float, Positive] = setting(20.0, "requests per second per user, sustained")
    user_burst: Annotated[int, whole(1)] = setting(40, "requests a user may send at once")
    agency_rate: Annotated[float, Positive] = setting(
        200.0, "requests per second by all users of one agency, sustained"
    )
    agency_burst: Annotated[int, whole(1)] = setting(400, "... and at once")
    volume: Annotated[Mapping[str, int], check(_volume)] = setting(
        factory=_volume_defaults,
        doc="distinct records of a type one user may receive per window",
    )
    volume_window_s: Annotated[float, Positive] = setting(3600.0, "the volume caps' sliding window")
    redis_url: Annotated[str, check(_redis_url)] = setting(
        DEFAULT_REDIS_URL,
        'the Redis every replica shares; `""`: in-process (one replica only)',
    )
    redis_password_env: Annotated[str, String] = setting(
        "", "environment variable holding the Redis password", shown="none"
    )
    key_prefix: Annotated[str, check(not_empty)] = setting(
        "jointgate:rl:", "prefix of the limiter's Redis keys"
    )
    timeout_s: Annotated[float, Positive] = setting(
        0.1, "per Redis connect and reply; a dead Redis costs this, once"
    )
    retry_s: Annotated[float, Positive] = setting(
        2.0, "how often to try Redis again while limiting locally"
    )
    key_file: Annotated[Path, check(config_path)] = setting(
        Path("ratelimit/hash.key"),
        "key of the hashes in Redis key names and of the sealed paging cursors; the same on"
        " every replica (created if missing)",
        shown="`ratelimit/hash.key` (under `data_dir`)",
    )
    key_env: Annotated[str, String] = setting(
        "", "or the key (64 hex) from this environment variable", shown="none"
    )

    def check_types(self, known: Collection[str]) -> None:
        """Refuse volume caps on types the schema does not have (a typo would cap nothing)."""
        if problems := _unknown_types(self.volume, known):
            raise ConfigError(*(f"rate_limits.volume.{name}: {text}" for name, text in problems))

    def hash_key(self, data_dir: Path) -> bytes:
        """The key for the keyed hashes in Redis key names and members; every replica needs
        the same one. From ``key_env`` if set, else ``key_file`` (created on first use)."""
        if self.key_env:
            value, where = os.environ.get(self.key_env, ""), "rate_limits.key_env"
            if not value:
                raise ConfigError(f"{where}: environment variable {self.key_env} is not set")
        else:
            path, where = data_dir / self.key_file, "rate_limits.key_file"
            if not path.exists():
                write_secret(path, secrets.token_hex(32).encode() + b"\n")
            try:
                value = path.read_text()
            except OSError as exc:
                raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
        try:
            key = bytes.fromhex(value.strip())
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ConfigError(f"{where}: the rate-limit key must be 64 hex characters")
        return key


def _unknown_types(names: Iterable[str], known: Collection[str]) -> list[tuple[str, str]]:
    """A problem for each volume cap on a type that is not in ``known``."""
    problems = []
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            examples = ", ".join(t for t in _volume_defaults() if t in known)
            hint = f"did you mean {close[0]}?" if close else f"for example {examples}"
            problems.append((name, f"not a type of the schema; {hint}"))
    return problems
