"""The credit reference system (征信中心): SOAP 1.1 over HTTP, as such systems speak.

One endpoint, ``POST /soap/CreditReference``, ``Content-Type: text/xml; charset=utf-8``, with
a ``SOAPAction`` header naming the operation. One operation, ``GetCreditReports``: a batch of
at most :data:`MAX_PARTIES` party ids (USCC or resident ID) and the sections to return
(:data:`SECTIONS`); the reply holds a ``<CreditReport>`` per party found and a ``<Missing>``
for every other. The institution asking authenticates with a WS-Security ``UsernameToken``
(institution code and password). Every error is a SOAP Fault: ``soap:Client`` for what the
caller got wrong, ``soap:Server`` for the system's own failures, each with a 征信-style error
code in ``detail``. See docs/sandbox.md.

XML is parsed with the standard library only after the body is known to be UTF-8 with no
``<!DOCTYPE``/``<!ENTITY`` (nor any other ``<!`` declaration): without a DTD no entity can be
declared, so nothing is ever expanded (billion laughs) or fetched (XXE).
"""

from __future__ import annotations

import hmac
import xml.etree.ElementTree as ET  # only ever given checked, DTD-free input
from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kernel.identifiers import InvalidIdentifier
from sandbox.faults import Faults
from sandbox.http import build_app, check_party_id
from sandbox.world import Record, World

__all__ = [
    "DEFAULT_INSTITUTION",
    "DEFAULT_PASSWORD",
    "MAX_BODY",
    "MAX_PARTIES",
    "NS",
    "PATH",
    "SECTIONS",
    "SOAP_ACTION",
    "CreditFault",
    "create_app",
    "render_error",
    "safe_xml",
]

PATH = "/soap/CreditReference"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "urn:pbccrc:credit-reference:v1"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SOAP_ACTION = f"{NS}#GetCreditReports"
MAX_PARTIES = 100
MAX_BODY = 64 * 1024  # a request of 100 ids is about 6 KiB
DEFAULT_INSTITUTION = "B10011000H0001"  # the demo's institution code (机构代码)
DEFAULT_PASSWORD = "jointgate-demo-credit"  # noqa: S105 - the sandbox's demo password

# section -> the record's fields it holds (each list's items: the sub-fields, in order)
SECTIONS: dict[str, tuple[str, ...]] = {
    "Summary": (
        "party_type",
        "name",
        "report_date",
        "total_balance",
        "overdue_amount",
        "worst_class",
    ),
    "Loans": ("loans",),
    "GuaranteesGiven": ("guarantees_given",),
    "GuaranteesReceived": ("guarantees_received",),
    "Queries": ("queries",),
}
# list field -> (its XML element, one item's element)
_LISTS = {
    "loans": ("Loans", "Loan"),
    "guarantees_given": ("GuaranteesGiven", "Guarantee"),
    "guarantees_received": ("GuaranteesReceived", "Guarantee"),
    "queries": ("Queries", "Query"),
}

# 征信-style error codes (docs/sandbox.md)
AUTH_FAILED = "ZX0101"  # 机构认证失败
MALFORMED = "ZX0201"  # 报文格式错误
DTD_REFUSED = "ZX0202"  # 报文含DTD声明
TOO_LARGE = "ZX0203"  # 报文过大
BAD_PARTY = "ZX0301"  # 证件号码校验失败
TOO_MANY = "ZX0302"  # 单次查询主体过多
BAD_SECTION = "ZX0303"  # 未知报告板块
BAD_ACTION = "ZX0304"  # 未知操作
SERVER = "ZX0900"  # 系统内部错误
UNAVAILABLE = "ZX0901"  # 系统暂停服务
_BY_STATUS = {404: BAD_ACTION, 405: BAD_ACTION, 413: TOO_LARGE, 503: UNAVAILABLE}


