"""Each connector against its sandbox agency over real HTTP: lookups, relations, paging, labels."""

from __future__ import annotations

import httpx
import pytest

from connectors.banking import BankingConnector
from connectors.base import Connector
from connectors.errors import AgencyRejected
from connectors.http import TransportSettings
from sandbox.world import World


async def _stats(urls: dict[str, str], agency: str) -> int:
    async with httpx.AsyncClient() as client:
        count: int = (await client.get(f"{urls[agency]}/_sandbox/stats")).json()["requests"]
        return count


async def test_police_persons_by_id_return_only_the_asked_fields(
    connectors: dict[str, Connector], world: World
) -> None:
    ids = sorted(world.persons)[:3]
    grouped = await connectors["police"].fetch_many("person", "id_number", ids, frozenset({"name"}))
    assert list(grouped) == ids
    for person_id in ids:
        (record,) = grouped[person_id]
        assert record.key == person_id
        assert set(record.data) == {
            "id_number",
            "name",
            "handling_code",
            "sensitivity",
            "linked_cases",
        }
        assert record.data["name"] == world.persons[person_id]["name"]
        assert record.labels.agency == "police"
        assert record.labels.handling == world.persons[person_id]["handling_code"]


async def test_police_splits_long_key_lists_and_pages(
    connectors: dict[str, Connector], world: World, urls: dict[str, str]
) -> None:
    ids = sorted(world.persons)[:250]
    before = await _stats(urls, "police")
    grouped = await connectors["police"].fetch_many(
        "person", "id_number", ids, frozenset({"gender"})
    )
    assert all(len(grouped[i]) == 1 for i in ids)
    assert await _stats(urls, "police") - before == 3  # 100 keys per call


async def test_police_cases_by_suspect_and_by_enterprise(
    connectors: dict[str, Connector], world: World
) -> None:
    scenario = world.scenario
    by_suspect = await connectors["police"].fetch_many(
        "case",
        "suspect_ids",
        [scenario["person_id"]],
        frozenset({"charge", "frozen_assets.measure"}),
    )
    (case,) = [
        r for r in by_suspect[scenario["person_id"]] if r.key == scenario["police_case_number"]
    ]
    assert case.data["charge"] == "非法吸收公众存款"
    assert "JIT-2026-001" in case.labels.cases
    assert all(set(a) == {"measure"} for a in case.data["frozen_assets"])
    by_enterprise = await connectors["police"].fetch_many(
        "case", "enterprise_ids", [scenario["enterprise_uscc"]], frozenset({"status"})
    )
    assert scenario["police_case_number"] in {
        r.key for r in by_enterprise[scenario["enterprise_uscc"]]
    }


async def test_market_enterprises_by_uscc_and_legal_rep_and_search(
    connectors: dict[str, Connector], world: World
) -> None:
    scenario = world.scenario
    uscc = scenario["enterprise_uscc"]
    grouped = await connectors["market"].fetch_many(
        "enterprise", "uscc", [uscc], frozenset({"name", "abnormal_operations.reason"})
    )
    (record,) = grouped[uscc]
    assert record.data["name"] == scenario["enterprise_name"]
    assert record.data["abnormal_operations"] and all(
        set(a) == {"reason"} for a in record.data["abnormal_operations"]
    )
    by_rep = await connectors["market"].fetch_many(
        "enterprise", "legal_rep_id", [scenario["person_id"]], frozenset({"name"})
    )
    assert uscc in {r.key for r in by_rep[scenario["person_id"]]}
    first = await connectors["market"].search(
        "enterprise", "有限公司", frozenset({"name"}), 5, None
    )
    assert len(first.records) == 5 and first.next_cursor and first.total and first.total > 5
    second = await connectors["market"].search(
        "enterprise", "有限公司", frozenset({"name"}), 5, first.next_cursor
    )
    assert not {r.key for r in first.records} & {r.key for r in second.records}


async def test_banking_signed_batch_lookups(connectors: dict[str, Connector], world: World) -> None:
    scenario = world.scenario
    uscc, account = scenario["enterprise_uscc"], scenario["account_number"]
    accounts = await connectors["banking"].fetch_many(
        "account", "holder_id", [uscc], frozenset({"bank", "balance"})
    )
    assert account in {r.key for r in accounts[uscc]}
    txs = await connectors["banking"].fetch_many(
        "transaction", "account_number", [account], frozenset({"amount", "direction"}), 30
    )
    assert len(txs[account]) == 30
    reports = await connectors["banking"].fetch_many(
        "report", "account_number", [account], frozenset({"pattern"})
    )
    assert any("分散转入" in r.data["pattern"] for r in reports[account])


async def test_banking_refuses_a_wrong_key(urls: dict[str, str], world: World) -> None:
    wrong = BankingConnector(TransportSettings(urls["banking"]), "jointgate", b"not-the-key")
    try:
        with pytest.raises(AgencyRejected) as caught:
            await wrong.fetch_many(
                "account", "number", [world.scenario["account_number"]], frozenset({"bank"})
            )
        assert caught.value.status == 401
    finally:
        await wrong.aclose()


async def test_courts_entities_by_case_number_and_by_party(
    connectors: dict[str, Connector], world: World
) -> None:
    scenario = world.scenario
    numbers = scenario["court_case_numbers"]
    grouped = await connectors["courts"].fetch_many(
        "court_case", "case_number", numbers, frozenset({"cause_of_action", "parties.name"})
    )
    for number in numbers:
        (record,) = grouped[number]
        assert record.data["cause_of_action"]
        assert all(set(p) == {"name"} for p in record.data["parties"])
        assert record.labels.agency == "courts"
    by_party = await connectors["courts"].fetch_many(
        "court_case", "party_ids", [scenario["enterprise_uscc"]], frozenset({"stage"})
    )
    assert set(numbers) <= {r.key for r in by_party[scenario["enterprise_uscc"]]}
    defaulter = await connectors["courts"].fetch_many(
        "defaulter", "party_id", [scenario["enterprise_uscc"]], frozenset()
    )
    assert len(defaulter[scenario["enterprise_uscc"]]) <= 1


async def test_unknown_keys_map_to_empty_lists(connectors: dict[str, Connector]) -> None:
    grouped = await connectors["police"].fetch_many(
        "person", "id_number", ["11010519491231002X"], frozenset({"name"})
    )
    assert grouped == {"11010519491231002X": []}


async def test_courts_cases_by_number_keep_order_and_leave_unknown_ones_empty(
    connectors: dict[str, Connector], world: World
) -> None:
    """Cases by number go through the subgraph's ``courtCases`` list field: unknown numbers
    (null there) become empty lists, known ones their record, whatever the order asked."""
    known = sorted(world.court_cases)[:3]
    unknown = "(2019)京0105民初99999号"
    assert unknown not in world.court_cases
    asked = [known[2], unknown, known[0], known[1]]
    grouped = await connectors["courts"].fetch_many(
        "court_case", "case_number", asked, frozenset({"stage"})
    )
    assert list(grouped) == asked
    assert grouped[unknown] == []
    for number in known:
        (record,) = grouped[number]
        assert record.key == number and record.data["stage"]
