"""Lead events delivered over a real WebSocket: need-to-know per payload, each subscription and
each delivery audited (fail closed), duplicates and limits, Redis away, and two replicas."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from audit.log import MemoryAuditLog
from commands.demo import prepare
from gateway.app import create_app
from gateway.ratelimit_settings import RateLimits
from gateway.subscription_settings import SubscriptionSettings
from kernel.types import AuditRecord
from office.settings import OfficeSettings
from tests.cases import register_fixture_cases
from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc
from tests.gateway.subscribing import (
    Client,
    Served,
    client,
    served,
    serving,
    until,
    with_desk,
)

EVENTS = """subscription Alerts($kinds: [EventKind!]) {
  leadEvents(kinds: $kinds) { eventId kind leadId state major lead { id state category } }
}"""
MAJOR = "subscription { majorEvents { eventId kind leadId } }"
SUBMIT = """mutation Submit($input: SubmitLeadInput!, $key: String!) {
  submitLead(input: $input, idempotencyKey: $key) { lead { id state major } }
}"""
VERIFY = """mutation Verify($id: ID!, $key: String!) {
  verifyLead(leadId: $id, outcome: VERIFIED, findings: "高息揽储属实", idempotencyKey: $key) {
    lead { id state }
  }
}"""
REFER = """mutation Refer($id: ID!, $key: String!) {
  referLead(leadId: $id, receivingUnit: "市公安局经侦支队", idempotencyKey: $key) {
    lead { id state }
  }
}"""
PG = "postgresql://postgres@127.0.0.1:5432/test"
POLICE_CASE = "J1101052026000001"  # a fixture case police.investigator is assigned to


def lead_input(n: int = 1, amount: float = 2_000_000.0) -> dict[str, Any]:
    return {
        "category": "ILLEGAL_FUNDRAISING",
        "description": f"某财富公司承诺高息吸收公众存款（线索{n}）",
        "subjects": [uscc(n), resident_id(n), card(n)],
        "amount": amount,
        "victims": 30,
    }


async def mutate(
    harness: Harness, query: str, variables: dict[str, Any], user: str, purpose: str
) -> dict[str, Any]:
    variables = {"key": uuid.uuid4().hex, **variables}
    answer = await harness.query(query, variables, user=user, purpose=purpose, case=None)
    body: dict[str, Any] = answer.json()
    assert answer.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def submit(harness: Harness, amount: float = 2_000_000.0) -> str:
    data = await mutate(harness, SUBMIT, {"input": lead_input(amount=amount)}, "bank.analyst",
                        "risk-monitoring")  # fmt: skip
    lead_id: str = data["submitLead"]["lead"]["id"]
    return lead_id


async def subscribed(
    ws: Client, live: Served, id: str, query: str, user: str, purpose: str, case: str | None = None
) -> None:
    assert await ws.init(live.init(user, purpose, case)) == {"type": "connection_ack"}
    await ws.subscribe(id, query)
    await asyncio.sleep(0.1)  # the subscription is registered once its start is committed


def deliveries(audit: MemoryAuditLog, subject: str) -> list[AuditRecord]:
    return [r for r in audit.records if r.subject == subject and "subscription-event" in r.flags]


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Served]:
    async with served(tmp_path, max_per_connection=2) as gateway:
        yield gateway


async def test_each_subscriber_gets_the_events_of_leads_it_may_read_and_nothing_else(
    live: Served,
) -> None:
    harness = live.harness
    async with (
        client(live.url) as source,  # the lead's source agency: reads it from the start
        client(live.url) as police,  # the police: only once it is referred to them
        client(live.url) as regulator,  # majorEvents only
    ):
        await subscribed(source, live, "s", EVENTS, "bank.analyst", "risk-monitoring")
        await subscribed(police, live, "p", EVENTS, "police.investigator", "investigation",
                         POLICE_CASE)  # fmt: skip
        await subscribed(regulator, live, "m", MAJOR, "market.officer", "supervision")
        lead = await submit(harness, amount=5e7)  # major: large amount
        got = [await source.receive(), await source.receive()]
        assert {m["id"] for m in got} == {"s"} and {m["type"] for m in got} == {"next"}
        events = {m["payload"]["data"]["leadEvents"]["kind"]: m["payload"] for m in got}
        assert set(events) == {"SUBMITTED", "MAJOR_FLAGGED"}
        shown = events["SUBMITTED"]["data"]["leadEvents"]
        assert shown["leadId"] == lead and shown["state"] == "SUBMITTED" and shown["major"]
        assert shown["lead"] == {
            "id": lead,
            "state": "SUBMITTED",
            "category": "ILLEGAL_FUNDRAISING",
        }
        major = await regulator.receive()
        assert major["payload"]["data"]["majorEvents"]["kind"] == "MAJOR_FLAGGED"
        assert await police.quiet(0.5) == []  # not readable: nothing at all
        assert await regulator.quiet(0.1) == []  # SUBMITTED is not a major event

        server = harness.gateway.subscriptions
        assert server is not None
        await mutate(harness, VERIFY, {"id": lead}, "market.officer", "supervision")
        verified = await source.receive()
        assert verified["payload"]["data"]["leadEvents"]["kind"] == "VERIFIED"
        # each event is decided when it is delivered: let the police's VERIFIED be decided
        # (withheld) before the referral lets them read the lead
        await until(lambda: server.events["withheld"] >= 3)  # SUBMITTED, MAJOR_FLAGGED, VERIFIED
        await mutate(harness, REFER, {"id": lead}, "office.coordinator", "supervision")
        referred = await source.receive()
        assert referred["payload"]["data"]["leadEvents"]["kind"] == "REFERRED"
        referred = await police.receive()  # now the police may read it
        assert referred["payload"]["data"]["leadEvents"]["kind"] == "REFERRED"
        assert referred["payload"]["data"]["leadEvents"]["lead"]["state"] == "REFERRED"
        assert await police.quiet(0.3) == []

    assert server.events["delivered"] == 6  # source 4, regulator 1, police 1
    assert server.events["withheld"] >= 3  # police: SUBMITTED, MAJOR_FLAGGED, VERIFIED
    for subject, count in (("bank.analyst", 4), ("police.investigator", 1)):
        records = deliveries(harness.audit, subject)
        assert len(records) == count
        for record in records:
            assert record.operation_type == "subscription" and record.outcome == "ok"
            assert record.records_returned["Lead"] == {lead}
            assert len(record.records_returned["LeadEvent"]) == 1
            assert record.fields_allowed and record.status == 200
    police_record = deliveries(harness.audit, "police.investigator")[0]
    assert police_record.case_id == POLICE_CASE and police_record.purpose == "investigation"


async def test_the_start_of_a_subscription_is_audited_like_a_query(live: Served) -> None:
    async with client(live.url) as ws:
        await subscribed(ws, live, "1", EVENTS, "bank.analyst", "risk-monitoring")
    (start,) = [
        r for r in live.harness.audit.records
        if r.operation_type == "subscription" and "subscription-event" not in r.flags
    ]  # fmt: skip
    assert start.subject == "bank.analyst" and start.purpose == "risk-monitoring"
    assert start.operation_name == "Alerts" and start.query_text == EVENTS
    assert "leadEvents" in start.fields_requested and "leadEvents" in start.fields_allowed
    assert start.field_policies["leadEvents"] and start.outcome == "ok"


async def test_the_kinds_asked_for_are_the_kinds_delivered(live: Served) -> None:
    async with client(live.url) as ws:
        assert await ws.init(live.init("bank.analyst", "risk-monitoring", None))
        await ws.subscribe("k", EVENTS, {"kinds": ["MAJOR_FLAGGED"]})
        await asyncio.sleep(0.1)
        await submit(live.harness)  # not major: no MAJOR_FLAGGED
        assert await ws.quiet(0.4) == []
        await submit(live.harness, amount=5e7)
        message = await ws.receive()
        assert message["payload"]["data"]["leadEvents"]["kind"] == "MAJOR_FLAGGED"
        assert await ws.quiet(0.3) == []


async def test_complete_stops_the_events(live: Served) -> None:
    async with client(live.url) as ws:
        await subscribed(ws, live, "1", EVENTS, "bank.analyst", "risk-monitoring")
        await ws.send({"id": "1", "type": "complete"})
        await asyncio.sleep(0.1)
        await submit(live.harness)
        assert await ws.quiet(0.4) == []
        await ws.subscribe("1", MAJOR)  # the id is free again
        answer = await ws.quiet(0.3)
        assert answer == []


async def test_a_duplicate_id_closes_4409(live: Served) -> None:
    async with client(live.url) as ws:
        await subscribed(ws, live, "same", EVENTS, "bank.analyst", "risk-monitoring")
        await ws.subscribe("same", MAJOR)
        assert await ws.closed() == (4409, "Subscriber for same already exists")


async def test_too_many_subscriptions_close_4429(live: Served) -> None:
    async with client(live.url) as ws:
        await subscribed(ws, live, "1", EVENTS, "bank.analyst", "risk-monitoring")
        await ws.subscribe("2", MAJOR)
        await ws.subscribe("3", MAJOR)  # max_per_connection = 2
        assert await ws.closed() == (4429, "Too many subscriptions")


async def test_a_subscription_field_denied_is_refused_with_its_code(live: Served) -> None:
    """The subscription document is decided as a query's: a field under the root the caller
    may not see is refused at subscribe, not silently dropped."""
    async with client(live.url) as ws:
        await subscribed(ws, live, "x", "subscription { majorEvents { nope } }", "bank.analyst",
                         "risk-monitoring")  # fmt: skip
        answer = await ws.receive()
        assert answer["type"] == "error" and answer["id"] == "x"
        assert answer["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_delivery_that_cannot_be_audited_is_not_sent(
    live: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = live.harness.audit
    commit = audit.commit

    async def failing(record: AuditRecord) -> None:
        if "subscription-event" in record.flags:
            raise OSError("disk full")
        await commit(record)

    async with client(live.url) as ws:
        await subscribed(ws, live, "1", EVENTS, "bank.analyst", "risk-monitoring")
        monkeypatch.setattr(audit, "commit", failing)
        await submit(live.harness)
        answer = await ws.receive()
        assert answer["type"] == "error" and answer["id"] == "1"
        assert answer["payload"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
        assert await ws.quiet(0.3) == []  # no next, before or after; the subscription ended
        await ws.send({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}  # the connection is still there
    assert deliveries(audit, "bank.analyst") == []
    server = live.harness.gateway.subscriptions
    assert server is not None and server.events["delivered"] == 0 and server.active == 0


async def test_while_redis_is_away_this_replica_still_delivers_its_own_events(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, redis_url="redis://127.0.0.1:1/0") as live:
        bus = live.harness.gateway.bus
        assert bus is not None and bus.status()["mode"] == "local"
        async with client(live.url) as ws:
            await subscribed(ws, live, "1", EVENTS, "bank.analyst", "risk-monitoring")
            lead = await submit(live.harness)
            message = await ws.receive()
            assert message["payload"]["data"]["leadEvents"]["leadId"] == lead
        ready = await live.harness.client.get("/readyz")
        events = ready.json()["checks"]["events"]
        assert events["mode"] == "local" and events["error"]


async def test_metrics_count_events_subscriptions_and_deliveries(live: Served) -> None:
    async with client(live.url) as ws:
        await subscribed(ws, live, "1", EVENTS, "bank.analyst", "risk-monitoring")
        await submit(live.harness)
        await ws.receive()
        text = (await live.harness.client.get("/metrics")).text
        assert "jointgate_subscriptions_active 1" in text
        assert 'jointgate_lead_events_total{kind="SUBMITTED"} 1' in text
        assert 'jointgate_subscription_events_total{outcome="delivered"} 1' in text


# --- two replicas -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def governance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The replicas' one governance database: the data dir's SQLite, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield {}
        return
    schema = f"jg_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG}?options=-csearch_path%3D{schema}"
    prepare(tmp_path)
    register_fixture_cases(url)
    try:
        yield {"governance_db": url}
    finally:
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_a_subscriber_on_replica_2_receives_the_event_of_a_mutation_on_replica_1(
    tmp_path: Path, governance: dict[str, Any]
) -> None:
    """Two gateways, each its own process state and socket, one governance database and one
    Redis: the mutation is made over HTTP on replica 1, the event read on replica 2, under
    replica 2's subscriber's need-to-know, and audited there."""
    settings = SubscriptionSettings(channel=f"jointgate:test-events:{uuid.uuid4().hex}")
    async with (
        open_harness(tmp_path, subscriptions=settings, **governance) as one,
        open_harness(tmp_path, subscriptions=settings, **governance) as two,
    ):
        with_desk(one.gateway), with_desk(two.gateway)
        async with (
            serving(create_app(one.gateway)) as where_one,
            serving(create_app(two.gateway)) as where_two,
        ):
            on_two = Served(two, f"ws://{where_two}/graphql")
            async with client(on_two.url) as reader, client(on_two.url) as outsider:
                await subscribed(reader, on_two, "r", EVENTS, "bank.analyst", "risk-monitoring")
                await subscribed(outsider, on_two, "o", EVENTS, "police.investigator",
                                 "investigation", POLICE_CASE)  # fmt: skip
                async with httpx.AsyncClient(base_url=f"http://{where_one}") as http:
                    answer = await http.post(
                        "/graphql",
                        json={"query": SUBMIT, "variables": {"input": lead_input(7), "key": "k"}},
                        headers=one.headers("bank.analyst", "risk-monitoring", None),
                    )
                lead = answer.json()["data"]["submitLead"]["lead"]["id"]
                message = await reader.receive()
                event = message["payload"]["data"]["leadEvents"]
                assert event["leadId"] == lead and event["kind"] == "SUBMITTED"
                assert event["lead"]["id"] == lead
                assert await reader.quiet(0.3) == []  # once
                assert await outsider.quiet(0.2) == []
    assert len(deliveries(two.audit, "bank.analyst")) == 1  # audited where it was delivered
    assert deliveries(one.audit, "bank.analyst") == []
    assert one.gateway.bus is not None and one.gateway.bus.published == 1
    assert two.gateway.bus is not None and two.gateway.bus.received == 1


async def test_a_long_duplicate_id_still_closes_4409(live: Served) -> None:
    """The reason quotes the id; a close frame's reason holds at most 123 bytes."""
    long = "订阅" * 40  # 80 characters, 240 bytes
    async with client(live.url) as ws:
        await subscribed(ws, live, long, EVENTS, "bank.analyst", "risk-monitoring")
        await ws.subscribe(long, MAJOR)
        code, reason = await ws.closed()
        assert code == 4409 and reason.startswith("Subscriber for 订阅")
        assert len(reason.encode()) <= 123


