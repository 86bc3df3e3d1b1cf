"""The audit package's errors::

AuditError
├── AuditKeyError      a key is missing, unreadable or does not fit the data
├── AuditStoreError    the store cannot append (the gateway answers 503 and is not ready)
├── AuditConfigError   the [audit] settings do not describe a usable store
└── ProofError         a proof or checkpoint file is malformed
"""

from __future__ import annotations


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
