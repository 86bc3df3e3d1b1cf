"""Errors raised at the connector boundary; no httpx or agency error type leaks past it.

    ConnectorError                 (AGENCY_ERROR)
    ├── AgencyUnavailable          (AGENCY_UNAVAILABLE) refused, reset, 5xx, circuit open
    │   └── AgencyTimeout          (AGENCY_UNAVAILABLE) no answer within the timeout
    ├── AgencyRejected             (AGENCY_ERROR) the agency refused our request (4xx)
    └── AgencyProtocolError        (AGENCY_ERROR) the answer was not what the contract says

``detail`` is for operators' logs only; clients see ``public_message``, which never carries agency
internals.
"""

from __future__ import annotations


class ConnectorError(Exception):
    code = "AGENCY_ERROR"

    def __init__(self, agency: str, detail: str) -> None:
        super().__init__(f"{agency}: {detail}")
        self.agency = agency
        self.detail = detail

    @property
    def public_message(self) -> str:
        return f"The {self.agency} system could not answer this request."


class AgencyUnavailable(ConnectorError):
    code = "AGENCY_UNAVAILABLE"

    @property
    def public_message(self) -> str:
        return f"The {self.agency} system is unavailable."


class AgencyTimeout(AgencyUnavailable):
    pass


class AgencyRejected(ConnectorError):
    def __init__(self, agency: str, detail: str, status: int) -> None:
        super().__init__(agency, detail)
        self.status = status


class AgencyProtocolError(ConnectorError):
    pass
