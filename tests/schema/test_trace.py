"""``Query.traceFunds`` through the whole gateway (schema/trace.py, docs/signals.md "Fund
tracing"): agency calls per hop, need-to-know per hop for the demo users, the caps, the audit
record and the volume caps, bad input. The gateway runs over the session's sandbox world, in
process (the double, whose calls are counted) and once over real HTTP."""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.log import MemoryAuditLog
from commands.demo import prepare
from connectors.registry import AgencySettings
from gateway.app import build_gateway, create_app
from gateway.ratelimit_settings import RateLimits
from gateway.settings import Settings
from kernel.identifiers import luhn_check_digit
from policies.engine import DEFAULT_DIR
from sandbox.banking import DEFAULT_KEY
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, mint_token
from sandbox.memory import MemoryBanking, memory_connectors
from sandbox.world import World
from signals.settings import SignalSettings
from tests.gateway.conftest import Harness, open_harness

TRACE = """query($a: AccountNumber!, $d: FlowDirection!, $h: Int!, $m: Float!) {
  traceFunds(account: $a, direction: $d, hops: $h, minAmount: $m) {
    hopsFollowed truncated
    nodes { accountNumber hop status account { number bank } }
    edges { from to direction amount count first last } } }"""
CASE = "JIT-2026-001"
POLICE_CASE = "J1101052026000001"
BANK = {"user": "bank.analyst", "purpose": "supervision", "case": None}
TEAM = {"user": "jit.member", "purpose": "investigation", "case": CASE}


def _vars(account: str, direction: str = "OUT", hops: int = 2, least: float = 0.0) -> Any:
    return {"a": account, "d": direction, "h": hops, "m": least}


@pytest.fixture
async def harness(tmp_path: Path, world: World) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path, connectors=memory_connectors(world)) as opened:  # type: ignore[arg-type]
        yield opened


def _banking(harness: Harness) -> MemoryBanking:
    banking = harness.agencies["banking"]
    assert isinstance(banking, MemoryBanking)
    return banking


async def _trace(harness: Harness, variables: Any, who: dict[str, Any]) -> dict[str, Any]:
    response = await harness.query(TRACE, variables, **who)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    trace: dict[str, Any] = body["data"]["traceFunds"]
    return trace


def _statuses(trace: dict[str, Any]) -> Counter[str]:
    return Counter(n["status"] for n in trace["nodes"])


async def test_agency_calls_grow_with_hops_and_banks_not_with_accounts(
    harness: Harness, world: World
) -> None:
    banking = _banking(harness)
    root = world.scenario["account_number"]
    trace = await _trace(harness, _vars(root, "IN", 2), BANK)
    by_hop: dict[int, list[dict[str, Any]]] = {}
    for node in trace["nodes"]:
        by_hop.setdefault(node["hop"], []).append(node)
    assert trace["hopsFollowed"] == 2 and len(by_hop[1]) > 10 and len(by_hop[2]) > 20
    # the agency saw: the root's lookup; per hop one aggregate per bank of the accounts
    # followed, then one lookup of the accounts it found
    calls = [(what, bank, n) for what, bank, n, _ in banking.calls]
    followed = [n for n in by_hop[1] if n["status"] != "OUTSIDE"]
    banks = {n["account"]["bank"] for n in followed}
    assert calls[0] == ("account", "number", 1)
    assert calls[1] == ("aggregate", world.accounts[root]["bank"], 1)
    assert calls[2] == ("account", "number", len(by_hop[1]))
    hop2 = calls[3 : 3 + len(banks)]
    assert {bank for _, bank, _ in hop2} == banks and {w for w, _, _ in hop2} == {"aggregate"}
    assert sum(n for _, _, n in hop2) == len(followed)  # every account, in bank batches
    assert calls[3 + len(banks) :] == [("account", "number", len(by_hop[2]))]
    assert len(calls) == 1 + (1 + 1) + (len(banks) + 1)
    assert len(banks) < len(followed)  # fewer calls than accounts
    # and the audit record has each of them, as every agency call is recorded
    record = harness.audit.records[-1]
    assert [(c.agency, c.operation, c.keys) for c in record.agency_calls] == [
        ("banking", "account by number" if w == "account" else "aggregate transaction", n)
        for w, _, n in calls
    ]


