"""Errors raised at the connector boundary; no httpx or agency error type leaks past it.

    ConnectorError                 (AGENCY_ERROR)
    ├── AgencyUnavailable          (AGENCY_UNAVAILABLE) refused, reset, 5xx, 429: retried
    │   ├── AgencyTimeout          (AGENCY_UNAVAILABLE) no answer within the timeout or deadline
    │   ├── AgencyTLSError         (AGENCY_UNAVAILABLE) certificate or TLS handshake failure
    │   └── CircuitOpen            (AGENCY_UNAVAILABLE) failed fast: the agency's circuit is open
    ├── AgencyRejected             (AGENCY_ERROR) the agency refused our request (4xx)
    └── AgencyProtocolError        (AGENCY_ERROR) the answer was not what the contract says

``detail`` is for operators' logs only; clients see ``public_message``, which never carries agency
internals. ``retryable`` says whether the shared layer may try an idempotent call again
(``connectors/resilience.py``): a timeout, a TLS failure or an open circuit would only fail again.
"""

from __future__ import annotations

from collections.abc import Iterator


class ConnectorError(Exception):
    code = "AGENCY_ERROR"
    retryable = False

    def __init__(self, agency: str, detail: str) -> None:
        super().__init__(f"{agency}: {detail}")
        self.agency = agency
        self.detail = detail

    @property
    def public_message(self) -> str:
        return f"The {self.agency} system could not answer this request."


class AgencyUnavailable(ConnectorError):
    code = "AGENCY_UNAVAILABLE"
    retryable = True

    @property
    def public_message(self) -> str:
        return f"The {self.agency} system is unavailable."


class AgencyTimeout(AgencyUnavailable):
    retryable = False  # the attempt used the agency's whole allowance; another would too


class AgencyTLSError(AgencyUnavailable):
    retryable = False


class CircuitOpen(AgencyUnavailable):
    retryable = False


class AgencyRejected(ConnectorError):
    def __init__(self, agency: str, detail: str, status: int) -> None:
        super().__init__(agency, detail)
        self.status = status


class AgencyProtocolError(ConnectorError):
    pass


def causes(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and the exceptions that caused it, outermost first."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
