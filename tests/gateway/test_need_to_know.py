"""Need-to-know end to end with the default policy set: allow, mask, deny, records, teams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policies.review import ReviewQueue
from policies.teams import TeamStore
from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc

NOT_AVAILABLE = {
    "message": "Not available for your access rights and declared purpose.",
    "extensions": {"code": "FORBIDDEN_FIELD"},
}


def errors_at(body: dict[str, Any]) -> dict[tuple[object, ...], dict[str, Any]]:
    return {tuple(e["path"]): e for e in body.get("errors", [])}


async def test_market_officer_sees_registry_and_masked_account_numbers(harness: Harness) -> None:
    # holders' names only for monitoring (masked): denied while investigating
    query = (
        '{ enterprise(uscc: "%s") { name status bankAccounts { number bank holderName } } }'
        % uscc(3)
    )
    body = (await harness.query(query, user="market.officer", case="J1101052026000003")).json()
    enterprise = body["data"]["enterprise"]
    assert enterprise["name"] == "测试3号财富管理有限公司"
    (account,) = enterprise["bankAccounts"]
    assert account == {"number": "**** " + card(3)[-4:], "bank": "中国工商银行", "holderName": None}
    error = errors_at(body)[("enterprise", "bankAccounts", 0, "holderName")]
    assert {k: error[k] for k in ("message", "extensions")} == NOT_AVAILABLE
    # the holder's name was never asked of the banking system
    assert [c[3] for c in harness.agencies["banking"].calls] == [frozenset({"number", "bank"})]
    record = harness.audit.records[-1]
    assert record.fields_masked == ["enterprise.bankAccounts.number"]
    assert record.fields_denied == ["enterprise.bankAccounts.holderName"]
    assert "enterprise.name" in record.fields_allowed
    # the balance no purpose of the officer's shows is not in its schema at all
    balance = query.replace("holderName", "balance")
    refused = await harness.query(balance, user="market.officer", purpose="supervision", case=None)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == (
        "Cannot query field 'balance' on type 'BankAccount'."
    )


async def test_banking_regulator_sees_persons_masked_for_supervision(harness: Harness) -> None:
    query = '{ enterprise(uscc: "%s") { legalRepresentative { idNumber name } } }' % uscc(3)
    body = (
        await harness.query(query, user="bank.analyst", purpose="supervision", case=None)
    ).json()
    person = body["data"]["enterprise"]["legalRepresentative"]
    rid = resident_id(3)
    assert person == {"idNumber": rid[:6] + "********" + rid[-4:], "name": "法**"}
    assert "errors" not in body


async def test_a_record_above_clearance_is_indistinguishable_from_a_missing_one(
    harness: Harness,
) -> None:
    for row in harness.agencies["market"]._records["enterprise"]:  # type: ignore[attr-defined]
        if row["uscc"] == uscc(7):
            row.update(handling_code="H2", sensitivity=3)  # above the court clerk's clearance 2
    query = "query($u: USCC!) { enterprise(uscc: $u) { name } }"
    hidden = await harness.query(
        query, {"u": uscc(7)}, user="court.clerk", purpose="supervision", case=None
    )
    missing = await harness.query(
        query, {"u": uscc(99)}, user="court.clerk", purpose="supervision", case=None
    )
    assert hidden.status_code == missing.status_code == 200
    assert hidden.content == missing.content
    assert hidden.json() == {
        "data": {"enterprise": None},
        "errors": [
            {**NOT_AVAILABLE, "path": ["enterprise"], "locations": [{"line": 1, "column": 20}]}
        ],
    }
    assert harness.audit.records[-2].records_withheld == {"Enterprise": 1}
    assert harness.audit.records[-1].records_withheld == {}


async def test_records_a_caller_may_not_see_are_left_out_of_lists(harness: Harness) -> None:
    banking = harness.agencies["banking"]
    rows = banking._records["transaction"]  # type: ignore[attr-defined]
    for row in rows:
        if row["id"] == "T3-1":
            row["handling_code"] = "H3"
    accounts = banking._records["account"]  # type: ignore[attr-defined]
    accounts.append({**accounts[3], "number": card(90), "handling_code": "H3"})
    query = '{ enterprise(uscc: "%s") { bankAccounts { transactions { id } } } }' % uscc(3)
    visible = (await harness.query(query, user="police.investigator", case="J1101052026000003",
                                   **{"x-break-glass": "suspect fleeing"})).json()  # fmt: skip
    assert "errors" in visible  # police.investigator has no emergency role: no break-glass
    # H3 is for its agency, a team whose case's scope holds it, or break-glass: the record is
    # part of an account held by the case's subject (docs/policies.md, "Team scope")
    harness.subjects = frozenset({uscc(3)})
    team = (await harness.query(query)).json()
    ids = [t["id"] for t in team["data"]["enterprise"]["bankAccounts"][0]["transactions"]]
    assert ids == ["T3-0", "T3-1", "T3-2"]
    assert harness.audit.records[-1].records_withheld == {}
    # market regulators may learn that accounts exist, H3 ones excepted: left out of the list
    listed = '{ enterprise(uscc: "%s") { bankAccounts { bank } } }' % uscc(3)
    market = await harness.query(listed, user="market.officer", purpose="supervision", case=None)
    assert market.json()["data"]["enterprise"]["bankAccounts"] == [{"bank": "中国工商银行"}]
    assert harness.audit.records[-1].records_withheld == {"BankAccount": 1}


async def test_police_outside_a_team_see_police_data_but_not_bank_data(harness: Harness) -> None:
    query = """{ enterprise(uscc: "%s") { name policeCases { caseNumber charge summary } } }"""
    body = (
        await harness.query(query % uscc(5), user="police.investigator", case="J1101052026000005")
    ).json()
    enterprise = body["data"]["enterprise"]
    assert (
        enterprise["policeCases"][0]["summary"] is None or "summary" in enterprise["policeCases"][0]
    )
    assert "errors" not in body
    # bank data no declaration of theirs shows: not in their schema
    banking = '{ enterprise(uscc: "%s") { bankAccounts { balance } } }' % uscc(5)
    refused = await harness.query(banking, user="police.investigator", case="J1101052026000005")
    assert refused.status_code == 400
    # a court clerk may see accounts when enforcing a judgment, not for supervision
    body = (
        await harness.query(banking, user="court.clerk", purpose="supervision", case=None)
    ).json()
    assert body["data"] == {"enterprise": {"bankAccounts": None}}
    assert set(errors_at(body)) == {("enterprise", "bankAccounts")}
    assert harness.agencies["banking"].calls == []  # a denied link is never followed


async def test_team_membership_counts_only_for_the_teams_cases_and_while_valid(
    tmp_path: Path,
) -> None:
    query = '{ enterprise(uscc: "%s") { bankAccounts { balance } } }' % uscc(2)
    async with open_harness(tmp_path) as harness:
        ok = (await harness.query(query)).json()
        assert "errors" not in ok
        other_case = (await harness.query(query, case="J1101052026000002")).json()
        assert set(errors_at(other_case)) == {("enterprise", "bankAccounts")}
        teams = TeamStore(harness.gateway.governance)
        # jit.member declares JIT-2026-001 through the team only: out of it, the case is no
        # longer one it may declare, and nothing is asked
        teams.remove_member("JIT-2026-001", "jit.member")
        removed = await harness.query(query)
        assert removed.status_code == 403
        assert removed.json()["errors"][0]["extensions"]["code"] == "CASE_NOT_ASSIGNED"
        # and out of every team, bank data is not even in its schema (with a case of its own)
        unknown = "Cannot query field 'bankAccounts' on type 'Enterprise'."
        outside = (await harness.query(query, case="J1101052026000002")).json()
        assert [e["message"] for e in outside["errors"]] == [unknown]
        teams.add_member("JIT-2026-001", "jit.member")
        assert "errors" not in (await harness.query(query)).json()
        teams.close("JIT-2026-001")
        closed = await harness.query(query)
        assert closed.json()["errors"][0]["extensions"]["code"] == "CASE_NOT_ASSIGNED"


async def test_reject_mode_refuses_the_whole_operation(tmp_path: Path) -> None:
    async with open_harness(tmp_path, policy_mode="reject") as harness:
        query = '{ enterprise(uscc: "%s") { name bankAccounts { holderName } } }' % uscc(2)
        response = await harness.query(query, user="market.officer", case="J1101052026000002")
        assert response.status_code == 403
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "FORBIDDEN_FIELD"
        assert "enterprise.bankAccounts.holderName" in error["message"]
        assert all(not a.calls for a in harness.agencies.values())
        assert harness.audit.records[-1].status == 403


async def test_break_glass_is_allowed_by_policy_flagged_and_queued(harness: Harness) -> None:
    query = '{ enterprise(uscc: "%s") { bankAccounts { balance } } }' % uscc(4)
    body = (await harness.query(query, user="duty.officer", case="J1101052026000004",
                                **{"x-break-glass": "suspect%20about%20to%20move%20funds"})).json()  # fmt: skip
    assert body["data"]["enterprise"]["bankAccounts"] == [{"balance": 4000.0}]
    record = harness.audit.records[-1]
    assert record.break_glass and "break-glass" in record.flags
    (pending,) = ReviewQueue(harness.gateway.governance).pending()
    assert pending.subject == "duty.officer" and pending.reason == "suspect about to move funds"
    assert pending.request_id == record.request_id
    assert "enterprise.bankAccounts.balance" in pending.fields
    without = (await harness.query(query, user="duty.officer", case="J1101052026000004")).json()
    assert set(errors_at(without)) == {("enterprise", "bankAccounts")}


async def test_the_audit_purpose_is_for_auditors_only(harness: Harness) -> None:
    body = (await harness.query('{ enterprise(uscc: "%s") { name } }' % uscc(1),
                                user="police.investigator", purpose="audit", case=None)).json()  # fmt: skip
    assert body["data"] == {"enterprise": None}
    assert harness.audit.records[-1].fields_denied == ["enterprise", "enterprise.name"]


async def test_a_value_a_record_rule_withheld_is_recorded_as_withheld_with_that_rule(
    harness: Harness,
) -> None:
    """The field policy allowed ``legalRepresentative``, the record-level rules hid the person
    (above the officer's clearance): the client got FORBIDDEN_FIELD, and the audit record says
    so, at that path (aliases resolved), citing the record rule after the field's policies."""
    query = '{ e: enterprise(uscc: "%s") { rep: legalRepresentative { idNumber } } }' % uscc(3)
    body = (await harness.query(query, user="market.officer", purpose="supervision",
                                case=None)).json()  # fmt: skip
    assert body["data"] == {"e": {"rep": None}}
    assert {k: v for k, v in errors_at(body)[("e", "rep")].items() if k != "locations"} == {
        **NOT_AVAILABLE, "path": ["e", "rep"],
    }  # fmt: skip
    record = harness.audit.records[-1]
    assert record.records_withheld == {"Person": 1}
    path = "enterprise.legalRepresentative"
    assert record.fields_withheld == [path]
    assert path in record.fields_allowed  # what the field policy decided, before any record
    assert record.field_policies[path] == ("legal-representative-for-monitoring", "default-deny")


async def test_records_left_out_of_a_list_are_withheld_at_its_path(harness: Harness) -> None:
    accounts = harness.agencies["banking"]._records["account"]  # type: ignore[attr-defined]
    accounts.append({**accounts[3], "number": card(90), "handling_code": "H3"})
    query = '{ enterprise(uscc: "%s") { bankAccounts { bank } } }' % uscc(3)
    # market regulators learn that accounts exist, H3 ones excepted
    await harness.query(query, user="market.officer", purpose="supervision", case=None)
    record = harness.audit.records[-1]
    assert record.records_withheld == {"BankAccount": 1}
    assert record.fields_withheld == ["enterprise.bankAccounts"]
    # a record that does not exist is not withheld
    await harness.query('{ enterprise(uscc: "%s") { name } }' % uscc(99))
    assert harness.audit.records[-1].fields_withheld == []
