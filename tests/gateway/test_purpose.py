"""The declaration of purpose: what the purpose headers may carry, strictly decoded, and the case
id normalised before it is checked, recorded and searched (gateway/purpose.py)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from gateway.purpose import declare
from kernel.errors import PurposeRequired
from kernel.types import Declaration
from tests.gateway.conftest import Harness, uscc

COURT_CASE = "(2026)京0102执1901号"
COURT_CASE_FULL_WIDTH = "（２０２６）京０１０２执１９０１号"

# header values as Starlette hands them over: raw bytes decoded as Latin-1
BAD_TEXT = {
    "invalid percent-encoding": "%ZZ%",
    "a lone percent sign": "100%",
    "a truncated escape": "abc%4",
    "invalid UTF-8": "%FF%FE",
    "a broken UTF-8 sequence": "%C3%28",
    "an encoded NUL and line feed": "%00%0A",
    "an encoded CR LF": "checked%0D%0AX-Admin: yes",
    "an encoded DEL": "a%7Fb",
    "an encoded C1 control (NEL)": "a%C2%85b",
    "an encoded line separator": "a%E2%80%A8b",
    "an encoded paragraph separator": "a%E2%80%A9b",
    "an encoded right-to-left override": "%E2%80%AEtxt.exe",
    "an encoded bidi isolate": "a%E2%81%A6b",
    "an encoded zero-width space": "a%E2%80%8Bb",
    "an encoded tag character": "a%F3%A0%80%81b",
    "an encoded Hangul filler": quote("a\u3164b"),
    "an encoded halfwidth Hangul filler": quote("a\uffa0b"),
    "an encoded braille blank": quote("a\u2800b"),
    "an encoded combining grapheme joiner": quote("a\u034fb"),
    "an encoded combining strike-through": quote("a\u0336b\u0336c"),
    "an encoded noncharacter U+FFFF": quote("a\uffffb"),
    "an encoded private-use character": quote("a\ue000b"),
    "an encoded unassigned code point": quote("a\u0378b"),
    "a raw tab": "a\tb",
    "raw UTF-8 (mojibake)": "涉嫌非法集资".encode().decode("latin-1"),
    "raw Latin-1": "caf\xe9",
}


JUSTIFICATION = (
    "经侦支队依据《立案决定书》调取涉案企业（统一社会信用代码91350100M000100Y43）账户流水，"
    "核查“分散转入、集中转出”的资金流向；专案组：JIT-2026-001。"
)


def _declare(**headers: str) -> Declaration:
    return declare({"x-purpose": "investigation", "x-case-id": "JIT-2026-001", **headers})


@pytest.mark.parametrize("header", ["X-Justification", "X-Break-Glass"])
@pytest.mark.parametrize("value", BAD_TEXT.values(), ids=list(BAD_TEXT))
def test_free_text_headers_refuse_what_is_not_clean_percent_encoded_text(
    header: str, value: str
) -> None:
    with pytest.raises(PurposeRequired, match=header) as refused:
        _declare(**{header.lower(): value})
    assert value not in refused.value.message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (quote("涉嫌非法吸收公众存款，核查法人"), "涉嫌非法吸收公众存款，核查法人"),
        (quote(JUSTIFICATION), JUSTIFICATION),
        (quote("Vérification du dossier, Tiếng Việt"), "Vérification du dossier, Tiếng Việt"),
        ("lead%2042%20from%20the%20hotline", "lead 42 from the hotline"),
        ("checking lead 42", "checking lead 42"),
        ("100%25 sure", "100% sure"),
        ("  padded  ", "padded"),
        ("", None),
    ],
)
def test_free_text_headers_decode_percent_encoded_utf8(value: str, text: str | None) -> None:
    declaration = _declare(**{"x-justification": value, "x-break-glass": value})
    assert declaration.justification == text
    assert declaration.break_glass == text


@pytest.mark.parametrize(
    "value",
    [
        COURT_CASE,
        COURT_CASE_FULL_WIDTH,
        "（2026）京0102执1901号",
        "(2026)京0102执1901号",
    ],
)
def test_a_case_id_is_normalised_before_it_is_checked(value: str) -> None:
    declaration = _declare(**{"x-case-id": quote(value)})
    assert declaration.case_id == COURT_CASE


@pytest.mark.parametrize(
    "value", ["ＪＩＴ－２０２６－００１", "jit-2026-001", "Jit-2026-001", " JIT-2026-001\u3000"]
)
def test_every_spelling_of_a_team_case_id_is_that_case(value: str) -> None:
    declaration = _declare(**{"x-case-id": quote(value)})
    assert declaration.case_id == "JIT-2026-001"


def test_police_case_numbers_are_upper_case() -> None:
    assert _declare(**{"x-case-id": "j1101052026000123"}).case_id == "J1101052026000123"


BAD_CASE_IDS = {
    "Arabic-Indic digits": quote("J١١٠١٠٥٢٠٢٦٠٠٠١٢٣"),
    "Devanagari digits": quote("JIT-२०२६-००१"),
    "Cyrillic letters that look Latin": quote("JІТ-2026-001"),
    "invalid percent-encoding": "JIT%ZZ2026",
    "invalid UTF-8": "JIT%FF2026",
    "an encoded line feed": "JIT-2026-001%0A",
    "an encoded right-to-left override": "%E2%80%AEJIT-2026-001",
    "raw UTF-8": COURT_CASE.encode().decode("latin-1"),
    "too short": "J7",
    "a space inside": "JIT 2026",
    "U+4E00 for the hyphens": quote("JIT一2026一001"),
    "U+2010 hyphens": quote("JIT‐2026‐001"),
    "a team name, not a case id": "JIT-9",
    "free text": quote("bad case!"),
    "a year far ahead": "JIT-2099-001",
    "made up": "C-1",
}


@pytest.mark.parametrize("value", BAD_CASE_IDS.values(), ids=list(BAD_CASE_IDS))
def test_bad_case_ids_are_refused(value: str) -> None:
    with pytest.raises(PurposeRequired, match="X-Case-Id") as refused:
        _declare(**{"x-case-id": value})
    assert value not in refused.value.message


@pytest.mark.parametrize("value", ["JIT-2026-01", quote("JIT一2026一001"), "C-1"])
def test_a_refused_case_id_is_told_the_accepted_forms(value: str) -> None:
    with pytest.raises(PurposeRequired) as refused:
        _declare(**{"x-case-id": value})
    message = refused.value.message
    assert message.startswith("X-Case-Id is not a valid case id: expected a police case number")
    for example in ("J1101052026000123", "(2024)京01民初123号", "JIT-YYYY-NNN"):
        assert example in message


async def test_refused_text_is_400_purpose_required_with_one_record_and_nothing_stored(
    harness: Harness,
) -> None:
    for header, value in (
        ("x-justification", b"%ZZ%"),
        ("x-justification", b"%00%0A"),
        ("x-justification", "涉嫌非法集资".encode()),
        ("x-case-id", "J١١٠١٠٥٢٠٢٦٠٠٠١٢٣".encode()),
    ):
        headers = [(k.encode(), v.encode()) for k, v in harness.headers().items() if k != header]
        headers.append((header.encode(), value))
        response = await harness.client.post(
            "/graphql", json={"query": "{ __typename }"}, headers=headers
        )
        assert response.status_code == 400, response.text
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "PURPOSE_REQUIRED"}
        assert header.title() in error["message"]
        record = harness.audit.records[-1]
        assert (record.status, record.error_codes) == (400, ["PURPOSE_REQUIRED"])
        assert record.justification is None and record.case_id is None
    assert len(harness.audit.records) == 4
    assert all(not agency.calls for agency in harness.agencies.values())


async def test_the_normalised_case_id_is_what_the_record_holds(harness: Harness) -> None:
    response = await harness.query(
        "{ __typename }", case=quote(COURT_CASE_FULL_WIDTH), purpose="enforcement"
    )
    assert response.status_code == 200, response.text
    assert harness.audit.records[-1].case_id == COURT_CASE


@pytest.mark.parametrize("case", ["jit-2026-001", quote("ＪＩＴ－２０２６－００１")])
async def test_a_team_case_in_another_spelling_is_the_teams_case_everywhere(
    harness: Harness, case: str
) -> None:
    """jit.member is in the team for JIT-2026-001: written in lower case or full width it is the
    same case for the team check as for the record (and so for the audit search)."""
    query = '{ enterprise(uscc: "%s") { bankAccounts { balance } } }' % uscc(2)
    canonical = (await harness.query(query)).json()
    assert "errors" not in canonical, canonical
    other = await harness.query(query, case=case)
    assert other.json() == canonical
    assert [r.case_id for r in harness.audit.records] == ["JIT-2026-001", "JIT-2026-001"]
    assert harness.audit.records[-1].fields_denied == []


async def test_a_look_alike_case_id_is_refused_not_a_case_of_its_own(harness: Harness) -> None:
    response = await harness.query("{ __typename }", case=quote("JIT一2026一001"))
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "PURPOSE_REQUIRED"}
    assert "JIT-YYYY-NNN" in error["message"]
    assert harness.audit.records[-1].case_id is None


@pytest.mark.parametrize(
    ("header", "values"),
    [
        ("x-purpose", ("investigation", "audit")),
        ("x-case-id", ("J1101022026002715", "JIT-2026-001")),
        ("x-case-id", ("JIT-2026-001", "JIT-2026-001")),
        ("x-justification", ("one", "two")),
        ("x-break-glass", ("one", "two")),
    ],
)
async def test_a_declaration_header_sent_twice_is_refused_not_read_once(
    harness: Harness, header: str, values: tuple[str, str]
) -> None:
    """A header sent twice is one value to the gateway (the first) and maybe another to a proxy
    or log before it (the last, or both joined with a comma, which is refused): refused, so that
    what the gateway decided on and what was declared on the way cannot differ."""
    headers = [(k.encode(), v.encode()) for k, v in harness.headers().items() if k != header]
    headers += [(header.encode(), value.encode()) for value in values]
    response = await harness.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers=headers
    )
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "PURPOSE_REQUIRED"}
    assert error["message"] == f"{header.title()} is sent more than once: send it once."
    record = harness.audit.records[-1]
    assert (record.status, record.error_codes) == (400, ["PURPOSE_REQUIRED"])
    assert all(not agency.calls for agency in harness.agencies.values())
