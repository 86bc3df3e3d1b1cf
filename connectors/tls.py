"""TLS to agency systems: whom we trust (a CA bundle), what we present (a client certificate),
and what a failed handshake means, in words an operator can act on.

Verification is never switched off: without ``ca_file`` the public CA bundle (certifi) is used,
as httpx does by default.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated

import certifi
from pydantic.dataclasses import dataclass

from connectors.errors import causes
from connectors.transport import ConnectFailed
from kernel.settings import TABLE, Table, check, optional, path, setting

__all__ = ["AgencyTLS", "client_context", "describe_tls_failure"]


File = Annotated[Path | None, check(optional(path))]


@dataclass(frozen=True, slots=True, config=TABLE)
class AgencyTLS(Table):
    """How to reach one agency over TLS: ``ca_file`` to trust (PEM bundle), and for mutual TLS
    the client certificate chain and its key (``[agencies.NAME.tls]``, checked and loaded by
    connectors/registry.py)."""

    LIST_KEYS = True

    ca_file: File = setting(
        None,
        "CA bundle for the agency's certificate (https URL required)",
        shown="public CAs (certifi)",
    )
    cert_file: File = setting(None, "client certificate for mutual TLS (with `key_file`)")
    key_file: File = setting(None, "the client certificate's key")


def client_context(tls: AgencyTLS | None) -> ssl.SSLContext:
    """A verifying client context (TLS 1.2 or later, hostname checked) for one agency.

    Raises ``OSError``/``ssl.SSLError`` if a file cannot be read or the key does not match.
    """
    tls = tls or AgencyTLS()
    context = ssl.create_default_context(cafile=str(tls.ca_file or certifi.where()))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.cert_file is not None:
        key = str(tls.key_file) if tls.key_file is not None else None
        context.load_cert_chain(str(tls.cert_file), key)
    return context


# OpenSSL reason codes of alerts a server sends when it refuses our certificate.
_REFUSED = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the agency requires a client certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "the agency does not trust our client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the agency refused our client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the agency says our client certificate has expired",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the agency refused the handshake",
}
_ASK = "does it require a client certificate we lack, or not trust ours?"


def describe_tls_failure(exc: BaseException, over_tls: bool) -> str | None:
    """``"TLS: ..."`` if ``exc`` (or anything that caused it) is a TLS failure, else None.

    ``over_tls`` says the agency's URL is https; then a connection reset while connecting can
    only have happened in the handshake, which is how some servers refuse a client certificate
    (Python's own TLS server drops the alert that would say so).
    """
    chain = list(causes(exc))
    verify = [e for e in chain if isinstance(e, ssl.SSLCertVerificationError)]
    if verify:
        message = verify[-1].verify_message or verify[-1].reason or "unknown reason"
        return f"TLS: certificate verify failed: {message} (is ca_file the agency's CA?)"
    failures = [e for e in chain if isinstance(e, ssl.SSLError)]
    if failures:
        reason = str(getattr(failures[-1], "reason", None) or failures[-1])
        if reason in _REFUSED:
            return f"TLS: {_REFUSED[reason]} ({reason}; check cert_file and key_file)"
        if isinstance(failures[-1], ssl.SSLEOFError) or "EOF" in reason:
            return f"TLS: handshake failed: the agency closed the connection ({reason}; {_ASK})"
        return f"TLS: handshake failed: {reason}"
    connecting = any(isinstance(e, ConnectFailed) for e in chain)
    if over_tls and connecting and any(isinstance(e, ConnectionResetError) for e in chain):
        return f"TLS: handshake failed: the agency reset the connection ({_ASK})"
    return None
