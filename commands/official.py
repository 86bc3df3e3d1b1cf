"""Who is acting: the official behind a governance command, and the record of what they did.

Every governance command (``jointgate policy propose|approve|reject|rollback|proposals|history``,
``teams``, ``review``, the ``audit`` reads) takes the acting official's token, ``--token TOKEN``
or the ``JOINTGATE_TOKEN`` environment variable, issued by the gateway's own identity provider,
and verifies it exactly as the gateway verifies a request's bearer token
(:class:`gateway.authn.TokenVerifier` over :class:`gateway.jwks.KeySource`): the ``[auth]``
table of ``--config``, or, without one, the demo issuer of ``--data-dir``
(``DATA_DIR/issuer/jwks.json``, sandbox/issuer.py). Nothing the caller types names anyone: the
official is the token's verified subject. :func:`acting` then checks the role the action needs.

Each action is recorded in the tamper-evident audit trail (the ``[audit]`` table of the same
configuration, as ``jointgate audit`` reads it) as a *governance record*: operation type
``governance``, the action (``policy.approve``, ``team.add-member``, ...) as operation name, its
arguments as variables, the official's subject, agency and roles, and the outcome (``ok``,
``refused``, ``failed``). :func:`governed` makes the change and its record agree: the record is
appended inside the governance database's transaction, after the change's statements and
before the commit (:meth:`policies.db.Database.witnessed`), so a record that cannot be written
rolls the change back, and a commit that fails after its record was written is followed by a
``failed`` record of the same action.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any

from audit.append import append_records
from audit.config import AuditConfig, AuditSettings, load_config
from gateway.authn import AuthSettings, TokenVerifier
from gateway.governance import (
    NotRecorded,
    Official,
    governance_record,
)
from gateway.governance import governed as governed_change
from gateway.jwks import KeySource
from gateway.settings import load_audit, load_auth
from kernel.config import ConfigError
from kernel.errors import Unauthenticated
from policies.db import Database
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER

TOKEN_ENV = "JOINTGATE_TOKEN"  # noqa: S105 - the variable's name, not a secret
DEMO_JWKS = Path("issuer") / "jwks.json"


class NotPermitted(ValueError):
    """No token, a token that does not verify, or a role the action needs is missing; the
    message says which, never with a traceback."""


def token_given(args: argparse.Namespace) -> bool:
    return bool(_token_text(args))


def token_of(args: argparse.Namespace) -> str:
    token = _token_text(args)
    if not token:
        raise NotPermitted(
            f"who is acting? give --token or set {TOKEN_ENV}; a demo token: jointgate token USER"
        )
    return token


def verify_token(args: argparse.Namespace, token: str) -> Official:
    """The official a token names, verified as the gateway verifies it; NotPermitted if not."""
    settings, keys = _identity_provider(args)
    verifier = TokenVerifier(settings, keys)

    async def verified() -> Any:
        await keys.refresh()
        return await verifier.authenticate(f"Bearer {token}")

    try:
        principal = _run(verified)
    except Unauthenticated as exc:
        raise NotPermitted(f"the token is refused: {_sentence(str(exc))}") from None
    except (OSError, ValueError) as exc:
        raise NotPermitted(f"the identity provider's keys cannot be read: {exc}") from None
    except Exception as exc:  # httpx: the JWKS URL cannot be reached
        raise NotPermitted(f"the identity provider's keys cannot be fetched: {exc}") from None
    return Official(
        subject=principal.subject,
        agency=principal.agency,
        roles=principal.roles,
        name=principal.name,
        token_id=principal.token_id,
        clearance=principal.clearance,
    )


def acting(args: argparse.Namespace, role: str | tuple[str, ...], action: str = "") -> Official:
    """The verified official running this command, who must hold ``role`` (or one of them). A
    missing role is refused, and the refusal recorded (best effort: nothing changed)."""
    official = verify_token(args, token_of(args))
    roles = (role,) if isinstance(role, str) else role
    if not official.roles & set(roles):
        held = ", ".join(sorted(official.roles)) or "none"
        needed = " or ".join(roles)
        reason = (
            f"{action or 'this command'} needs the role {needed}; {official.subject} has {held}"
        )
        with contextlib.suppress(Exception):
            record_governance(args, official, action or "governance", {}, "refused", reason)
        raise NotPermitted(reason)
    return official


def audit_config(args: argparse.Namespace) -> AuditConfig:
    """The audit trail the options name, as ``jointgate audit`` reads it."""
    config: Path | None = getattr(args, "config", None)
    try:
        if config is not None:
            settings, data_dir = load_audit(config)
        else:
            settings, data_dir = AuditSettings(), args.data_dir
        return load_config(settings, data_dir)
    except ConfigError as exc:
        raise NotRecorded(f"the audit trail's configuration: {exc}") from None


def record_governance(
    args: argparse.Namespace,
    official: Official,
    action: str,
    details: Mapping[str, Any],
    outcome: str = "ok",
    reason: str = "",
) -> None:
    """Append one governance record to the trail; NotRecorded if it cannot be."""
    try:
        config = audit_config(args)
        store = config.new_store()
        try:
            store.create_schema()
            append_records(config, store, [governance_record(official, action, details,
                                                             outcome, reason)])  # fmt: skip
        finally:
            store.close()
    except NotRecorded:
        raise
    except Exception as exc:  # the store: sqlite3 / psycopg, a tampered log ...
        raise NotRecorded(f"cannot record {action} in the audit trail: {exc}") from None


@contextlib.contextmanager
def governed(
    args: argparse.Namespace,
    official: Official,
    action: str,
    details: Mapping[str, Any],
    db: Database,
    refusals: tuple[type[Exception], ...] = (ValueError,),
) -> Iterator[None]:
    """Make one change to the governance database in the block, recorded in the trail the
    options name (gateway/governance.py ``governed``: the record before the commit)."""

    def append(outcome: str, reason: str) -> None:
        record_governance(args, official, action, details, outcome, reason)

    with governed_change(db, append, action, refusals):
        yield


def _identity_provider(args: argparse.Namespace) -> tuple[AuthSettings, KeySource]:
    """The issuer, audience and keys: from ``--config``'s ``[auth]``, else the demo issuer."""
    config: Path | None = getattr(args, "config", None)
    if config is not None:
        try:
            auth = load_auth(config)
        except ConfigError as exc:
            raise NotPermitted(f"{config} [auth]: {exc}") from None
        settings = AuthSettings(auth.issuer, auth.audience, leeway_s=auth.token_leeway_s)
        if auth.jwks_file is not None:
            return settings, KeySource(file=auth.jwks_file)
        if auth.jwks_url is not None:
            return settings, KeySource(url=auth.jwks_url)
        raise NotPermitted(f"{config} [auth]: neither jwks_url nor jwks_file is set")
    data_dir = Path(args.data_dir)
    jwks = data_dir / DEMO_JWKS
    if not jwks.is_file():
        raise NotPermitted(
            f"no identity provider to verify the token against: give --config (the gateway's"
            f" jointgate.toml, its [auth] table), or the demo's --data-dir (no {jwks} here)"
        )
    return AuthSettings(DEMO_ISSUER, DEMO_AUDIENCE), KeySource(file=jwks)


def _token_text(args: argparse.Namespace) -> str:
    return str(getattr(args, "token", None) or os.environ.get(TOKEN_ENV, "")).strip()


def _run(factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to its end from synchronous code; in a thread of its own when called from
    inside a running event loop (the commands run in-process by a gateway's tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def _sentence(message: str) -> str:
    text = message.removeprefix("Invalid token: ")
    return text[:1].lower() + text[1:]
