"""A joint team's grant covers its case's subjects and what links to them, not the world
(issue 17, "Teams are scoped to their cases"; docs/policies.md, "Team scope").

The gateway runs over the sandbox world (connectors in memory). jit.member is in the demo team
for JIT-2026-001; the case's subjects are set as the case registry would give them. The
enterprises used are random ones, not the demo scenario's (whose records the agencies label
with the case, which puts them in the scope by their labels alone).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kernel.identifiers import luhn_check_digit
from policies.teams import TeamStore
from sandbox.memory import memory_connectors
from sandbox.world import World, generate
from tests.gateway.conftest import Harness, open_harness

CASE = "JIT-2026-001"
NOT_AVAILABLE = "Not available for your access rights and declared purpose."


@pytest.fixture(scope="module")
def world() -> World:
    return generate(0.02)


def _unlinked(world: World, uscc: str) -> bool:
    """An enterprise none of whose own, representative's or accounts' records the agencies
    link to the team's case."""
    enterprise = world.enterprises[uscc]
    records = [enterprise, world.persons.get(enterprise.get("legal_rep_id") or "", {})]
    records += [world.accounts[n] for n in world.accounts_by_holder.get(uscc, ())]
    return all(CASE not in r.get("linked_cases", ()) for r in records)


@pytest.fixture(scope="module")
def chosen(world: World) -> dict[str, Any]:
    """Three random enterprises with accounts and a legal representative on record: the
    case's subject, another one, and one more for record-level rules."""
    found = [
        uscc
        for uscc, e in sorted(world.enterprises.items())
        if world.accounts_by_holder.get(uscc)
        and e.get("legal_rep_id") in world.persons
        and _unlinked(world, uscc)
        and uscc != world.scenario["enterprise_uscc"]
    ]
    subject, other, third = found[:3]
    return {
        "subject": subject,
        "other": other,
        "third": third,
        "rep": world.enterprises[subject]["legal_rep_id"],
        "other_rep": world.enterprises[other]["legal_rep_id"],
        "account": world.accounts_by_holder[subject][0],
        "other_account": world.accounts_by_holder[other][0],
    }


@pytest.fixture
async def harness(tmp_path: Path, world: World, chosen: dict[str, Any]) -> AsyncIterator[Harness]:
    connectors: Any = memory_connectors(world)
    subjects = frozenset({chosen["subject"]})
    async with open_harness(tmp_path, connectors=connectors, subjects=subjects) as opened:
        yield opened


def _errors(body: dict[str, Any]) -> list[tuple[list[Any], str]]:
    return [(e["path"], e["extensions"]["code"]) for e in body.get("errors", ())]


async def test_a_subjects_accounts_balances_are_read(
    harness: Harness, chosen: dict[str, Any]
) -> None:
    query = '{ enterprise(uscc: "%s") { name bankAccounts { number balance } } }'
    body = (await harness.query(query % chosen["subject"])).json()
    assert "errors" not in body, body
    accounts = body["data"]["enterprise"]["bankAccounts"]
    assert accounts and all(isinstance(a["balance"], float | int) for a in accounts)
    assert chosen["account"] in {a["number"] for a in accounts}


async def test_an_enterprise_outside_the_case_is_answered_as_for_a_non_member(
    harness: Harness, chosen: dict[str, Any]
) -> None:
    query = '{ enterprise(uscc: "%s") { name bankAccounts { number balance } } }'
    body = (await harness.query(query % chosen["other"])).json()
    # registry data is for every member; the accounts only for the team, about its case
    assert body["data"] == {"enterprise": {"name": body["data"]["enterprise"]["name"],
                                           "bankAccounts": None}}  # fmt: skip
    assert body["data"]["enterprise"]["name"]
    assert _errors(body) == [(["enterprise", "bankAccounts"], "FORBIDDEN_FIELD")]
    assert body["errors"][0]["message"] == NOT_AVAILABLE
    assert harness.agencies["banking"].calls == []  # the link is not followed
    record = harness.audit.records[-1]
    assert record.fields_withheld == ["enterprise.bankAccounts"]
    assert record.field_policies["enterprise.bankAccounts"][-1] == "default-deny"
    assert "joint-team-investigation" in record.field_policies["enterprise.bankAccounts"]
    # (a caller who is in no team does not have the field in its schema at all: the member
    # has, and gets the answer a field denied for this record gets)


