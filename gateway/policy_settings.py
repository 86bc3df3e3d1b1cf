"""The ``[policy]`` and ``[governance]`` tables: which need-to-know policies are enforced, how,
and where teams and reviews are kept (policies/, docs/policies.md, docs/deployment.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic.dataclasses import dataclass

from kernel.settings import (
    TABLE,
    Info,
    Positive,
    Refused,
    Table,
    base_of,
    check,
    context,
    flag,
    setting,
    text,
)


def _dir(value: Any, info: Info) -> Path | None:
    if value is None or isinstance(value, Path):
        return value
    return base_of(info) / text(value) if value else None


def _mode(value: Any) -> str:
    if value not in ("enforce", "reject"):
        raise Refused(f"'enforce' or 'reject', got {value!r}")
    return str(value)


def _enforcement(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value not in ("on", "off"):
        raise Refused(f"'on' or 'off', got {value!r}")
    return bool(value == "on")


def _shared(value: Any, info: Info) -> bool:
    """By default on exactly when the governance database is configured (replicas that share
    teams share the policy set too)."""
    if value is None:
        return context(info).get("database") is not None
    return flag(value)


def _database(value: Any) -> str | None:
    if not value:
        return None
    if not isinstance(value, str) or not value.startswith(("sqlite:///", "postgresql://")):
        raise Refused("a sqlite:///PATH or postgresql:// URL")
    return value


@dataclass(frozen=True, kw_only=True, config=TABLE)
class PolicySettings(Table):
    """The ``[policy]`` table (docs/policies.md)."""

    NAME = "policy"

    policy_dir: Annotated[Path | None, check(_dir)] = setting(
        None,
        "directory of `*.cedar` files and `jointgate.cedarschema`",
        key="dir",
        shown="the shipped default set",
    )
    policy_mode: Annotated[str, check(_mode)] = setting(
        "enforce",
        "`enforce`: denied fields are null with `FORBIDDEN_FIELD`; `reject`: the operation is"
        " refused (403)",
        key="mode",
    )
    enforcement: Annotated[bool, check(_enforcement)] = setting(
        True,
        "`off` allows everything; only for measuring what enforcement costs (bench/)",
        shown="`on`",
        kind="str",
    )
    policy_reload_s: Annotated[float, Positive] = setting(
        1.0, "policy directory check period; `SIGHUP` reloads at once", key="reload_s"
    )
    policy_shared: Annotated[bool, check(_shared)] = setting(
        None,
        "every replica enforces the policy set in force in the governance database, changed"
        " under dual control (`jointgate policy propose DIR`, another administrator's"
        " `approve`), instead of its own `policy.dir`"
        " ([deployment.md](deployment.md#change-propagation))",
        key="shared",
        shown="`true` if `governance.database` is set, else `false`",
        always=True,
        kind="bool",
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class GovernanceSettings(Table):
    """The ``[governance]`` table: joint teams and break-glass reviews."""

    NAME = "governance"

    governance_db: Annotated[str | None, check(_database)] = setting(
        None,
        "teams and break-glass reviews; a `postgresql://` URL to share them between replicas",
        key="database",
        shown="`sqlite:///DATA_DIR/governance.sqlite3`",
    )
    review_deadline_h: Annotated[float, Positive] = setting(
        72.0,
        "hours within which a break-glass access must be signed off; later it is overdue:"
        " `OVERDUE` in `jointgate review pending`, counted by the `jointgate.reviews.overdue`"
        " metric ([policies.md](policies.md#break-glass))",
    )
