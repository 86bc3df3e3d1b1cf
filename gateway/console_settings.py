"""The ``[console]`` table: the web console at ``/console`` (console/, docs/console.md)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic.dataclasses import dataclass

from kernel.settings import TABLE, Positive, Refused, Table, Text, check, setting


def _url(value: Any) -> str:
    if not value:
        return ""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise Refused("an http:// or https:// URL")
    return value.rstrip("/")


@dataclass(frozen=True, kw_only=True, config=TABLE)
class ConsoleSettings(Table):
    """The ``[console]`` table (docs/console.md)."""

    NAME = "console"

    enabled: bool = setting(True, "serve the console at `/console`")
    oidc_discovery_url: Annotated[str, check(_url)] = setting(
        "",
        "the identity provider's OpenID Connect discovery document"
        " (`.../.well-known/openid-configuration`); sign-in is by authorization code with PKCE."
        " Empty: the console refuses sign-in and says why",
        shown="empty; the demo's issuer in `jointgate demo`",
    )
    client_id: Annotated[str, Text] = setting(
        "jointgate-console", "the console's client id at the identity provider (a public client)"
    )
    public_url: Annotated[str, check(_url)] = setting(
        "",
        "the gateway's address as browsers reach it (`https://gateway.example`), for the"
        " sign-in's redirect URI and the origin checked on every change",
        shown="the request's own scheme and host",
    )
    session_ttl_s: Annotated[float, Positive] = setting(
        8 * 3600.0, "a console session ends this long after sign-in ..."
    )
    session_idle_s: Annotated[float, Positive] = setting(
        30 * 60.0, "... or this long after its last request"
    )