async def test_the_balance_of_an_account_outside_the_case_is_not_available(
    harness: Harness, chosen: dict[str, Any], world: World
) -> None:
    query = '{ bankAccount(number: "%s") { number balance } }'
    inside = (await harness.query(query % chosen["account"])).json()
    assert "errors" not in inside, inside
    assert inside["data"]["bankAccount"]["number"] == chosen["account"]
    outside = await harness.query(query % chosen["other_account"])
    # answered as an account that does not exist: the team learns nothing of it
    absent = await harness.query(query % _absent_account(world))
    assert outside.json() == absent.json()
    assert _errors(outside.json()) == [(["bankAccount"], "FORBIDDEN_FIELD")]
    assert harness.audit.records[-2].records_withheld == {"BankAccount": 1}
    assert harness.audit.records[-2].fields_withheld == ["bankAccount"]
    assert "BankAccount" not in harness.audit.records[-2].records_returned
    # and a list lookup leaves it out
    both = '{ bankAccounts(numbers: ["%s", "%s"]) { number balance } }'
    body = (await harness.query(both % (chosen["account"], chosen["other_account"]))).json()
    assert [a["number"] for a in body["data"]["bankAccounts"]] == [chosen["account"]]


def _absent_account(world: World) -> str:
    n = 0
    while True:
        body = f"62220299{n:010d}"
        number = body + luhn_check_digit(body)
        if number not in world.accounts:
            return number
        n += 1


async def test_the_legal_representative_reached_through_the_subject_is_in_scope(
    harness: Harness, chosen: dict[str, Any]
) -> None:
    """bank.analyst, as a member of the team, reads the subject's legal representative as the
    team grant allows; the same person looked up directly is outside the scope (not a subject
    itself), and so is another enterprise's representative."""
    TeamStore(harness.gateway.governance).add_member(CASE, "bank.analyst")
    person = "{ idNumber name birthDate }"
    through = '{ enterprise(uscc: "%s") { legalRepresentative %s } }'
    body = (await harness.query(through % (chosen["subject"], person), user="bank.analyst")).json()
    assert "errors" not in body, body
    rep = body["data"]["enterprise"]["legalRepresentative"]
    assert rep["idNumber"] == chosen["rep"] and rep["birthDate"]
    assert harness.audit.records[-1].fields_withheld == []
    other = (await harness.query(through % (chosen["other"], person), user="bank.analyst")).json()
    directly = '{ person(idNumber: "%s") %s }'
    alone = (await harness.query(directly % (chosen["rep"], person), user="bank.analyst")).json()
    for outside, path in ((other, ["enterprise", "legalRepresentative"]), (alone, ["person"])):
        assert "birthDate" not in str(outside.get("data")) or _birth_dates(outside) == [None]
        assert _errors(outside), outside
        assert all(code == "FORBIDDEN_FIELD" for _, code in _errors(outside))
        assert all(p[: len(path)] == path for p, _ in _errors(outside))


