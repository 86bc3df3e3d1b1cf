"""The credit reference system over real HTTP: SOAP 1.1, WS-Security, faults, XML attacks; and
the credit reports of the world (consistency, the scenario's story)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from kernel.identifiers import check_resident_id, check_uscc
from sandbox import credit
from sandbox.credit import DEFAULT_INSTITUTION, DEFAULT_PASSWORD, NS, SOAP_ACTION, SOAP_NS
from sandbox.synth.credit import CLASSES, HISTORY_MONTHS
from sandbox.world import JOINT_CASE_ID, World

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
HEADERS = {"content-type": "text/xml; charset=utf-8", "soapaction": f'"{SOAP_ACTION}"'}


def envelope(
    ids: list[str],
    sections: tuple[str, ...] = ("Summary",),
    user: str = DEFAULT_INSTITUTION,
    password: str = DEFAULT_PASSWORD,
    prolog: str = "",
) -> bytes:
    parties = "".join(f"<cr:PartyId>{i}</cr:PartyId>" for i in ids)
    wanted = "".join(f"<cr:Section>{s}</cr:Section>" for s in sections)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}'
        f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:cr="{NS}" xmlns:wsse="{WSSE}">'
        f"<soap:Header><wsse:Security><wsse:UsernameToken><wsse:Username>{user}</wsse:Username>"
        f"<wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security>"
        f"</soap:Header><soap:Body><cr:GetCreditReports><cr:PartyIds>{parties}</cr:PartyIds>"
        f"<cr:Sections>{wanted}</cr:Sections></cr:GetCreditReports></soap:Body></soap:Envelope>"
    ).encode()


async def post(
    client: httpx.AsyncClient, urls: dict[str, str], body: bytes, **headers: str
) -> httpx.Response:
    return await client.post(
        f"{urls['credit']}/soap/CreditReference", content=body, headers={**HEADERS, **headers}
    )


def fault(response: httpx.Response) -> tuple[str, str, str]:
    """(faultcode, error code, faultstring) of a SOAP Fault answer."""
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    found = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert found is not None, response.text
    return (
        found.findtext("faultcode") or "",
        found.findtext(f"detail/{{{NS}}}ErrorCode") or "",
        found.findtext("faultstring") or "",
    )


# ------------------------------------------------------------------------------ the protocol


async def test_reports_and_missing(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    s = world.scenario
    without = next(p for p in world.persons if p not in world.credit)
    ids = [s["enterprise_uscc"], s["person_id"], without]
    response = await post(client, urls, envelope(ids, ("Summary", "Loans")))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    reply = ET.fromstring(response.content).find(
        f"{{{SOAP_NS}}}Body/{{{NS}}}GetCreditReportsResponse"
    )
    assert reply is not None
    reports = {e.get("partyId"): e for e in reply.iterfind(f"{{{NS}}}CreditReport")}
    assert set(reports) == {s["enterprise_uscc"], s["person_id"]}
    assert [m.get("partyId") for m in reply.iterfind(f"{{{NS}}}Missing")] == [without]
    report = reports[s["enterprise_uscc"]]
    assert report.findtext(f"{{{NS}}}Name") == s["enterprise_name"]
    loans = report.findall(f"{{{NS}}}Loans/{{{NS}}}Loan")
    assert len(loans) == len(world.credit[s["enterprise_uscc"]]["loans"])
    # only the sections asked for: no guarantees, no queries
    assert report.find(f"{{{NS}}}GuaranteesGiven") is None
    assert report.find(f"{{{NS}}}Queries") is None
    assert report.findtext(f"{{{NS}}}Labels/{{{NS}}}LinkedCase") == JOINT_CASE_ID


async def test_a_null_is_nil(client: httpx.AsyncClient, urls: dict[str, str], world: World) -> None:
    party = next(
        p for p, r in world.credit.items() if any(not x["overdue_since"] for x in r["loans"])
    )
    response = await post(client, urls, envelope([party], ("Loans",)))
    assert 'xsi:nil="true"' in response.text


@pytest.mark.parametrize(
    ("user", "password"),
    [(DEFAULT_INSTITUTION, "wrong"), ("B99999999H0001", DEFAULT_PASSWORD), ("", "")],
)
async def test_a_wrong_institution_or_password_is_a_client_fault(
    client: httpx.AsyncClient, urls: dict[str, str], world: World, user: str, password: str
) -> None:
    body = envelope([world.scenario["enterprise_uscc"]], user=user, password=password)
    response = await post(client, urls, body)
    assert response.status_code == 500  # SOAP 1.1: a Fault comes with 500
    code, error, message = fault(response)
    assert (code, error) == ("soap:Client", "ZX0101")
    assert message == "institution authentication failed"  # the same whichever was wrong


async def test_no_token_is_refused(client: httpx.AsyncClient, urls: dict[str, str]) -> None:
    body = envelope(["91110105MA0000000X"]).replace(b"<soap:Header>", b"<soap:Header><x/>")
    stripped = body.split(b"<soap:Header>")[0] + b"<soap:Body>" + body.split(b"<soap:Body>")[1]
    assert fault(await post(client, urls, stripped))[:2] == ("soap:Client", "ZX0101")


# ------------------------------------------------------------------------------ bad input


BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"<soap:Envelope", "ZX0201"),
        (b"not xml at all", "ZX0201"),
        ("<a>\u00e9</a>".encode("latin-1"), "ZX0201"),
        (
            envelope(["x"], prolog=BILLION_LAUGHS).replace(b"<cr:PartyId>x", b"<cr:PartyId>&lol9;"),
            "ZX0202",
        ),
        (
            envelope(["x"], prolog='<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'),
            "ZX0202",
        ),
        (envelope(["x"], prolog="<!doctype d>"), "ZX0202"),
        (b'<?xml version="1.0" encoding="utf-16"?><a/>', "ZX0201"),
        (b"<a/>", "ZX0201"),  # no SOAP envelope
    ],
)
async def test_bad_xml_is_a_client_fault(
    client: httpx.AsyncClient, urls: dict[str, str], body: bytes, error: str
) -> None:
    response = await post(client, urls, body)
    code, found, _ = fault(response)
    assert (code, found) == ("soap:Client", error), response.text


async def test_entity_declarations_are_refused_before_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[bytes] = []
    monkeypatch.setattr(credit.ET, "fromstring", lambda b: parsed.append(b))
    with pytest.raises(credit.CreditFault, match="DOCTYPE"):
        credit.safe_xml(envelope(["x"], prolog=BILLION_LAUGHS))
    assert parsed == []  # the parser never saw it


async def test_bad_party_ids_name_the_position_not_the_value(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    good = world.scenario["enterprise_uscc"]
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")  # wrong check character
    code, error, message = fault(await post(client, urls, envelope([good, bad])))
    assert (code, error) == ("soap:Client", "ZX0301")
    assert "PartyId 2" in message and bad not in message


async def test_too_many_ids(client: httpx.AsyncClient, urls: dict[str, str], world: World) -> None:
    ids = sorted(world.persons)[:101]
    code, error, message = fault(await post(client, urls, envelope(ids)))
    assert (code, error) == ("soap:Client", "ZX0302")
    assert "at most 100" in message


async def test_unknown_section(
    client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    body = envelope([world.scenario["person_id"]], ("Summary", "Salaries"))
    assert fault(await post(client, urls, body))[1] == "ZX0303"


async def test_an_oversized_body_is_refused(
    client: httpx.AsyncClient, urls: dict[str, str]
) -> None:
    body = envelope(["x"]).replace(b"<soap:Body>", b"<soap:Body><!--" + b"x" * 70_000 + b"-->")
    response = await post(client, urls, body)
    assert response.status_code == 413
    assert fault(response)[:2] == ("soap:Client", "ZX0203")


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"soapaction": '"urn:other#Delete"'}, "ZX0304"),
        ({"content-type": "application/json"}, "ZX0201"),
    ],
)
async def test_wrong_headers(
    client: httpx.AsyncClient,
    urls: dict[str, str],
    world: World,
    headers: dict[str, str],
    error: str,
) -> None:
    response = await post(client, urls, envelope([world.scenario["person_id"]]), **headers)
    assert fault(response)[1] == error


async def test_faults_injected_are_server_faults(
    client: httpx.AsyncClient, urls: dict[str, str], clean_faults: dict[str, object], world: World
) -> None:
    clean_faults["credit"].update({"down": True})  # type: ignore[attr-defined]
    response = await post(client, urls, envelope([world.scenario["person_id"]]))
    assert response.status_code == 503
    assert fault(response)[:2] == ("soap:Server", "ZX0901")


# ------------------------------------------------------------------------------ the world


def test_every_enterprise_and_legal_representative_has_a_report(world: World) -> None:
    assert set(world.enterprises) <= set(world.credit)
    assert set(world.enterprises_by_legal_rep) <= set(world.credit)
    persons = sum(1 for p in world.persons if p in world.credit)
    assert 0.4 <= persons / len(world.persons) <= 0.8


def test_reports_are_well_formed(world: World) -> None:
    for party, report in world.credit.items():
        assert report["party_id"] == party
        (check_uscc if report["party_type"] == "enterprise" else check_resident_id)(party)
        for loan in report["loans"]:
            assert len(loan["status_history"]) == HISTORY_MONTHS
            assert set(loan["status_history"]) <= set("N/1234567")
            assert loan["classification"] in CLASSES
            assert (loan["overdue_amount"] > 0) == (loan["overdue_since"] is not None)
            assert loan["opened_on"] < loan["due_on"]
        assert report["total_balance"] == pytest.approx(sum(x["balance"] for x in report["loans"]))
        assert report["handling_code"] in ("H1", "H2") and report["sensitivity"] == 2


def test_guarantees_are_the_same_seen_from_both_sides(world: World) -> None:
    given = {
        (party, g["party_id"], g["loan_id"], g["amount"])
        for party, r in world.credit.items()
        for g in r["guarantees_given"]
    }
    received = {
        (g["party_id"], party, g["loan_id"], g["amount"])
        for party, r in world.credit.items()
        for g in r["guarantees_received"]
    }
    assert given == received and given
    loans = {(p, x["loan_id"]) for p, r in world.credit.items() for x in r["loans"]}
    assert {(borrower, loan) for _, borrower, loan, _ in given} <= loans


def test_the_scenario_tells_its_story(world: World) -> None:
    s = world.scenario
    report = world.credit[s["enterprise_uscc"]]
    before = [x for x in report["loans"] if "2024-09-02" <= x["opened_on"] < "2025-03-01"]
    assert sum(x["amount"] for x in before) >= 10_000_000  # borrowed heavily before
    assert report["overdue_amount"] > 0  # and is overdue after the police case
    guarantors = {g["party_id"] for g in report["guarantees_received"]}
    assert {s["person_id"], s["shell_enterprise_uscc"]} <= guarantors
    shell = world.credit[s["shell_enterprise_uscc"]]
    assert s["accomplice_id"] in {g["party_id"] for g in shell["guarantees_received"]}
    for party in (s["enterprise_uscc"], s["person_id"], s["accomplice_id"]):
        assert JOINT_CASE_ID in world.credit[party]["linked_cases"]
    planted = {(p["kind"], p["subject"]) for p in world.planted if not p["decoy"]}
    assert ("BORROWING_BEFORE_FUNDRAISING", s["enterprise_uscc"]) in planted
    assert ("GUARANTEE_CHAIN", s["accomplice_id"]) in planted


async def test_an_oversized_chunked_body_is_refused(
    client: httpx.AsyncClient, urls: dict[str, str]
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"<!--" + b"x" * 8_000 + b"-->"

    response = await client.post(
        f"{urls['credit']}/soap/CreditReference", content=chunks(), headers=HEADERS
    )
    assert response.status_code == 413
    assert fault(response)[:2] == ("soap:Client", "ZX0203")
