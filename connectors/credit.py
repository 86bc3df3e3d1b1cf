"""The credit reference system (征信中心): SOAP 1.1 over HTTP. See docs/sandbox.md.

``GetCreditReports`` with a batch of party ids (at most :data:`KEYS_PER_CALL`) and the report
sections the operation may read (data minimisation: a section none of the allowed fields is in
is never asked for), authenticated by a WS-Security ``UsernameToken`` (institution code and
password). Replies become records of kind ``credit_report`` keyed by ``party_id``, in our
snake_case names (``<cr:OverdueAmount>`` is ``overdue_amount``), lists as lists of dicts, with
only the fields asked for.

A SOAP Fault ``soap:Client`` (the institution, the ids or the message were refused) is
:class:`~connectors.errors.AgencyRejected`; ``soap:Server`` and any 5xx or 429 are
:class:`~connectors.errors.AgencyUnavailable` (retried where the guard may); an answer that is
no SOAP envelope, or holds a DTD, is :class:`~connectors.errors.AgencyProtocolError`. The
agency's fault text never goes further than the operators' log, identifiers redacted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # only ever given checked, DTD-free input
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from xml.sax.saxutils import escape

from connectors.base import Grouped, Record, each_chunk, group
from connectors.errors import AgencyProtocolError, AgencyRejected, AgencyUnavailable
from connectors.http import HTTPConnector, TransportSettings, describe_error_text
from connectors.transport import Transport

__all__ = ["KEYS_PER_CALL", "SECTION_OF", "CreditConnector", "Record", "sections_for"]

PATH = "/soap/CreditReference"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "urn:pbccrc:credit-reference:v1"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
WSS_PROFILES = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PLAIN_TEXT = f"{WSS_PROFILES}#PasswordText"  # the type of the password element
SOAP_ACTION = f'"{NS}#GetCreditReports"'
KEYS_PER_CALL = 100

# our top-level field -> the report section that holds it
SECTION_OF = {
    "party_type": "Summary",
    "name": "Summary",
    "report_date": "Summary",
    "total_balance": "Summary",
    "overdue_amount": "Summary",
    "worst_class": "Summary",
    "loans": "Loans",
    "guarantees_given": "GuaranteesGiven",
    "guarantees_received": "GuaranteesReceived",
    "queries": "Queries",
}
_LISTS = {
    "Loans": "loans",
    "GuaranteesGiven": "guarantees_given",
    "GuaranteesReceived": "guarantees_received",
    "Queries": "queries",
}
_NUMBERS = frozenset({"total_balance", "overdue_amount", "amount", "balance"})


def sections_for(fields: frozenset[str]) -> tuple[str, ...]:
    """The report sections holding ``fields`` (agency-side, dotted inside lists), in order."""
    wanted = {SECTION_OF.get(f.partition(".")[0]) for f in fields}
    return tuple(s for s in dict.fromkeys(SECTION_OF.values()) if s in wanted)


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _xml(agency: str, body: bytes) -> ET.Element:
    """The answer parsed, refusing anything but DTD-free UTF-8 (an agency answer is input too)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise AgencyProtocolError(agency, "answer is not UTF-8") from None
    at = text.find("<!")
    while at != -1:
        if not (text.startswith("<!--", at) or text.startswith("<![CDATA[", at)):
            raise AgencyProtocolError(agency, "answer holds a markup declaration (DTD): refused")
        at = text.find("<!", at + 2)
    try:
        return ET.fromstring(body)  # noqa: S314 - DTD-free, checked above
    except ET.ParseError as exc:
        raise AgencyProtocolError(agency, f"answer is not well-formed XML: {exc}") from None


def _scalar(element: ET.Element, name: str) -> Any:
    if element.get(XSI_NIL) in ("true", "1"):
        return None
    text = element.text or ""
    if name in _NUMBERS:
        try:
            return float(text)
        except ValueError:
            return None
    if name == "sensitivity":
        return int(text) if text.strip().isdigit() else 3  # unreadable: the strictest
    return text


