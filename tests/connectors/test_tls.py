"""TLS to the agencies: the four connectors over mutual TLS; a wrong CA, a missing or foreign
client certificate are refused and reported per agency as TLS failures; the whole federation
through the gateway, with the sandbox started the way ``jointgate demo --tls`` starts it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from audit.log import MemoryAuditLog
from commands.demo import demo_settings, prepare, start_sandbox
from connectors.base import Connector
from connectors.errors import AgencyTLSError
from connectors.http import TransportSettings
from connectors.police import PoliceConnector
from connectors.registry import AgencySettings, build_connectors
from connectors.tls import AgencyTLS, client_context, describe_tls_failure
from connectors.transport import ConnectFailed
from gateway.app import build_gateway, create_app
from sandbox.banking import DEFAULT_KEY
from sandbox.issuer import mint_token
from sandbox.tls import CertificateFiles, ensure_certificates
from sandbox.world import World
from tests.cases import register_fixture_cases


@pytest.fixture
async def over_tls(
    tls_urls: dict[str, str], gateway_tls: AgencyTLS
) -> AsyncIterator[dict[str, Connector]]:
    built = build_connectors(
        {
            name: AgencySettings(url=url, key=DEFAULT_KEY, tls=gateway_tls)
            for name, url in tls_urls.items()
        }
    )
    yield built
    for connector in built.values():
        await connector.aclose()


async def _police_lookup(url: str, tls: AgencyTLS) -> None:
    police = PoliceConnector(TransportSettings(url, timeout_s=2.0, tls=tls))
    try:
        await police.fetch_many("person", "id_number", ["11010519491231002X"], frozenset())
    finally:
        await police.aclose()


async def test_the_four_connectors_over_mutual_tls(
    over_tls: dict[str, Connector], tls_urls: dict[str, str], world: World
) -> None:
    assert all(url.startswith("https://") for url in tls_urls.values())
    s = world.scenario
    person = await over_tls["police"].fetch_many(
        "person", "id_number", [s["person_id"]], frozenset({"name"})
    )
    assert person[s["person_id"]][0].data["name"] == s["person_name"]
    enterprise = await over_tls["market"].fetch_many(
        "enterprise", "uscc", [s["enterprise_uscc"]], frozenset({"name"})
    )
    assert enterprise[s["enterprise_uscc"]][0].data["name"] == s["enterprise_name"]
    account = await over_tls["banking"].fetch_many(
        "account", "number", [s["account_number"]], frozenset({"bank"})
    )
    assert account[s["account_number"]]
    cases = await over_tls["courts"].fetch_many(
        "court_case", "case_number", s["court_case_numbers"], frozenset({"stage"})
    )
    assert all(cases[n] for n in s["court_case_numbers"])


async def test_an_agency_certificate_from_a_ca_we_do_not_trust_is_refused(
    tls_urls: dict[str, str], certs: CertificateFiles, other_ca: CertificateFiles
) -> None:
    wrong = AgencyTLS(other_ca.ca, certs.client_cert, certs.client_key)
    with pytest.raises(AgencyTLSError, match="TLS: certificate verify failed") as caught:
        await _police_lookup(tls_urls["police"], wrong)
    assert caught.value.agency == "police" and caught.value.code == "AGENCY_UNAVAILABLE"
    assert not caught.value.retryable


async def test_the_public_ca_bundle_does_not_trust_the_sandbox(
    tls_urls: dict[str, str], certs: CertificateFiles
) -> None:
    with pytest.raises(AgencyTLSError, match="certificate verify failed"):
        await _police_lookup(
            tls_urls["police"], AgencyTLS(None, certs.client_cert, certs.client_key)
        )


async def test_a_missing_client_certificate_is_refused(
    tls_urls: dict[str, str], certs: CertificateFiles
) -> None:
    with pytest.raises(AgencyTLSError, match="TLS: handshake failed") as caught:
        await _police_lookup(tls_urls["police"], AgencyTLS(certs.ca))
    assert caught.value.agency == "police"


async def test_a_client_certificate_from_another_ca_is_refused(
    tls_urls: dict[str, str], certs: CertificateFiles, other_ca: CertificateFiles
) -> None:
    foreign = AgencyTLS(certs.ca, other_ca.client_cert, other_ca.client_key)
    with pytest.raises(AgencyTLSError, match="TLS: "):
        await _police_lookup(tls_urls["police"], foreign)


async def test_without_a_client_certificate_not_even_the_fault_knobs_answer(
    tls_urls: dict[str, str], gateway_tls: AgencyTLS
) -> None:
    url = f"{tls_urls['police']}/_sandbox/stats"
    async with httpx.AsyncClient(verify=client_context(gateway_tls)) as client:
        assert (await client.get(url)).status_code == 200
    async with httpx.AsyncClient(verify=client_context(AgencyTLS(gateway_tls.ca_file))) as client:
        with pytest.raises(httpx.HTTPError):
            await client.get(url)


def _refused(reason: str) -> BaseException:
    """An OpenSSL alert wrapped twice on its way up (an httpx error <- a connect error <- the
    SSLError), as a transport may deliver it: the words come from the innermost."""
    alert = ssl.SSLError(1, f"[SSL: {reason}] alert")
    alert.reason = reason  # type: ignore[misc]
    try:
        try:
            raise ConnectFailed(str(alert)) from alert
        except ConnectFailed as exc:
            raise httpx.ConnectTimeout(str(exc)) from exc
    except httpx.ConnectTimeout as exc:
        return exc


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "TLS: the agency requires a client certificate"),
        ("TLSV1_ALERT_UNKNOWN_CA", "TLS: the agency does not trust our client certificate"),
        ("UNEXPECTED_EOF_WHILE_READING", "TLS: handshake failed: the agency closed the connection"),
        ("WRONG_VERSION_NUMBER", "TLS: handshake failed: WRONG_VERSION_NUMBER"),
    ],
)
def test_what_real_tls_servers_say_is_reported_in_words(reason: str, message: str) -> None:
    """TLS 1.3 servers such as nginx or Envoy refuse a client certificate with an alert after
    the handshake; Python's own server (the sandbox) cannot send it, so it is checked here."""
    detail = describe_tls_failure(_refused(reason), over_tls=True)
    assert detail is not None and detail.startswith(message)


