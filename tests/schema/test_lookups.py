"""Root lookups by a list of identifiers: one agency call, input order, nothing revealed about
the identifiers that found nothing."""

from __future__ import annotations

from pathlib import Path

from schema.loaders import MAX_LOOKUP_KEYS
from tests.gateway.conftest import open_harness, uscc

CASES = "query($n: [CourtCaseNumber!]!) { courtCases(caseNumbers: $n) { caseNumber court } }"


async def test_a_list_lookup_is_one_call_in_the_order_given(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as harness:
        wanted = [
            "(2025)京01民初3号",
            "(2025)京01民初99号",
            "(2025)京01民初1号",
            "(2025)京01民初3号",
        ]
        response = await harness.query(CASES, {"n": wanted})
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body
        assert [c["caseNumber"] for c in body["data"]["courtCases"]] == [
            "(2025)京01民初3号",
            "(2025)京01民初1号",
        ]  # the unknown one is left out, the repeated one shown once
        # the parties come along in a team's request: they place a case in its scope
        fields = frozenset({"case_number", "court", "parties.party_id"})
        assert harness.agencies["courts"].calls == [("court_case", "case_number", 3, fields)]
        assert harness.audit.records[-1].records_returned["CourtCase"] == {
            "(2025)京01民初1号",
            "(2025)京01民初3号",
        }


async def test_every_identifier_is_checked_before_any_agency_is_asked(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as harness:
        good, bad = uscc(1), uscc(2)[:-1] + ("0" if uscc(2)[-1] != "0" else "1")
        query = "query($u: [USCC!]!) { enterprisesByUscc(usccs: $u) { name } }"
        response = await harness.query(query, {"u": [good, bad]})
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["identifier"] == "unified social credit code"
        assert not harness.agencies["market"].calls


async def test_too_many_identifiers_are_refused(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as harness:
        numbers = [f"(2025)京01民初{i + 1}号" for i in range(MAX_LOOKUP_KEYS + 1)]
        response = await harness.query(CASES, {"n": numbers})
        body = response.json()
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"] == f"At most {MAX_LOOKUP_KEYS} identifiers in one lookup, got 101."
        assert error["path"] == ["courtCases"] and body["data"] == {"courtCases": None}
        assert not harness.agencies["courts"].calls


async def test_the_estimated_cost_counts_the_identifiers_given(tmp_path: Path) -> None:
    from gateway.limits_settings import QueryLimits

    async with open_harness(tmp_path, limits=QueryLimits(max_cost=40)) as harness:
        numbers = ", ".join(f'"(2025)京01民初{i + 1}号"' for i in range(12))
        query = "{ courtCases(caseNumbers: [%s]) { caseNumber court parties { name } } }" % numbers
        refused = (await harness.query(query)).json()
        assert refused["errors"][0]["extensions"] == {
            "code": "QUERY_TOO_COMPLEX",
            "limit": "max_cost",
        }
        small = query.replace(numbers, '"(2025)京01民初1号"')
        assert "errors" not in (await harness.query(small)).json()


async def test_identifiers_in_other_scripts_digits_are_refused_before_any_agency_is_asked(
    tmp_path: Path,
) -> None:
    from tests.gateway.conftest import resident_id

    arabic_indic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    async with open_harness(tmp_path) as harness:
        for query, variables, agency in (
            ("query($i: ResidentID!) { person(idNumber: $i) { name } }",
             {"i": resident_id(1).translate(arabic_indic)}, "police"),
            (CASES, {"n": ["(2025)京01民初3号".translate(arabic_indic)]}, "courts"),
        ):  # fmt: skip
            response = await harness.query(query, variables)
            [error] = response.json()["errors"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT", response.text
            assert not harness.agencies[agency].calls


async def test_a_full_width_court_case_number_is_asked_for_in_ascii(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as harness:
        response = await harness.query(CASES, {"n": ["（２０２５）京０１民初３号"]})
        assert response.json() == {
            "data": {
                "courtCases": [
                    {"caseNumber": "(2025)京01民初3号", "court": "北京市第一中级人民法院"}
                ]
            }
        }
