"""The ``[gateway]`` table: where the gateway listens, its data dir, and its HTTP surface
(gateway/graphql_http.py, gateway/http_security.py, gateway/forwarded.py)."""

from __future__ import annotations

import re
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any

from pydantic.dataclasses import dataclass

from kernel.settings import (
    TABLE,
    Flag,
    Info,
    Positive,
    PositiveInt,
    Refused,
    Table,
    Text,
    base_of,
    check,
    context,
    positive,
    setting,
    text,
)

Network = IPv4Network | IPv6Network


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise Refused(f"a whole number from 1 to 65535, got {value!r}")
    return value


def _workers(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
        raise Refused(
            "a whole number from 1 to 64 (processes serving the port; about one per core),"
            f" got {value!r}"
        )
    return value


def _data_dir(value: Any, info: Info) -> Path:
    """Relative to the config file's directory (from a config), as given from code."""
    if isinstance(value, Path):
        return value
    path = Path(text(value))
    return path if path.is_absolute() or not context(info) else base_of(info) / path


def _request_timeout(value: Any, info: Info) -> float:
    deadline = info.data.get("request_deadline_s")
    if value is None:
        return max(15.0, (deadline or 10.0) + 5)
    timeout = positive(value)
    if context(info) and deadline is not None and timeout <= deadline:  # code may test that
        raise Refused(
            f"must be longer than gateway.request_deadline_s ({deadline:g}), so that a slow"
            " agency ends in AGENCY_UNAVAILABLE, not a timeout"
        )
    return timeout


def _origins(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(o, str) and re.fullmatch(r"https?://[^/\s*]+", o) for o in value
    ):
        raise Refused(
            'a list of origins such as "https://app.agency.example" (scheme and host, no path,'
            " no wildcard)"
        )
    return tuple(value)


def _hsts(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Refused(f"a whole number of seconds >= 0, got {value!r}")
    return value


def _trusted_proxies(value: Any) -> tuple[Network, ...]:
    """Addresses (``10.0.0.7``) and networks (``10.0.0.0/8``); every bad entry named."""
    if isinstance(value, tuple) and all(isinstance(v, Network) for v in value):
        return value
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise Refused('a list of the proxies\' addresses or networks, such as ["10.0.0.0/8"]')
    networks, problems = [], []
    for entry in value:
        try:  # an IPv6 zone (%eth0) would never match a peer (gateway/forwarded.py)
            network = ip_network(entry.strip(), strict=False) if "%" not in entry else None
        except ValueError:
            network = None
        if network is None:
            problems.append(f"{entry!r} is not an IP address or network")
            continue
        try:
            networks.append(ip_network(entry.strip()))  # strict: it parsed, so only host bits
        except ValueError:
            problems.append(f"{entry!r} has host bits set; the network is {network}")
    if problems:
        raise Refused(*problems)
    return tuple(networks)


@dataclass(frozen=True, kw_only=True, config=TABLE)
class HttpSettings(Table):
    """The ``[gateway]`` table (docs/configuration.md, docs/graphql-over-http.md)."""

    NAME = "gateway"

    host: Annotated[str, Text] = setting("127.0.0.1", "listen address")
    port: Annotated[int, check(_port)] = setting(8400, "listen port (1 to 65535)")
    workers: Annotated[int, check(_workers)] = setting(
        1,
        "processes serving the port (1 to 64), for `jointgate serve`: the parent binds the port"
        " and supervises, each worker builds its own gateway; see"
        " [deployment.md](deployment.md#workers)",
    )
    data_dir: Annotated[Path, check(_data_dir)] = setting(
        ".jointgate", "local state (audit trail, keys), relative to the config file", always=True
    )
    max_body_bytes: Annotated[int, PositiveInt] = setting(
        256 * 1024, "request body limit; larger bodies get 413"
    )
    request_deadline_s: Annotated[float, Positive] = setting(
        10.0, "every agency call of one request ends by then ([resilience.md](resilience.md))"
    )
    request_timeout_s: Annotated[float, check(_request_timeout)] = setting(
        None,
        "whole-request timeout (body reading included): 504 `REQUEST_TIMEOUT`, still audited;"
        " must be longer than `request_deadline_s`",
        shown="`15.0`, or `request_deadline_s` + 5 if larger",
        always=True,
        kind="float",
    )
    max_json_depth: Annotated[int, PositiveInt] = setting(
        16,
        "objects and arrays nested in a request body (itself counted), its `variables` and"
        " `extensions`; deeper gets 400",
    )
    batching: Annotated[bool, Flag] = setting(
        False,
        "accept a POSTed JSON array of operations, each run and audited as its own request"
        " ([graphql-over-http.md](graphql-over-http.md))",
    )
    max_batch_operations: Annotated[int, PositiveInt] = setting(
        10, "the most operations in one batch"
    )
    cors_allowed_origins: Annotated[tuple[str, ...], check(_origins)] = setting(
        (),
        "browser origins (`https://host[:port]`, no path or wildcard) allowed cross-origin"
        " calls; none by default",
    )
    cors_allow_credentials: Annotated[bool, Flag] = setting(
        False, "send `Access-Control-Allow-Credentials: true` to allowlisted origins"
    )
    hsts_max_age_s: Annotated[int, check(_hsts)] = setting(
        0,
        "`Strict-Transport-Security: max-age=N; includeSubDomains` on every response (only"
        " behind HTTPS)",
        shown="`0` (not sent)",
    )
    trusted_proxies: Annotated[tuple[Network, ...], check(_trusted_proxies)] = setting(
        (),
        'addresses (`"10.0.0.7"`) and networks (`"10.0.0.0/8"`, `"fd00::/8"`) of the load'
        " balancers and reverse proxies in front of the gateway. Only when the TCP peer is one"
        " of them is `X-Forwarded-For` read: the audit record's client is its right-most"
        " address that is not a trusted proxy"
        " ([deployment.md](deployment.md#behind-a-load-balancer)). By default the header is"
        " ignored and the record names the TCP peer",
    )
