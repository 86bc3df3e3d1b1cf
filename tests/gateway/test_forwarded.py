"""The client address an audit record names: the TCP peer, unless it is a trusted proxy; then
the right-most untrusted address of X-Forwarded-For (gateway/forwarded.py)."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest

from gateway.forwarded import client_address
from gateway.settings import AGENCIES, from_mapping, load
from kernel.config import ConfigError
from tests.gateway.conftest import open_harness

LB = (ip_network("10.0.0.0/8"), ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "client"),
    [
        # no trusted proxies (the default): the header is never read
        ("127.0.0.1", ["6.6.6.6"], (), "127.0.0.1"),
        ("203.0.113.7", ["6.6.6.6"], (), "203.0.113.7"),
        # a peer that is not a trusted proxy: the header is the client's own say-so
        ("203.0.113.7", ["6.6.6.6"], LB, "203.0.113.7"),
        # a trusted proxy: the address it saw
        ("10.0.0.2", ["198.51.100.4"], LB, "198.51.100.4"),
        # the client prepends a lie; the right-most untrusted address is the one the proxy saw
        ("10.0.0.2", ["6.6.6.6, 198.51.100.4"], LB, "198.51.100.4"),
        ("10.0.0.2", ["6.6.6.6", "198.51.100.4"], LB, "198.51.100.4"),  # two header lines
        # a chain of trusted proxies is skipped
        ("10.0.0.2", ["198.51.100.4, 10.1.2.3, 10.9.9.9"], LB, "198.51.100.4"),
        # every hop trusted: the left-most one
        ("10.0.0.2", ["10.3.3.3, 10.1.2.3"], LB, "10.3.3.3"),
        # nothing forwarded: the proxy itself
        ("10.0.0.2", [], LB, "10.0.0.2"),
        ("10.0.0.2", [""], LB, "10.0.0.2"),
        # garbage stops the walk at the last address known: never into the record
        ("10.0.0.2", ["<script>"], LB, "10.0.0.2"),
        ("10.0.0.2", ["6.6.6.6, unknown"], LB, "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.4, ::1\n, 10.1.2.3"], LB, "10.1.2.3"),
        ("10.0.0.2", ["198.51.100.4:5678"], LB, "10.0.0.2"),  # ports are not addresses
        ("10.0.0.2", ["fe80::1%eth0"], LB, "10.0.0.2"),  # nor are IPv6 zones
        ("10.0.0.2", ["198.51.100.4,,"], LB, "10.0.0.2"),
        # IPv6, written canonically; IPv4-mapped peers are their IPv4 address
        ("fd00::1", ["2001:DB8:0:0::7"], LB, "2001:db8::7"),
        ("::ffff:10.0.0.2", ["198.51.100.4"], LB, "198.51.100.4"),
        ("10.0.0.2", ["::ffff:198.51.100.4"], LB, "198.51.100.4"),
        # a peer that is not an address (a Unix socket, a test client) is never trusted
        ("testclient", ["6.6.6.6"], (ip_network("0.0.0.0/0"),), "testclient"),
        ("", ["6.6.6.6"], LB, ""),
    ],
)
def test_the_client_address(
    peer: str, forwarded_for: list[str], trusted: tuple[object, ...], client: str
) -> None:
    assert client_address(peer, forwarded_for, trusted) == client  # type: ignore[arg-type]


def _config(**gateway: Any) -> dict[str, Any]:
    agencies: dict[str, Any] = {n: {"url": f"http://{n}.example"} for n in AGENCIES}
    agencies["banking"]["key_env"] = "TEST_BANK_KEY"
    agencies["credit"].update(institution="B1", password_env="TEST_BANK_KEY")
    auth = {"issuer": "https://idp.example", "audience": "jointgate", "jwks_url": "https://idp"}
    return {"gateway": gateway, "auth": auth, "agencies": agencies}


def test_trusted_proxies_are_addresses_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_BANK_KEY", "k")
    assert from_mapping(_config()).trusted_proxies == ()
    settings = from_mapping(_config(trusted_proxies=["10.0.0.0/8", "192.0.2.7", "fd00::/8"]))
    assert settings.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.0.2.7/32"),
        ip_network("fd00::/8"),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.0.0.0/8", "a list of"),
        (["10.0.0.5/8"], "'10.0.0.5/8' has host bits set; the network is 10.0.0.0/8"),
        (["load-balancer.internal"], "'load-balancer.internal' is not an IP address or network"),
        (["10.0.0.0/33"], "'10.0.0.0/33' is not an IP address or network"),
        (["fe80::1%eth0"], "is not an IP address or network"),
        ([10], "a list of"),
    ],
)
def test_trusted_proxy_mistakes_are_named(
    monkeypatch: pytest.MonkeyPatch, value: object, message: str
) -> None:
    monkeypatch.setenv("TEST_BANK_KEY", "k")
    with pytest.raises(ConfigError, match=r"gateway\.trusted_proxies: ") as refused:
        from_mapping(_config(trusted_proxies=value))
    assert message in str(refused.value)


CONFIG = """
[auth]
issuer = "https://idp.example"
audience = "jointgate"
jwks_url = "https://idp.example/jwks.json"
""" + "".join(
    f'[agencies.{n}]\nurl = "http://{n}.example"\nkey_env = "TEST_BANK_KEY"\n'
    f'institution = "B1"\npassword_env = "TEST_BANK_KEY"\n'
    for n in AGENCIES
)


def test_trusted_proxies_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "jointgate.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("TEST_BANK_KEY", "k")
    monkeypatch.setenv("JOINTGATE_GATEWAY__TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8")
    assert load(config).trusted_proxies == (ip_network("10.0.0.0/8"), ip_network("fd00::/8"))
    monkeypatch.setenv("JOINTGATE_GATEWAY__TRUSTED_PROXIES", "10.0.0.0/8,proxy")
    with pytest.raises(ConfigError, match="set by JOINTGATE_GATEWAY__TRUSTED_PROXIES"):
        load(config)


async def test_the_audit_record_names_the_client_behind_a_trusted_proxy(tmp_path: Path) -> None:
    """The ASGI test client connects from 127.0.0.1."""
    async with open_harness(tmp_path, trusted_proxies=(ip_network("127.0.0.0/8"),)) as harness:
        for forwarded, client in (
            ("6.6.6.6, 198.51.100.4", "198.51.100.4"),
            ("<script>alert(1)</script>", "127.0.0.1"),
            (None, "127.0.0.1"),
        ):
            headers = harness.headers() | ({"x-forwarded-for": forwarded} if forwarded else {})
            await harness.client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
            assert harness.audit.records[-1].client == client
    async with open_harness(tmp_path) as harness:  # the default: no proxy trusted
        headers = harness.headers() | {"x-forwarded-for": "6.6.6.6"}
        await harness.client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        assert harness.audit.records[-1].client == "127.0.0.1"