async def test_the_demo_account_sends_to_three_accounts(harness: Harness, world: World) -> None:
    root = world.scenario["account_number"]
    trace = await _trace(harness, _vars(root, "OUT", 2), BANK)
    hop1 = {n["accountNumber"]: n for n in trace["nodes"] if n["hop"] == 1}
    assert set(hop1) == set(world.scenario["outflow_account_numbers"])
    assert trace["nodes"][0] == {
        "accountNumber": root, "hop": 0, "status": "EXPANDED",
        "account": {"number": root, "bank": world.accounts[root]["bank"]},
    }  # fmt: skip
    edges = {(e["from"], e["to"]): e for e in trace["edges"]}
    for number in hop1:
        paid = [
            tx for tx in world.transactions_by_account[root]
            if tx["counterparty_account"] == number and tx["direction"] == "out"
        ]  # fmt: skip
        edge = edges[(root, number)]
        assert edge["direction"] == "OUT" and edge["count"] == len(paid)
        assert edge["amount"] == pytest.approx(sum(tx["amount"] for tx in paid))
        assert edge["first"] == min(tx["time"] for tx in paid)
    # each is followed on where it sends money on, a leaf where it sends none
    assert {n: hop1[n]["status"] for n in hop1} == {n: _onward(world, n) for n in hop1}


async def test_a_hop_the_team_may_not_follow_ends_its_branch(
    harness: Harness, world: World
) -> None:
    root = world.scenario["account_number"]  # the agencies label it with the team's case
    harness.subjects = frozenset({world.scenario["enterprise_uscc"]})
    trace = await _trace(harness, _vars(root, "IN", 3), TEAM)
    nodes = {n["accountNumber"]: n for n in trace["nodes"]}
    assert nodes[root]["status"] == "EXPANDED"
    outside = [n for n in trace["nodes"] if n["hop"] == 1]
    investors = {n["accountNumber"] for n in outside}
    assert investors and all(CASE not in world.accounts[a]["linked_cases"] for a in investors
                             if a in world.accounts)  # fmt: skip
    # outside the case's scope: the record is not shown, the branch ends there
    assert {n["status"] for n in outside} <= {"NOT_FOLLOWED", "OUTSIDE"}
    assert all(n["account"] is None for n in outside)
    assert trace["hopsFollowed"] == 1 and max(n["hop"] for n in trace["nodes"]) == 1
    calls = [w for w, _, _, _ in _banking(harness).calls]
    assert calls.count("aggregate") == 1  # nothing asked beyond the scope
    # the money leaving to the case's own accounts is followed
    out = await _trace(harness, _vars(root, "OUT", 2), TEAM)
    inside = [n for n in out["nodes"] if n["hop"] == 1]
    assert inside and all(n["account"] for n in inside)
    assert all(n["status"] == _onward(world, n["accountNumber"]) for n in inside)


def _onward(world: World, number: str) -> str:
    """A trace's status for an account it may follow at the last hop but one: EXPANDED when
    the account sends money on to other accounts, else LEAF."""
    sends = any(
        tx["direction"] == "out" and tx["counterparty_account"]
        for tx in world.transactions_by_account.get(number, ())
    )
    return "EXPANDED" if sends else "LEAF"


@pytest.mark.parametrize(
    "who",
    [
        {"user": "market.officer", "purpose": "supervision", "case": None},
        {"user": "police.investigator", "purpose": "investigation", "case": POLICE_CASE},
    ],
)
async def test_callers_without_the_banks_data_cannot_trace(
    harness: Harness, world: World, who: dict[str, Any]
) -> None:
    response = await harness.query(TRACE, _vars(world.scenario["account_number"]), **who)
    body = response.json()
    assert "data" not in body or body["data"] is None or body["data"]["traceFunds"] is None
    assert body["errors"]
    assert _banking(harness).calls == []  # no agency was asked