def _birth_dates(body: dict[str, Any]) -> list[Any]:
    found = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "birthDate" in value:
                found.append(value["birthDate"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(body.get("data"))
    return found


async def test_a_subjects_representatives_own_accounts_are_not_in_scope(
    harness: Harness, chosen: dict[str, Any]
) -> None:
    """Scope is not transitive: the representative is in it through the subject, the
    representative's own accounts are not (not a subject's, not linked)."""
    query = '{ enterprise(uscc: "%s") { legalRepresentative { bankAccounts { balance } } } }'
    body = (await harness.query(query % chosen["subject"])).json()
    rep = body["data"]["enterprise"]["legalRepresentative"]
    assert rep["bankAccounts"] == []
    assert "errors" not in body
    # looked up directly, the representative is outside the scope: the link is not followed
    direct = '{ person(idNumber: "%s") { bankAccounts { balance } } }' % chosen["rep"]
    body = (await harness.query(direct)).json()
    assert _errors(body) == [(["person", "bankAccounts"], "FORBIDDEN_FIELD")]


async def test_an_h3_record_linked_to_no_subject_is_hidden(
    harness: Harness, chosen: dict[str, Any], world: World
) -> None:
    """H3 records are for their agency, a team whose case's scope holds them, or break-glass."""
    world.enterprises[chosen["third"]]["handling_code"] = "H3"
    world.enterprises[chosen["subject"]]["handling_code"] = "H3"
    try:
        query = '{ enterprise(uscc: "%s") { name } }'
        hidden = (await harness.query(query % chosen["third"])).json()
        assert hidden["data"] == {"enterprise": None}
        assert _errors(hidden) == [(["enterprise"], "FORBIDDEN_FIELD")]
        assert harness.audit.records[-1].records_withheld == {"Enterprise": 1}
        shown = (await harness.query(query % chosen["subject"])).json()
        assert shown["data"]["enterprise"]["name"] == world.enterprises[chosen["subject"]]["name"]
    finally:
        world.enterprises[chosen["third"]]["handling_code"] = "H0"
        world.enterprises[chosen["subject"]]["handling_code"] = "H0"


async def test_records_labelled_with_the_case_stay_in_scope(harness: Harness, world: World) -> None:
    """The demo scenario's records are labelled with the case by their agencies: in scope
    without being registered as subjects."""
    harness.subjects = frozenset()
    scenario = world.scenario
    query = '{ enterprise(uscc: "%s") { bankAccounts { number balance } } }'
    body = (await harness.query(query % scenario["enterprise_uscc"])).json()
    assert "errors" not in body, body
    numbers = {a["number"] for a in body["data"]["enterprise"]["bankAccounts"]}
    assert scenario["account_number"] in numbers


async def test_without_subjects_a_team_request_covers_only_labelled_records(
    harness: Harness, chosen: dict[str, Any]
) -> None:
    """A team request the gateway gives no subjects (none registered) is scoped to the
    records labelled with the case: deny by default."""
    harness.subjects = None  # as the gateway gives them: none in this branch's pipeline
    query = '{ enterprise(uscc: "%s") { bankAccounts { balance } } }'
    body = (await harness.query(query % chosen["subject"])).json()
    assert _errors(body) == [(["enterprise", "bankAccounts"], "FORBIDDEN_FIELD")]


async def test_what_records_outside_the_scope_withhold_or_mask_is_audited(
    harness: Harness, chosen: dict[str, Any]
) -> None:
    """market.officer in the team: account numbers in clear for the subject's accounts,
    masked (as without the team) for another enterprise's; the audit record says both."""
    TeamStore(harness.gateway.governance).add_member(CASE, "market.officer")
    query = '{ enterprisesByUscc(usccs: ["%s", "%s"]) { uscc bankAccounts { number } } }'
    body = await harness.query(query % (chosen["subject"], chosen["other"]), user="market.officer")
    found = {e["uscc"]: e["bankAccounts"] for e in body.json()["data"]["enterprisesByUscc"]}
    assert chosen["account"] in {a["number"] for a in found[chosen["subject"]]}
    masked = [a["number"] for a in found[chosen["other"]]]
    assert masked and all("*" in n for n in masked)
    assert chosen["other_account"] not in masked
    record = harness.audit.records[-1]
    path = "enterprisesByUscc.bankAccounts.number"
    assert path in record.fields_allowed and path in record.fields_masked
    # a field the team grant allows and a record outside withholds: withheld at its path
    opened = '{ enterprisesByUscc(usccs: ["%s", "%s"]) { bankAccounts { openedOn } } }'
    answer = await harness.query(
        opened % (chosen["subject"], chosen["other"]), user="market.officer"
    )
    errors = _errors(answer.json())
    assert errors and all(code == "FORBIDDEN_FIELD" for _, code in errors)
    assert {tuple(p[:1]) + tuple(p[2:3]) for p, _ in errors} == {
        ("enterprisesByUscc", "bankAccounts")
    }
    record = harness.audit.records[-1]
    assert record.fields_withheld == ["enterprisesByUscc.bankAccounts.openedOn"]
    policies = record.field_policies["enterprisesByUscc.bankAccounts.openedOn"]
    assert policies[0] == "joint-team-investigation" and policies[-1] == "default-deny"
