"""The Subscription type's resolvers as the WebSocket transport runs them: the subscriber's
document executed once per event, the ``kernel.workflow.LeadEvent`` as the root value, with a
request context like a query's (gateway/subscriptions.py). Null: not delivered."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from graphql import ExecutionResult, execute

from commands.policy.cases import principal_for
from kernel.types import AuditRecord, Declaration, Purpose, RequestContext
from kernel.workflow import EventKind, LeadEvent
from schema.loaders import Loaders
from schema.office_ops import wanted
from schema.paging import Cursors
from tests.gateway.conftest import Harness, card, open_harness, resident_id, uscc

SUBMIT = """mutation($input: SubmitLeadInput!) {
  submitLead(input: $input, idempotencyKey: "k1") { lead { id } }
}"""
EVENTS = """subscription($kinds: [EventKind!]) {
  leadEvents(kinds: $kinds) { eventId kind leadId state major lead { id state description } }
}"""
MAJOR = "subscription { majorEvents { kind leadId } }"


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        yield opened


async def published(h: Harness) -> LeadEvent:
    events: list[LeadEvent] = []
    h.gateway.events = events.append
    given = {"category": "OTHER", "description": "某平台虚构项目集资",
             "subjects": [uscc(1), f"resident-id:{resident_id(1)}", card(1)]}  # fmt: skip
    response = await h.query(SUBMIT, {"input": given}, user="bank.analyst",
                             purpose="risk-monitoring", case=None)  # fmt: skip
    assert response.json()["data"]["submitLead"]["lead"]["id"]
    [event] = events
    return event


async def deliver(
    h: Harness,
    user: str,
    document: str,
    event: Any,
    purpose: str = "risk-monitoring",
    variables: dict[str, Any] | None = None,
) -> tuple[ExecutionResult, AuditRecord]:
    """``document`` run for ``user`` on ``event`` as the transport runs it."""
    principal = principal_for(user)
    declared = Declaration(Purpose(purpose))
    pipeline = h.gateway.pipeline
    context = pipeline.authorizer.context(principal, declared)
    visible = pipeline.authorizer.visibility(principal, context)
    operation = pipeline.analyzer.analyze(document, None, visible, False, principal.subject)
    record = AuditRecord("r1")
    ctx = RequestContext("r1", record, principal, declared)
    ctx.plan = pipeline.authorizer.plan(principal, context, operation)
    ctx.office = h.gateway.office
    ctx.loaders = Loaders(ctx, h.gateway.connectors, Cursors.ephemeral())
    result = execute(
        h.gateway.schema.graphql, operation.document, root_value=event, context_value=ctx,
        variable_values=variables,
    )  # fmt: skip
    if not isinstance(result, ExecutionResult):
        result = await result
    return result, record


async def test_an_event_reaches_who_may_read_its_lead_and_nobody_else(harness: Harness) -> None:
    event = await published(harness)
    assert event.kind is EventKind.SUBMITTED
    result, record = await deliver(harness, "bank.analyst", EVENTS, event)
    assert result.errors is None
    assert result.data == {"leadEvents": {
        "eventId": event.event_id, "kind": "SUBMITTED", "leadId": event.lead_id,
        "state": "SUBMITTED", "major": False,
        "lead": {"id": event.lead_id, "state": "SUBMITTED", "description": "某平台虚构项目集资"},
    }}  # fmt: skip
    assert record.records_returned == {"Lead": {event.lead_id}}
    # the court's clerk may not read the lead: nothing (not even that it exists)
    result, record = await deliver(harness, "court.clerk", EVENTS, event, "supervision")
    assert result.errors is None and result.data == {"leadEvents": None}
    assert record.records_returned == {}
    # the event as the bus carries it between replicas (JSON) reads the same
    result, _ = await deliver(harness, "bank.analyst", EVENTS, event.as_json())
    assert result.data is not None and result.data["leadEvents"]["leadId"] == event.lead_id


async def test_kinds_and_major_events_filter(harness: Harness) -> None:
    event = await published(harness)
    closed = {"kinds": ["CLOSED"]}
    result, _ = await deliver(harness, "bank.analyst", EVENTS, event, variables=closed)
    assert result.data == {"leadEvents": None}
    result, _ = await deliver(harness, "bank.analyst", MAJOR, event)
    assert result.data == {"majorEvents": None}
    major = dataclasses.replace(event, kind=EventKind.MAJOR_FLAGGED, major=True)
    result, _ = await deliver(harness, "bank.analyst", MAJOR, major)
    assert result.data == {"majorEvents": {"kind": "MAJOR_FLAGGED", "leadId": event.lead_id}}
    assert wanted("leadEvents", {"kinds": None}, event)
    assert wanted("leadEvents", {"kinds": ["SUBMITTED"]}, event)
    assert not wanted("leadEvents", {"kinds": ["CLOSED"]}, event)
    assert not wanted("majorEvents", {}, event) and wanted("majorEvents", {}, major)


async def test_a_subscription_without_an_event_delivers_nothing(harness: Harness) -> None:
    result, _ = await deliver(harness, "bank.analyst", MAJOR, None)
    assert result.data == {"majorEvents": None}