async def test_a_caller_who_may_not_read_counterparties_gets_the_root_only(
    tmp_path: Path, world: World
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    for path in [*DEFAULT_DIR.glob("*.cedar"), DEFAULT_DIR / "jointgate.cedarschema"]:
        shutil.copy(path, policies)
    (policies / "95-test.cedar").write_text(
        '@id("no-counterparties")\nforbid (principal, action, resource == '
        'JointGate::Field::"BankAccount.counterparties");\n'
    )
    root = world.scenario["account_number"]
    connectors: Any = memory_connectors(world)
    async with open_harness(tmp_path / "d", connectors, policy_dir=policies) as harness:
        trace = await _trace(harness, _vars(root), BANK)
        assert trace["nodes"] == [
            {"accountNumber": root, "hop": 0, "status": "NOT_FOLLOWED",
             "account": {"number": root, "bank": world.accounts[root]["bank"]}}
        ]  # fmt: skip
        assert trace["edges"] == [] and trace["hopsFollowed"] == 0
        assert [c[0] for c in _banking(harness).calls] == ["account"]
        record = harness.audit.records[-1]
        assert "traceFunds.counterparties" in record.fields_denied


async def test_caps_on_hops_and_nodes(tmp_path: Path, world: World) -> None:
    signals = SignalSettings(trace_max_hops=3, trace_max_nodes=8, trace_max_edges_per_node=5)
    connectors: Any = memory_connectors(world)
    root = world.scenario["account_number"]
    async with open_harness(tmp_path, connectors, signals=signals) as harness:
        too_far = (await harness.query(TRACE, _vars(root, "IN", 4), **BANK)).json()
        assert too_far["data"]["traceFunds"] is None
        [error] = too_far["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "hops"}
        assert error["message"] == "Invalid argument hops: must be from 1 to 3."
        trace = await _trace(harness, _vars(root, "IN", 3), BANK)
        assert len(trace["nodes"]) == 8 and trace["truncated"]
        statuses = _statuses(trace)
        assert statuses["CAPPED"] >= 1
        # the largest five of the root's counterparties, then the cap
        assert sum(1 for n in trace["nodes"] if n["hop"] == 1) == 5
        shown = {n["accountNumber"] for n in trace["nodes"]}
        assert all(e["from"] in shown and e["to"] in shown for e in trace["edges"])
        # the node cap holds for the request: aliases share it
        aliased = """query($a: AccountNumber!) {
          one: traceFunds(account: $a, direction: IN, hops: 3) { nodes { accountNumber } }
          two: traceFunds(account: $a, direction: OUT, hops: 3) { nodes { accountNumber } }
          three: traceFunds(account: $a, direction: BOTH, hops: 3) { nodes { accountNumber } }
        }"""
        body = (await harness.query(aliased, {"a": root}, **BANK)).json()
        assert "errors" not in body, body
        assert sum(len(t["nodes"]) for t in body["data"].values()) <= 8 + 2  # + each root


async def test_every_account_shown_is_in_the_audit_record(harness: Harness, world: World) -> None:
    root = world.scenario["account_number"]
    query = """query($a: AccountNumber!) { traceFunds(account: $a, direction: IN, hops: 2) {
      nodes { accountNumber } edges { from to } } }"""  # no account selected at all
    body = (await harness.query(query, {"a": root}, **BANK)).json()
    trace = body["data"]["traceFunds"]
    shown = {n["accountNumber"] for n in trace["nodes"]}
    shown |= {e["from"] for e in trace["edges"]} | {e["to"] for e in trace["edges"]}
    assert len(shown) > 50
    assert shown <= harness.audit.records[-1].records_returned["BankAccount"]
    # and for the team, the accounts outside the scope shown only by number too
    harness.subjects = frozenset({world.scenario["enterprise_uscc"]})
    body = (await harness.query(query, {"a": root}, **TEAM)).json()
    trace = body["data"]["traceFunds"]
    numbers = {e["from"] for e in trace["edges"]} | {n["accountNumber"] for n in trace["nodes"]}
    assert numbers <= harness.audit.records[-1].records_returned["BankAccount"]


async def test_a_trace_counts_towards_the_volume_caps(tmp_path: Path, world: World) -> None:
    limits = RateLimits(key_prefix=f"jgtest:{uuid.uuid4().hex[:12]}:", volume={"BankAccount": 10})
    connectors: Any = memory_connectors(world)
    root = world.scenario["account_number"]
    async with open_harness(tmp_path, connectors, rate_limits=limits) as harness:
        answered = await harness.query(TRACE, _vars(root, "IN", 1), **BANK)
        assert answered.status_code == 200, answered.text
        record = harness.audit.records[-1]
        assert len(record.records_returned["BankAccount"]) > 10
        assert "volume-cap" in record.flags  # it went past the cap: answered, flagged
        refused = await harness.query(TRACE, _vars(root, "IN", 1), **BANK)
        assert refused.status_code == 429
        [error] = refused.json()["errors"]
        assert error["extensions"] == {"code": "VOLUME_LIMITED", "limit": "volume.BankAccount"}


def _bad_account(world: World) -> str:
    number = world.scenario["account_number"]
    wrong = (int(number[-1]) + 1) % 10
    assert luhn_check_digit(number[:-1]) != str(wrong)
    return number[:-1] + str(wrong)


@pytest.mark.parametrize(
    ("change", "argument"),
    [
        ({"h": 0}, "hops"),
        ({"h": 7}, "hops"),
        ({"m": -1.0}, "minAmount"),
    ],
)
async def test_bad_arguments_are_refused(
    harness: Harness, world: World, change: dict[str, Any], argument: str
) -> None:
    variables = {**_vars(world.scenario["account_number"]), **change}
    body = (await harness.query(TRACE, variables, **BANK)).json()
    assert body["data"]["traceFunds"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
    assert _banking(harness).calls == []


async def test_bad_identifiers_and_dates_are_refused(harness: Harness, world: World) -> None:
    bad = (await harness.query(TRACE, _vars(_bad_account(world)), **BANK)).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad.get("data") is None
    root = world.scenario["account_number"]
    dated = (
        'query($f: Date, $t: Date) { traceFunds(account: "%s", from: $f, to: $t) { hopsFollowed } }'
    )
    after = (
        await harness.query(dated % root, {"f": "2026-06-02", "t": "2026-06-01"}, **BANK)
    ).json()
    assert after["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "from"}
    not_a_day = (await harness.query(dated % root, {"f": "2026-02-30", "t": None}, **BANK)).json()
    assert not_a_day["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert _banking(harness).calls == []


async def test_over_http_the_same_trace(
    tmp_path: Path, urls: dict[str, str], world: World, harness: Harness
) -> None:
    root = world.scenario["account_number"]
    in_process = await _trace(harness, _vars(root, "IN", 2, 1000.0), BANK)
    jwks, _ = prepare(tmp_path / "http")
    settings = Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, data_dir=tmp_path / "http", jwks_file=jwks,
        agencies={n: AgencySettings(url=u, key=DEFAULT_KEY) for n, u in urls.items()},
        rate_limits=RateLimits(enabled=False),
    )  # fmt: skip
    audit = MemoryAuditLog()
    gateway = build_gateway(settings, audit=audit)
    app = create_app(gateway)
    headers = {
        "authorization": f"Bearer {mint_token('bank.analyst', tmp_path / 'http')}",
        "x-purpose": "supervision",
    }
    body = {"query": TRACE, "variables": _vars(root, "IN", 2, 1000.0)}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        answer = (await client.post("/graphql", json=body, headers=headers)).json()
    assert "errors" not in answer, answer
    assert answer["data"]["traceFunds"] == in_process
    calls = [c.operation for c in audit.records[-1].agency_calls]
    assert calls.count("account by number") == 3  # the root, and one lookup per hop
