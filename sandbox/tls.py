"""A private CA for serving the sandbox agencies over TLS, with client certificates (mTLS).

:func:`ensure_certificates` creates, in one directory, a CA, a server certificate for the
sandbox's loopback names and a client certificate for the gateway, or reuses them if they are
there and valid for at least another day. The gateway trusts ``ca.pem`` and presents
``client.pem``; the sandbox presents ``server.pem`` and accepts only clients the CA signed.

    ca.pem  ca-key.pem  server.pem  server-key.pem  client.pem  client-key.pem

Keys are P-256 (fast to generate, so tests make fresh ones) and written with mode 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["SERVER_NAMES", "CertificateFiles", "ServerTLS", "ensure_certificates"]

SERVER_NAMES = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 365
_RENEW_BEFORE = datetime.timedelta(days=1)
_SERVER = ExtendedKeyUsageOID.SERVER_AUTH
_CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    """Where the CA, server and client certificates and keys of one directory live."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client-key.pem"

    def all(self) -> tuple[Path, ...]:
        return (
            self.ca,
            self.ca_key,
            self.server_cert,
            self.server_key,
            self.client_cert,
            self.client_key,
        )


@dataclass(frozen=True, slots=True)
class ServerTLS:
    """How the sandbox serves TLS: its certificates, and whether clients must present one."""

    files: CertificateFiles
    require_client_cert: bool = True

    def uvicorn_options(self) -> dict[str, Any]:
        """Keyword arguments for ``uvicorn.Config``."""
        return {
            "ssl_certfile": str(self.files.server_cert),
            "ssl_keyfile": str(self.files.server_key),
            "ssl_ca_certs": str(self.files.ca),
            "ssl_cert_reqs": ssl.CERT_REQUIRED if self.require_client_cert else ssl.CERT_NONE,
            "ssl_context_factory": _tls12_when_verifying_clients
            if self.require_client_cert
            else None,
        }


def _tls12_when_verifying_clients(
    config: Any, default: Callable[[], ssl.SSLContext]
) -> ssl.SSLContext:
    # asyncio's TLS server drops the TLS 1.3 alert that tells a client its certificate was
    # refused, so the client only sees "server disconnected" after its handshake succeeded. Up
    # to TLS 1.2 the refusal happens inside the handshake, and the gateway can report it as a
    # TLS failure. Real agency servers (nginx, Envoy, Go) send the alert under 1.3 too.
    context = default()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def ensure_certificates(directory: Path) -> CertificateFiles:
    """The directory's certificates, created (all of them, with a new CA) if any is missing or
    expires within a day."""
    files = CertificateFiles(directory)
    if all(p.exists() for p in files.all()) and _still_valid(files):
        return files
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("JointGate sandbox CA")
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key, server = _leaf(ca, ca_key, "sandbox agencies", _SERVER, now)
    client_key, client = _leaf(ca, ca_key, "jointgate gateway", _CLIENT, now)
    _write_key(files.ca_key, ca_key)
    _write_key(files.server_key, server_key)
    _write_key(files.client_key, client_key)
    files.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.client_cert.write_bytes(client.public_bytes(serialization.Encoding.PEM))
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))  # last: marks completion
    return files


def _leaf(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    usage: x509.ObjectIdentifier,
    now: datetime.datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(common_name), ca.subject, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    if usage == _SERVER:
        builder = builder.add_extension(x509.SubjectAlternativeName(_san()), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JointGate sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _san() -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for name in SERVER_NAMES:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    return names


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def _still_valid(files: CertificateFiles) -> bool:
    horizon = datetime.datetime.now(datetime.UTC) + _RENEW_BEFORE
    try:
        for path in (files.ca, files.server_cert, files.client_cert):
            if x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc < horizon:
                return False
    except ValueError:
        return False
    return True
