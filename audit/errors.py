"""The audit package's errors::

AuditError
├── AuditKeyError      a key is missing, unreadable or does not fit the data
├── AuditStoreError    the store cannot append (the gateway answers 503 and is not ready)
├── AuditConfigError   the [audit] settings do not describe a usable store
└── ProofError         a proof or checkpoint file is malformed
"""

from __future__ import annotations

import re
from collections.abc import Iterable


class AuditError(Exception):
    """Base of every error raised by the audit package."""


class AuditKeyError(AuditError):
    pass


class AuditStoreError(AuditError):
    pass


class AuditConfigError(AuditError):
    pass


class ProofError(AuditError):
    pass


_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_USERINFO = re.compile(r"(\w+://[^/\s:@]*):[^/\s@]*@")
REPORTED_CHARS = 300


def redacted(text: str, secrets: Iterable[str] = ()) -> str:
    """An error message fit to be shown outside the process (``/readyz``): one line, at most
    ``REPORTED_CHARS`` characters, passwords in DSNs and URLs and the given secrets replaced by
    ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _USERINFO.sub(r"\1:***@", _PASSWORD.sub(r"\1***", text))
    text = " ".join(text.split())
    return text if len(text) <= REPORTED_CHARS else text[: REPORTED_CHARS - 1] + "…"