async def test_an_overdue_major_event_surfaces_live_in_the_metrics_and_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The gateway's own sweep (its lifespan's task): the deadline passes, the next sweep
    announces MAJOR_OVERDUE to majorEvents subscribers, logs it, and the gauge counts it."""
    caplog.set_level(logging.WARNING, "jointgate.office")
    deadline = OfficeSettings(major_deadline_h=1 / 3600)  # one second
    async with (
        served(tmp_path, office=deadline, overdue_sweep_s=0.2) as live,
        client(live.url) as ws,
    ):
        await subscribed(ws, live, "m", MAJOR, "office.coordinator", "supervision")
        lead = await submit(live.harness, amount=5e7)
        flagged = await ws.receive()
        assert flagged["payload"]["data"]["majorEvents"]["kind"] == "MAJOR_FLAGGED"
        overdue = await ws.receive(within=5)
        assert overdue["payload"]["data"]["majorEvents"] == {
            "eventId": overdue["payload"]["data"]["majorEvents"]["eventId"],
            "kind": "MAJOR_OVERDUE",
            "leadId": lead,
        }
        assert await ws.quiet(0.5) == []  # announced once, though swept again since
        metrics = (await live.harness.client.get("/metrics")).text
        assert "jointgate_major_events_overdue 1" in metrics
        assert 'jointgate_lead_events_total{kind="MAJOR_OVERDUE"} 1' in metrics
    logged = [r.getMessage() for r in caplog.records if r.name == "jointgate.office"]
    assert logged == [
        f"major event overdue: lead {lead} was not acknowledged by its reporting deadline"
    ]


async def test_a_payload_is_masked_and_denied_exactly_as_the_same_query_would_be(
    live: Served,
) -> None:
    """The lead in an event, read by a regulator from another agency, next to the same
    selection asked by query: the same fields, the same masks, the same refusals."""
    selection = "id description amount subjects { kind identifier enterprise { name status } }"
    async with client(live.url) as ws:
        await subscribed(ws, live, "m", "subscription { leadEvents { lead { %s } } }" % selection,
                         "market.officer", "supervision")  # fmt: skip
        lead = await submit(live.harness)
        message = await ws.receive()
    asked = await live.harness.query(
        '{ lead(id: "%s") { %s } }' % (lead, selection), user="market.officer",
        purpose="supervision", case=None,
    )  # fmt: skip
    answer = asked.json()
    shown = message["payload"]
    assert shown["data"]["leadEvents"]["lead"] == answer["data"]["lead"]
    codes = sorted(e["extensions"]["code"] for e in shown.get("errors", ()))
    assert codes == sorted(e["extensions"]["code"] for e in answer.get("errors", ()))
    (delivered,) = deliveries(live.harness.audit, "market.officer")
    queried = live.harness.audit.records[-1]
    assert queried.operation_type == "query"
    strip = len("leadEvents.")
    assert delivered.fields_masked == ["leadEvents.lead.subjects.identifier"]  # IDs, accounts
    assert [p[strip:] for p in delivered.fields_masked] == queried.fields_masked
    identifiers = [s["identifier"] for s in shown["data"]["leadEvents"]["lead"]["subjects"]]
    assert resident_id(1) not in identifiers and "*" in identifiers[1]
    assert [p[strip:] for p in delivered.fields_denied] == queried.fields_denied


async def test_a_subscriber_unassigned_from_its_case_is_disconnected_at_the_next_event(
    live: Served,
) -> None:
    """The declared case is checked again for each event, as each query checks it."""
    cases = live.harness.gateway.cases
    assert cases is not None
    async with client(live.url) as ws:
        await subscribed(ws, live, "p", EVENTS, "police.investigator", "investigation",
                         POLICE_CASE)  # fmt: skip
        cases.store.unassign(POLICE_CASE, "police.investigator", by="office.coordinator")
        cases.check()  # as the change notification makes every replica do
        await submit(live.harness)
        assert await ws.closed() == (4403, "Forbidden: CASE_NOT_ASSIGNED")


async def test_delivered_records_count_towards_the_volume_caps(tmp_path: Path) -> None:
    """A subscriber's events showed leads without counting them: a volume cap held for queries
    and not for subscriptions. The delivery past the cap is sent (as a query's answer is) and
    ends the subscription with VOLUME_LIMITED, flagged in its audit record."""
    caps = RateLimits(enabled=True, volume={"Lead": 2}, user_rate=1000.0, agency_rate=1000.0,
                      redis_url="")  # fmt: skip
    async with served(tmp_path, rate_limits=caps) as live, client(live.url) as bank:
        harness = live.harness

        async def report(n: int, user: str) -> None:  # a lead the bank regulator may read
            lead = {**lead_input(n), "subjects": [uscc(n)]}
            await mutate(harness, SUBMIT, {"input": lead}, user, "risk-monitoring")

        await subscribed(bank, live, "s", EVENTS, "bank.analyst", "risk-monitoring")
        for n, user in ((1, "market.officer"), (2, "market.officer"), (3, "court.clerk")):
            await report(n, user)
            got = await bank.receive()
            assert got["type"] == "next" and got["id"] == "s", got
        ended = await bank.receive()  # the third lead went past the cap of 2
        assert ended["type"] == "error" and ended["id"] == "s"
        assert ended["payload"][0]["extensions"]["code"] == "VOLUME_LIMITED"
        await report(4, "court.clerk")
        assert await bank.quiet(0.5) == []
        audit = harness.audit
        assert isinstance(audit, MemoryAuditLog)
        shown = deliveries(audit, "bank.analyst")
        assert ["volume-cap" in r.flags for r in shown] == [False, False, True]
