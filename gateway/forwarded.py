"""Who is asking, from where: the client address an audit record names.

It is the TCP peer, unless the peer is one of ``gateway.trusted_proxies`` (addresses and
networks; none by default). Behind such a proxy, ``X-Forwarded-For`` is walked from the right,
as Apollo Router and nginx's realip module do: each proxy appends the address it saw, so the
right-most address that is not a trusted proxy is the first one no trusted party vouches for
beyond, and anything to its left is the client's own say-so. An entry that is not a bare IP
address (garbage, a port, an IPv6 zone) ends the walk at the last address known, so nothing but
an address ever reaches the record. The header of an untrusted peer is never read; nor is the
``Forwarded`` header (RFC 7239), which the gateway does not take.

uvicorn has proxy-header handling of its own that trusts 127.0.0.1 by default and rewrites the
peer before the application sees it; ``jointgate serve`` turns it off (gateway/serve.py), so the
peer here is the socket's.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.requests import Request

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def client_of(request: Request, trusted: Sequence[Network]) -> str:
    """The client address of ``request`` (see the module's docstring)."""
    peer = request.client.host if request.client else ""
    if not trusted:
        return peer
    return client_address(peer, request.headers.getlist("x-forwarded-for"), trusted)


def client_address(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client behind ``peer`` by the ``X-Forwarded-For`` lines it sent, trusting only
    proxies in ``trusted``."""
    client = _address(peer)
    if client is None or not _trusted(client, trusted):
        return peer
    hops = [hop for line in forwarded_for for hop in line.split(",")]
    for hop in reversed(hops):
        if not _trusted(client, trusted):
            break
        address = _address(hop.strip(" \t"))
        if address is None:
            break
        client = address
    return str(client)


def _address(text: str) -> Address | None:
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address):
        if address.scope_id is not None:
            return None  # fe80::1%<anything>: the zone is free text
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped  # a dual-stack socket's IPv4 peer
    return address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)
