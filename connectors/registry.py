"""The member agencies' connectors, built from settings. Adding an agency is one entry here."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic.dataclasses import dataclass

from connectors.banking import BankingConnector
from connectors.base import Connector
from connectors.courts import CourtsConnector
from connectors.credit import CreditConnector
from connectors.http import TransportSettings
from connectors.market import MarketConnector
from connectors.police import PoliceConnector
from connectors.resilience import Resilience
from connectors.tls import AgencyTLS, client_context
from connectors.wire import url_problem
from kernel.settings import (
    TABLE,
    Info,
    Positive,
    PositiveInt,
    Refused,
    Table,
    Text,
    base_of,
    check,
    context,
    setting,
    shown_url,
    text,
)

AGENCIES = ("police", "market", "banking", "courts", "credit")
#: the agencies whose calls are signed with an HMAC key (``key_file`` / ``key_env``)
SIGNED = ("banking",)
#: the agencies an institution logs in to with a password (``institution``,
#: ``password_file`` / ``password_env``: the credit system's WS-Security UsernameToken)
LOGIN = ("credit",)


def _url(value: Any, info: Info) -> str:
    """``agencies.NAME.url`` (connectors/wire.py: ``url_problem``); trailing / dropped."""
    if not context(info) and isinstance(value, str):  # from code: as given
        return value.rstrip("/")
    name = str(context(info).get("where", "agencies.NAME")).rsplit(".", 1)[-1]
    if not isinstance(value, str) or not value:
        raise Refused(f"required; the base URL of the {name} system")
    problem = url_problem(value)
    if problem:
        raise Refused(f"{problem}, got {shown_url(value)!r}")  # never a password in it
    return value.rstrip("/")


def _tls(value: Any, info: Info) -> AgencyTLS | None:
    """``[agencies.NAME.tls]``: ``ca_file``, ``cert_file``, ``key_file``, loaded once here so
    that a wrong file stops the start, not the first request."""
    if value is None or isinstance(value, AgencyTLS):
        return value
    if not isinstance(value, dict):
        where = f"{context(info).get('where', 'agencies.NAME')}.tls"
        raise Refused(f"must be a table ([{where}])")
    known = ("ca_file", "cert_file", "key_file")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise Refused((unknown[0], f"unknown key; known: {', '.join(known)}"))
    files = {k: base_of(info) / text(v) for k, v in value.items()}
    url = info.data.get("url", "")
    if url and not url.startswith("https://"):
        where = f"{context(info).get('where', 'agencies.NAME')}.tls"
        raise Refused(("<url>", f"must be https:// with [{where}]"))
    if "key_file" in files and "cert_file" not in files:
        raise Refused(("cert_file", "required with key_file (the client certificate)"))
    missing = [k for k, path in files.items() if not path.is_file()]
    if missing:
        raise Refused((missing[0], f"cannot read {files[missing[0]]}"))
    tls = AgencyTLS(files.get("ca_file"), files.get("cert_file"), files.get("key_file"))
    try:
        client_context(tls)
    except (OSError, ssl.SSLError) as exc:
        key = "cert_file" if "cert_file" in files else "ca_file"
        raise Refused((key, f"cannot load ({exc}); expected PEM files")) from None
    return tls


def _secret(agencies: tuple[str, ...], name: str, what: str) -> Callable[[Any, Info], bytes]:
    """The checker of a secret setting of the ``agencies`` that need it (``key`` of the signed
    ones, ``password`` of those one logs in to): from ``NAME_file`` or the variable ``NAME_env``
    names; never from the settings file itself. From code: as given."""

    def read(value: Any, info: Info) -> bytes:
        if isinstance(value, bytes) and value:
            return value
        where = str(context(info).get("where", ""))
        if where.rsplit(".", 1)[-1] not in agencies:
            return b""
        if f"{name}_file" not in info.data or f"{name}_env" not in info.data:
            return b""  # refused already
        path: Path | None = info.data[f"{name}_file"]
        if path is not None:
            try:
                return path.read_bytes().strip()
            except OSError as exc:
                raise Refused((f"<{name}_file>", f"cannot read {path}: {exc.strerror}")) from None
        env = info.data[f"{name}_env"]
        if not os.environ.get(env):
            raise Refused((f"<{name}_env>", f"environment variable {env} is not set ({what})"))
        return os.environ[env].encode()

    return read


_key = _secret(SIGNED, "key", "HMAC key")
_password = _secret(LOGIN, "password", "password")


def _institution(value: Any, info: Info) -> str:
    """The institution code of an agency one logs in to: required there."""
    code = text(value) if value else ""
    where = str(context(info).get("where", ""))
    if not code and where.rsplit(".", 1)[-1] in LOGIN:
        raise Refused("required; the institution code the credit system knows the gateway by")
    return code


def _key_file(value: Any, info: Info) -> Path | None:
    if value is None or isinstance(value, Path):
        return value
    return base_of(info) / text(value)


@dataclass(frozen=True, slots=True, config=TABLE)
class AgencySettings(Table):
    """One ``[agencies.NAME]`` table (docs/configuration.md), with the agency's resilience keys
    (docs/resilience.md) and its ``tls`` table."""

    url: Annotated[str, check(_url)] = setting(
        doc="agency base URL: `http://` or `https://`, a host, a port from 1 to 65535 if any, a"
        " path prefix if any; no user, password, query or fragment",
        shown="required for police, market, banking, courts, credit",
        required="required; the base URL of the {name} system",
    )
    timeout_s: Annotated[float, Positive] = setting(
        5.0, "per-attempt timeout, waiting for a call slot included"
    )
    max_connections: Annotated[int, PositiveInt] = setting(64, "pooled keep-alive connections")
    key_id: Annotated[str, Text] = setting("jointgate", "HMAC key id (banking)")
    key_file: Annotated[Path | None, check(_key_file)] = setting(
        None, "HMAC secret (banking), from this file ...", shown="none"
    )
    key_env: Annotated[str, Text] = setting(
        "JOINTGATE_BANK_KEY", "... or from this environment variable (banking)"
    )
    # the HMAC secret (banking), from key_file or key_env; never in a repr or log
    key: Annotated[bytes, check(_key)] = setting(b"", internal=True, always=True, repr=False)
    institution: Annotated[str, check(_institution)] = setting(
        "",
        "institution code of the UsernameToken (credit)",
        shown="required for credit",
        always=True,
    )
    password_file: Annotated[Path | None, check(_key_file)] = setting(
        None, "UsernameToken password (credit), from this file ...", shown="none"
    )
    password_env: Annotated[str, Text] = setting(
        "JOINTGATE_CREDIT_PASSWORD", "... or from this environment variable (credit)"
    )
    # the UsernameToken password (credit), from password_file or password_env; never shown
    password: Annotated[bytes, check(_password)] = setting(
        b"", internal=True, always=True, repr=False
    )
    resilience: Resilience = setting(factory=Resilience, flatten=True)
    tls: Annotated[AgencyTLS | None, check(_tls)] = setting(None)


def build_connectors(agencies: Mapping[str, AgencySettings]) -> dict[str, Connector]:
    def transport(name: str) -> TransportSettings:
        a = agencies[name]
        return TransportSettings(
            a.url,
            timeout_s=a.timeout_s,
            max_connections=a.max_connections,
            resilience=a.resilience,
            tls=a.tls,
        )

    banking, credit = agencies["banking"], agencies["credit"]
    return {
        "police": PoliceConnector(transport("police")),
        "market": MarketConnector(transport("market")),
        "banking": BankingConnector(transport("banking"), banking.key_id, banking.key),
        "courts": CourtsConnector(transport("courts")),
        "credit": CreditConnector(transport("credit"), credit.institution, credit.password),
    }
