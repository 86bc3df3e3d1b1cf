"""The ``[auth]`` table: whose tokens the gateway accepts and where their keys are
(gateway/authn.py, gateway/jwks.py)."""

from __future__ import annotations

import json
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic.dataclasses import dataclass

from connectors.wire import url_problem
from gateway.jwks import public_key_set
from kernel.settings import (
    TABLE,
    Info,
    Positive,
    PositiveInt,
    Refused,
    Table,
    base_of,
    check,
    context,
    setting,
    shown_url,
    text,
)


def _claim(claim: str) -> Any:
    def checked(value: Any) -> str:
        if not text(value):
            raise Refused(f"required; the token's expected '{claim}' claim")
        return str(value)

    return check(checked)


def _jwks_url(value: Any) -> str | None:
    """https; plain http only to this host (an identity provider or a sidecar beside the
    gateway), since whoever can alter the keys on the way can sign any token."""
    if not value:
        return None
    url = text(value)
    problem = url_problem(url, ("http", "https") if _local_http(url) else ("https",), base=False)
    if problem:
        local = "; http:// only to this host (localhost, 127.0.0.1, ::1)"
        shown = shown_url(url)  # never the password it may carry
        raise Refused(f"{problem}{local if problem.startswith('must') else ''}, got {shown!r}")
    return url


def _local_http(url: str) -> bool:
    """An ``http://`` URL to a loopback address of this host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme != "http":
        return False
    try:
        return host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        return False


def _jwks_file(value: Any, info: Info) -> Path | None:
    """Read and its keys loaded here, so that a wrong file stops the start, not the first
    request (the gateway reads it again at start and on each refresh); and one source of keys,
    the URL or the file, from a config."""
    unset = value is None or (isinstance(value, str) and not value.strip())  # "" is no file
    path = None if unset else value if isinstance(value, Path) else base_of(info) / text(value)
    if context(info) and "jwks_url" in info.data:  # else the URL was refused already
        url = info.data["jwks_url"]
        if path is None and url is None:
            missing = "required (or auth.jwks_file): where the signing keys are"
            raise Refused(("<jwks_url>", missing))
        if path is not None and url is not None:  # which one signs would be a guess
            raise Refused(("<jwks_file and auth.jwks_url>", "both set; keep one"))
    if path is not None and not isinstance(value, Path):
        try:
            public_key_set(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise Refused(f"cannot read a JWKS from {path} ({exc})") from None
    return path


@dataclass(frozen=True, kw_only=True, config=TABLE)
class AuthSettings(Table):
    """The ``[auth]`` table (docs/configuration.md, "Tokens")."""

    NAME = "auth"

    issuer: Annotated[str, _claim("iss")] = setting(
        doc="trusted token issuer (the `iss` claim)",
        required="required; the token's expected 'iss' claim",
    )
    audience: Annotated[str, _claim("aud")] = setting(
        doc="this gateway's audience (the `aud` claim)",
        required="required; the token's expected 'aud' claim",
    )
    jwks_url: Annotated[str | None, check(_jwks_url)] = setting(
        None,
        "the issuer's public keys (one of `jwks_url` and `jwks_file` is required). The URL must"
        " be `https://` (plain `http://` only to this host: `localhost`, `127.0.0.1`, `::1`, an"
        " identity provider or sidecar beside the gateway), since whoever alters the keys on"
        " the way can sign any token; no user or password in it",
        shown="one of the two required",
    )
    jwks_file: Annotated[Path | None, check(_jwks_file)] = setting(
        None,
        "or the keys from this file, read and its keys loaded when the config is",
        shown="one of the two required",
        always=True,
    )
    jwks_refresh_s: Annotated[float, Positive] = setting(300.0, "JWKS refetch period")
    jwks_min_refetch_s: Annotated[float, Positive] = setting(
        30.0,
        "a token with an unknown `kid` fetches the JWKS again (key rotation), at most once per"
        " this many seconds",
    )
    token_leeway_s: Annotated[int, PositiveInt] = setting(
        30, "allowed clock skew on `exp`/`nbf`", key="leeway_s"
    )
