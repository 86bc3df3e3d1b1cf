"""The governance database the options name (``--data-dir``, ``--database``, ``--config``), and
telling the replicas of a change made in it."""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import replace
from pathlib import Path

from gateway.notify import announce
from gateway.notify_settings import NotifySettings
from gateway.redis import where
from kernel.config import ConfigError
from policies.db import Database


def open_governance(args: argparse.Namespace) -> tuple[Database, NotifySettings | None]:
    """The governance database and where to announce changes, from the options."""
    # start-up: the gateway's settings cost 0.6 s more than the policy commands' own imports
    # (python -X importtime): only for those given --config or changing the governance database
    from gateway.ratelimit_settings import RateLimits  # start-up: as above
    from gateway.settings import load_governance

    url = f"sqlite:///{args.data_dir / 'governance.sqlite3'}"
    notify: NotifySettings | None = NotifySettings().resolved(RateLimits())  # as a default gateway
    if args.config is not None:
        try:
            url, notify = load_governance(args.config)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    if args.notify is not None:
        notify = replace(notify or NotifySettings(), redis_url=args.notify)
    return Database(args.database or url), notify


def announce_to_replicas(notify: NotifySettings | None, topic: str) -> None:
    if notify is not None and notify.redis_url and announce(notify, topic):
        print(f"announced to the replicas on {where(notify.redis_url)}")
    else:
        poll = notify.poll_s if notify is not None else NotifySettings().poll_s
        recheck = notify.recheck_s if notify is not None else NotifySettings().recheck_s
        print(f"not announced: replicas see it at their next check (within {recheck:g} s,"
              f" {poll:g} s while they cannot reach Redis)")  # fmt: skip


def nobody_reads(url: str) -> str:
    return (
        f"no gateway reads its policies from {where(url)}: gateways that share their policies"
        " (policy.shared) publish their own set there when the first of them starts, and none"
        " has. Give --config with the gateways' jointgate.toml: publish then puts the set in"
        " force if they read it from the database, and says what to do if they read files."
    )


def policy_source(config: Path) -> tuple[bool, Path | None]:
    from gateway.settings import load_policy_source  # start-up: see open_governance

    try:
        return load_policy_source(config)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def database_url(args: argparse.Namespace) -> str:
    """The governance database the options name, without a config file."""
    return str(args.database or f"sqlite:///{args.data_dir / 'governance.sqlite3'}")


def database_exists(url: str) -> bool:
    """False for a SQLite database that is not there (opening it would create it)."""
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file()


def config_database(config: Path) -> str:
    from gateway.settings import load_governance  # start-up: see open_governance

    try:
        return load_governance(config)[0]
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def review_deadline_s(args: argparse.Namespace) -> float:
    """How long after a break-glass access its review is due: ``governance.review_deadline_h``
    of ``--config``, else the default (72 h)."""
    from gateway.policy_settings import GovernanceSettings  # start-up: see open_governance
    from gateway.settings import load_review_deadline  # start-up: as above

    if args.config is None:
        return GovernanceSettings().review_deadline_h * 3600
    try:
        return load_review_deadline(args.config)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def iso(value: float | None) -> str | None:
    """A stored time (seconds since the epoch) as the governance commands print it: UTC, to the
    second, ISO 8601; None stays None."""
    if value is None:
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC).isoformat(timespec="seconds")