class CreditFault(Exception):
    """A SOAP Fault to answer with: ``client`` says whose fault it is (``soap:Client``)."""

    def __init__(self, code: str, message: str, client: bool = True, status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client = client
        self.status = status


def camel(name: str) -> str:
    """``overdue_amount`` -> ``OverdueAmount``: the XML element of a field."""
    return "".join(part.title() for part in name.split("_"))


def fault_response(fault: CreditFault) -> Response:
    side = "Client" if fault.client else "Server"
    body = (
        f'<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:cr="{NS}"><soap:Body><soap:Fault>'
        f"<faultcode>soap:{side}</faultcode><faultstring>{escape(fault.message)}</faultstring>"
        f"<detail><cr:ErrorCode>{fault.code}</cr:ErrorCode></detail>"
        f"</soap:Fault></soap:Body></soap:Envelope>"
    )
    return Response(body.encode(), fault.status, media_type="text/xml; charset=utf-8")


def render_error(status: int, message: str) -> Response:
    """Errors of the HTTP layer and the fault knobs, as SOAP Faults (the agency's format)."""
    code = _BY_STATUS.get(status, SERVER if status >= 500 else MALFORMED)
    return fault_response(CreditFault(code, message, client=status < 500, status=status))


def safe_xml(body: bytes) -> ET.Element:
    """The parsed document, refusing anything but DTD-free UTF-8 (CreditFault)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise CreditFault(MALFORMED, "the message must be UTF-8") from None
    head = text[:200].lower()
    if head.startswith("<?xml") and "encoding" in head.split("?>", 1)[0]:
        declared = head.split("?>", 1)[0]
        if "utf-8" not in declared and "utf8" not in declared:
            raise CreditFault(MALFORMED, "the message must be UTF-8")
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise CreditFault(DTD_REFUSED, "DOCTYPE and ENTITY declarations are refused")
    at = text.find("<!")
    while at != -1:  # comments and CDATA sections are the only other '<!' there may be
        if not (text.startswith("<!--", at) or text.startswith("<![CDATA[", at)):
            raise CreditFault(DTD_REFUSED, "markup declarations are refused")
        at = text.find("<!", at + 2)
    try:
        return ET.fromstring(body)  # noqa: S314 - DTD-free, checked above
    except ET.ParseError as exc:
        raise CreditFault(MALFORMED, f"the message is not well-formed XML: {exc}") from None


def _one(parent: ET.Element, path: str, what: str) -> ET.Element:
    found = parent.find(path)
    if found is None:
        raise CreditFault(MALFORMED, f"the message has no {what}")
    return found


def _authenticate(envelope: ET.Element, institutions: Mapping[str, str]) -> str:
    token = envelope.find(f"{{{SOAP_NS}}}Header/{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken")
    if token is None:
        raise CreditFault(AUTH_FAILED, "institution authentication failed: no UsernameToken")
    user = (token.findtext(f"{{{WSSE_NS}}}Username") or "").strip()
    password = token.findtext(f"{{{WSSE_NS}}}Password") or ""
    expected = institutions.get(user)
    # one message whichever was wrong, so that it tells no one which institution codes exist
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        raise CreditFault(AUTH_FAILED, "institution authentication failed")
    return user


def _request(body: ET.Element) -> tuple[list[str], tuple[str, ...]]:
    operation = body.find(f"{{{NS}}}GetCreditReports")
    if operation is None:
        raise CreditFault(BAD_ACTION, "unknown operation: only GetCreditReports is offered")
    ids = [(e.text or "").strip() for e in operation.iterfind(f"{{{NS}}}PartyIds/{{{NS}}}PartyId")]
    if not ids:
        raise CreditFault(MALFORMED, "give at least one PartyId in PartyIds")
    if len(ids) > MAX_PARTIES:
        raise CreditFault(TOO_MANY, f"at most {MAX_PARTIES} party ids per call, got {len(ids)}")
    parties: dict[str, None] = {}
    for position, value in enumerate(ids, 1):
        try:
            parties[check_party_id(value)] = None
        except InvalidIdentifier as exc:
            # the position, never the value: a fault may end up in a log
            raise CreditFault(BAD_PARTY, f"PartyId {position}: {exc.reason}") from None
    asked = [
        (e.text or "").strip() for e in operation.iterfind(f"{{{NS}}}Sections/{{{NS}}}Section")
    ]
    unknown = sorted(set(asked) - set(SECTIONS))
    if unknown:
        raise CreditFault(
            BAD_SECTION, f"unknown section(s): {', '.join(unknown)}; known: {', '.join(SECTIONS)}"
        )
    return list(parties), tuple(s for s in SECTIONS if s in asked)


def _value(name: str, value: Any) -> str:
    element = camel(name)
    if value is None:
        return f'<cr:{element} xsi:nil="true"/>'
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<cr:{element}>{escape(str(value))}</cr:{element}>"


def _items(name: str, rows: Iterable[Mapping[str, Any]]) -> str:
    outer, inner = _LISTS[name]
    parts = [f"<cr:{outer}>"]
    for row in rows:
        parts.append(f"<cr:{inner}>")
        parts.extend(_value(k, v) for k, v in row.items())
        parts.append(f"</cr:{inner}>")
    parts.append(f"</cr:{outer}>")
    return "".join(parts)


def report_xml(report: Record, sections: Iterable[str]) -> str:
    """One ``<CreditReport>`` with the sections asked for and the record's labels."""
    parts = [f"<cr:CreditReport partyId={quoteattr(report['party_id'])}>"]
    for section in sections:
        for name in SECTIONS[section]:
            if name in _LISTS:
                parts.append(_items(name, report[name]))
            else:
                parts.append(_value(name, report[name]))
    parts.append("<cr:Labels>")
    parts.append(_value("handling_code", report["handling_code"]))
    parts.append(_value("sensitivity", report["sensitivity"]))
    parts.extend(f"<cr:LinkedCase>{escape(c)}</cr:LinkedCase>" for c in report["linked_cases"])
    parts.append("</cr:Labels></cr:CreditReport>")
    return "".join(parts)


def create_app(
    world: World,
    faults: Faults | None = None,
    institutions: Mapping[str, str] | None = None,
) -> Starlette:
    """The credit reference system's ASGI app over ``world``; ``institutions``: institution
    code -> password (default: the demo's one)."""
    accounts = dict(institutions or {DEFAULT_INSTITUTION: DEFAULT_PASSWORD})

    async def reference(request: Request) -> Response:
        try:
            return await _answer(request)
        except CreditFault as fault:
            return fault_response(fault)

    async def _answer(request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "text/xml":
            raise CreditFault(MALFORMED, "Content-Type must be text/xml; charset=utf-8")
        action = request.headers.get("soapaction")
        if action is None:
            raise CreditFault(BAD_ACTION, "the SOAPAction header is required")
        if action.strip().strip('"') != SOAP_ACTION:
            raise CreditFault(BAD_ACTION, f"unknown SOAPAction; expected {SOAP_ACTION!r}")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            raise CreditFault(TOO_LARGE, f"the message is over {MAX_BODY} bytes", status=413)
        received = bytearray()
        async for chunk in request.stream():  # a chunked body too: stop reading at the cap
            received += chunk
            if len(received) > MAX_BODY:
                raise CreditFault(TOO_LARGE, f"the message is over {MAX_BODY} bytes", status=413)
        body = bytes(received)
        envelope = safe_xml(body)
        if envelope.tag != f"{{{SOAP_NS}}}Envelope":
            raise CreditFault(MALFORMED, "the message is no SOAP 1.1 Envelope")
        _authenticate(envelope, accounts)
        parties, sections = _request(_one(envelope, f"{{{SOAP_NS}}}Body", "soap:Body"))
        parts = [
            f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"'
            f' xmlns:cr="{NS}" xmlns:xsi="{XSI_NS}"><soap:Body><cr:GetCreditReportsResponse>'
        ]
        for party in parties:
            report = world.credit.get(party)
            if report is None:
                parts.append(f"<cr:Missing partyId={quoteattr(party)}/>")
            else:
                parts.append(report_xml(report, sections))
        parts.append("</cr:GetCreditReportsResponse></soap:Body></soap:Envelope>")
        return Response("".join(parts).encode(), media_type="text/xml; charset=utf-8")

    return build_app([Route(PATH, reference, methods=["POST"])], render_error, faults)