class CreditConnector(HTTPConnector):
    agency = "credit"
    lookups: ClassVar[dict[str, tuple[str, ...]]] = {"credit_report": ("party_id",)}

    def __init__(
        self,
        settings: TransportSettings,
        institution: str,
        password: bytes,
        transport: Transport | None = None,
    ) -> None:
        super().__init__(settings, transport=transport, decode=self._decode)
        self._institution = institution
        self._password = password  # never in a repr, a log or an error

    def __repr__(self) -> str:
        return (
            f"CreditConnector({self.http.settings.base_url!r}, institution={self._institution!r})"
        )

    async def fetch_many(
        self,
        kind: str,
        by: str,
        keys: Sequence[str],
        fields: frozenset[str],
        limit_per_key: int | None = None,
    ) -> Grouped:
        self.check_lookup(kind, by)
        sections = sections_for(fields)
        batches = await each_chunk(keys, KEYS_PER_CALL, lambda chunk: self._call(chunk, sections))
        rows = [_project(row, fields) for batch in batches for row in batch]
        return group([self.record(kind, row) for row in rows], by, keys)

    def envelope(self, keys: Sequence[str], sections: Sequence[str]) -> bytes:
        """The SOAP request for ``keys`` and ``sections``."""
        ids = "".join(f"<cr:PartyId>{escape(k)}</cr:PartyId>" for k in keys)
        wanted = "".join(f"<cr:Section>{s}</cr:Section>" for s in sections)
        password = escape(self._password.decode("utf-8", "replace"))
        return (
            f'<?xml version="1.0" encoding="utf-8"?>'
            f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:cr="{NS}" xmlns:wsse="{WSSE_NS}">'
            f"<soap:Header><wsse:Security><wsse:UsernameToken>"
            f"<wsse:Username>{escape(self._institution)}</wsse:Username>"
            f'<wsse:Password Type="{PLAIN_TEXT}">{password}</wsse:Password>'
            f"</wsse:UsernameToken></wsse:Security></soap:Header>"
            f"<soap:Body><cr:GetCreditReports><cr:PartyIds>{ids}</cr:PartyIds>"
            f"<cr:Sections>{wanted}</cr:Sections></cr:GetCreditReports></soap:Body>"
            f"</soap:Envelope>"
        ).encode()

    async def _call(self, keys: Sequence[str], sections: Sequence[str]) -> list[dict[str, Any]]:
        headers = {"content-type": "text/xml; charset=utf-8", "soapaction": SOAP_ACTION}
        # a lookup, so safe to retry
        answer = await self.http.post(PATH, self.envelope(keys, sections), headers, idempotent=True)
        assert isinstance(answer, list)
        return answer

    def _decode(self, status: int, body: bytes) -> list[dict[str, Any]]:
        """The reports of one answer, or the error it is."""
        agency = self.agency
        if not body.lstrip().startswith(b"<"):
            if status >= 500 or status == 429:
                raise AgencyUnavailable(agency, f"HTTP {status}: {describe_error_text(body)}")
            raise AgencyProtocolError(agency, f"HTTP {status}: answer is no SOAP envelope")
        envelope = _xml(agency, body)
        if envelope.tag != f"{{{SOAP_NS}}}Envelope":
            raise AgencyProtocolError(agency, "answer is no SOAP 1.1 envelope")
        soap_body = envelope.find(f"{{{SOAP_NS}}}Body")
        if soap_body is None:
            raise AgencyProtocolError(agency, "answer has no soap:Body")
        fault = soap_body.find(f"{{{SOAP_NS}}}Fault")
        if fault is not None:
            side = (fault.findtext("faultcode") or "").strip().rpartition(":")[2]
            code = (fault.findtext(f"detail/{{{NS}}}ErrorCode") or "").strip()
            text = describe_error_text((fault.findtext("faultstring") or "").encode())
            detail = f"HTTP {status}: SOAP Fault {side} {code}: {text}"
            if side == "Client" and status != 429:
                raise AgencyRejected(agency, detail, status if 400 <= status < 500 else 400)
            raise AgencyUnavailable(agency, detail)
        if status >= 500 or status == 429:
            raise AgencyUnavailable(agency, f"HTTP {status} without a SOAP Fault")
        if status >= 400:
            raise AgencyRejected(agency, f"HTTP {status} without a SOAP Fault", status)
        reply = soap_body.find(f"{{{NS}}}GetCreditReportsResponse")
        if reply is None:
            raise AgencyProtocolError(agency, "answer has no GetCreditReportsResponse")
        return [_report(agency, e) for e in reply.iterfind(f"{{{NS}}}CreditReport")]


def _report(agency: str, element: ET.Element) -> dict[str, Any]:
    party = element.get("partyId")
    if not party:
        raise AgencyProtocolError(agency, "a CreditReport has no partyId")
    row: dict[str, Any] = {"party_id": party}
    for child in element:
        local = _local(child.tag)
        if local == "Labels":
            row["handling_code"] = child.findtext(f"{{{NS}}}HandlingCode") or "H3"
            sensitivity = child.find(f"{{{NS}}}Sensitivity")
            row["sensitivity"] = 3 if sensitivity is None else _scalar(sensitivity, "sensitivity")
            row["linked_cases"] = [(c.text or "") for c in child.iterfind(f"{{{NS}}}LinkedCase")]
        elif local in _LISTS:
            row[_LISTS[local]] = [
                {snake(_local(v.tag)): _scalar(v, snake(_local(v.tag))) for v in item}
                for item in child
            ]
        else:
            name = snake(local)
            row[name] = _scalar(child, name)
    return row


def _project(row: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """Only the fields asked for (a list whole, or some of its items' fields), the key and
    the labels: the sections bring more than one field at a time."""
    keep = ("party_id", "handling_code", "sensitivity", "linked_cases")
    out = {k: row[k] for k in keep if k in row}
    whole = {f for f in fields if "." not in f}
    subs: dict[str, set[str]] = {}
    for f in fields:
        head, _, sub = f.partition(".")
        if sub and head not in whole:
            subs.setdefault(head, set()).add(sub)
    out.update({head: row[head] for head in whole if head in row})
    for head, wanted in subs.items():
        items = row.get(head)
        if isinstance(items, list):
            out[head] = [{k: v for k, v in item.items() if k in wanted} for item in items]
    return out