def test_other_transport_errors_are_not_tls_failures() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as exc:
            raise httpx.ConnectError("refused") from exc
    except httpx.ConnectError as exc:
        assert describe_tls_failure(exc, over_tls=True) is None


def test_certificates_are_reused_until_they_near_expiry(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path)
    ca = first.ca.read_bytes()
    assert ensure_certificates(tmp_path).ca.read_bytes() == ca
    assert first.client_key.stat().st_mode & 0o077 == 0
    first.server_cert.unlink()
    assert ensure_certificates(tmp_path).ca.read_bytes() != ca  # all made again, with a new CA


async def test_the_whole_federation_over_mutual_tls(tmp_path: Path, world: World) -> None:
    """What ``jointgate demo --tls`` does: certificates in the data dir, the sandbox as a child
    process serving HTTPS to clients of that CA only, the gateway configured with them."""
    jwks, bank_key = prepare(tmp_path)
    register_fixture_cases(tmp_path)
    certs = ensure_certificates(tmp_path / "tls")
    extra = ["--tls", str(certs.directory), "--require-client-cert"]
    child, urls = await asyncio.to_thread(start_sandbox, tmp_path, bank_key, 0.05, 20261123, extra)
    try:
        assert all(url.startswith("https://") for url in urls.values())
        settings = demo_settings("127.0.0.1", 0, tmp_path, jwks, bank_key, urls, certs)
        app = create_app(build_gateway(settings, audit=MemoryAuditLog()))
        s = world.scenario
        query = """query($uscc: USCC!) { enterprise(uscc: $uscc) {
            name legalRepresentative { name } bankAccounts { number }
            courtCases { caseNumber } policeCases { caseNumber } } }"""
        headers = {
            "authorization": f"Bearer {mint_token('jit.member', tmp_path)}",
            "x-purpose": "investigation",
            "x-case-id": "JIT-2026-001",
        }
        async with (
            _lifespan(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway"
            ) as client,
        ):
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": {"uscc": s["enterprise_uscc"]}},
                headers=headers,
            )
        body = response.json()
        assert "errors" not in body, body
        enterprise = body["data"]["enterprise"]
        assert enterprise["name"] == s["enterprise_name"]  # market
        assert enterprise["legalRepresentative"]["name"] == s["person_name"]  # police
        assert s["account_number"] in {a["number"] for a in enterprise["bankAccounts"]}  # banking
        assert set(s["court_case_numbers"]) <= {c["caseNumber"] for c in enterprise["courtCases"]}
        assert s["police_case_number"] in {c["caseNumber"] for c in enterprise["policeCases"]}
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(child.wait, 10)
        except subprocess.TimeoutExpired:
            child.kill()


@contextlib.asynccontextmanager
async def _lifespan(app: object) -> AsyncIterator[None]:
    """The app's start-up and shut-down (keys loaded; connectors closed afterwards)."""
    lifespan = app.router.lifespan_context  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    try:
        async with lifespan(app):
            yield
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)  # a reload hook the app may install
