"""The simulator's reckoning (console/pages/simulator.py): what a user would get for a query,
field by field and as an answer, without that user and without the agencies.

The explanation is ``jointgate policy explain``'s (gateway/explain.py); the answer is the
gateway's own stages (purpose, analyze, authorize, execute, respond) called in the pipeline's
order with the simulated principal, over an :class:`~gateway.execute.Executor` on the sandbox's
synthetic world (:func:`sandbox_executor`), never over the live agencies: the administrator has
no need-to-know for live data, and the simulated user did not ask.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from gateway.app import Gateway
from gateway.execute import Executor
from gateway.explain import (
    hidden_records,
    targets,
)
from gateway.respond import answer_body
from kernel.errors import GatewayError
from kernel.types import AuditRecord, Principal, RequestContext
from policies.engine import DecisionContext, PolicyEngine
from policies.impact import decide_paths
from sandbox.memory import memory_connectors
from sandbox.world import World, generate

#: The sandbox world the simulator answers from: small, and always the same.
SANDBOX_SCALE = 0.02
SANDBOX_SEED = 20260101
_KEY = "simulator.sandbox"


#: the sources whose data the sandbox world holds (the agencies, and the signals computed from
#: them); fields of any other source (the audit trail, the joint office) read the platform's
#: live state, whatever executor runs them, and are refused (fail closed: a new source is out)
SANDBOX_AGENCIES = frozenset({"police", "market", "banking", "courts", "credit", "signals"})


@dataclass(frozen=True)
class Sandbox:
    """An executor over the synthetic world, and the world's demo scenario (sample ids)."""

    executor: Executor
    scenario: Mapping[str, Any]
    # ids of ordinary records (low sensitivity, H0) that most users may see: the samples
    samples: Mapping[str, str] = field(default_factory=dict)


def sandbox_executor(gateway: Gateway, extras: dict[str, Any]) -> Sandbox:
    """Built once per console (kept in its ``extras``): the world takes a quarter second."""
    found = extras.get(_KEY)
    if found is None:
        world = generate(SANDBOX_SCALE, SANDBOX_SEED)
        executor = Executor(gateway.schema, memory_connectors(world))
        found = extras[_KEY] = Sandbox(executor, dict(world.scenario), _samples(world))
    assert isinstance(found, Sandbox)
    return found


@dataclass(frozen=True)
class FieldRow:
    path: str
    outcome: str  # allow, mask, deny
    mask: str | None
    policies: tuple[str, ...]


@dataclass
class Simulation:
    """What the page shows; ``refused``: the code and message the gateway would answer with
    instead of data (the declaration or the query refused)."""

    principal: Principal
    purpose: str
    case_id: str
    teams: tuple[str, ...] = ()
    in_team: bool = False
    assigned: str = ""  # "direct", "team", "no" (a case declared), "" (none)
    rows: list[FieldRow] = field(default_factory=list)
    hidden: list[tuple[str, str]] = field(default_factory=list)  # (agency, records hidden)
    operation: str = ""
    query_hash: str = ""
    refused: tuple[str, str] | None = None
    answer: str = ""  # the JSON answer, pretty
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (code, path, message)


def declaration_headers(purpose: str, case_id: str, justification: str) -> dict[str, str]:
    """The headers a client would send (non-ASCII percent-encoded as UTF-8)."""
    headers = {"x-purpose": purpose}
    if case_id:
        headers["x-case-id"] = quote(case_id, safe="")
    if justification:
        headers["x-justification"] = quote(justification, safe="")
    return headers


async def simulate(
    gateway: Gateway,
    sandbox: Sandbox,
    principal: Principal,
    headers: Mapping[str, str],
    query: str,
) -> Simulation:
    pipeline = gateway.pipeline
    purpose = headers.get("x-purpose", "")
    sim = Simulation(principal, purpose, "", query_hash=_hash(query))
    record = AuditRecord(request_id=uuid.uuid4().hex)
    ctx = RequestContext(request_id=record.request_id, audit=record, principal=principal)
    _membership(gateway, sim)
    try:
        pipeline.purposes.declare(headers, principal, ctx)
    except GatewayError as exc:
        sim.refused = (exc.code, exc.message)
    if ctx.declaration is None:
        return sim
    sim.case_id = ctx.declaration.case_id or ""
    _membership(gateway, sim)
    context = pipeline.authorizer.context(principal, ctx.declaration)
    sim.in_team = context.in_team
    if sim.refused is not None:
        return sim
    with contextlib.suppress(ValueError):  # not valid at all: the analyzer says how, below
        _explain(gateway, sim, context, query)  # every field, even those the caller cannot see
    try:
        analyzer, authorizer = pipeline.analyzer, pipeline.authorizer
        visible = authorizer.visibility(principal, context)
        introspects = bool(principal.roles & analyzer.limits.introspection_roles)
        document = analyzer.document(query, None, principal.client, principal.subject)
        operation = analyzer.analyze(document, None, visible, introspects, principal.subject)
        sim.operation = operation.name or ""
        if operation.type != "query" or operation.introspection:
            sim.refused = ("BAD_REQUEST", "The simulator runs queries only.")
            return sim
        platform = sorted(
            {t.path for t in operation.touched if t.resource.agency not in SANDBOX_AGENCIES}
        )
        if platform:  # the platform's own state (the trail, the office) is live: never shown
            sim.refused = (
                "BAD_REQUEST",
                "The simulator answers from the sandbox agencies' data only; these fields are"
                f" the platform's own, live, and are not run: {', '.join(platform[:5])}",
            )
            return sim
        ctx.plan = authorizer.plan(principal, context, operation)
        ctx.records_visible = authorizer.record_filter(principal, context)
        result = await sandbox.executor.run(ctx, operation, None)
    except GatewayError as exc:
        sim.refused = (exc.code, exc.message)
        return sim
    body = answer_body(result, ctx.request_id)
    sim.answer = orjson.dumps(body.get("data"), option=orjson.OPT_INDENT_2).decode()
    for error in body.get("errors", ()):
        path = ".".join(str(p) for p in error.get("path") or ())
        code = str((error.get("extensions") or {}).get("code", ""))
        sim.errors.append((code, path, str(error.get("message", ""))))
    return sim


def _membership(gateway: Gateway, sim: Simulation) -> None:
    """The teams and the case access the gateway would compute for this subject."""
    subject = sim.principal.subject
    active = gateway.teams.memberships(subject) if gateway.teams is not None else []
    sim.teams = tuple(sorted(t.id for t in active))
    if not sim.case_id or gateway.cases is None:
        sim.assigned = ""
        return
    access = gateway.cases.access(subject, sim.case_id, {c for t in active for c in t.cases})
    sim.assigned = "no" if access is None else ("direct" if access.direct else "team")


def _explain(gateway: Gateway, sim: Simulation, context: DecisionContext, query: str) -> None:
    engine = gateway.pipeline.authorizer.policies.engine
    if not isinstance(engine, PolicyEngine):  # enforcement off (OpenPolicy): nothing to explain
        return
    paths = targets(gateway.schema.catalog, query, gateway.schema)
    sim.rows = [
        FieldRow(path, outcome, mask, policies)
        for path, outcome, mask, policies in decide_paths(engine, sim.principal, context, paths)
    ]
    for agency in sorted({r.agency for _, r in paths}):
        hidden = hidden_records(engine, sim.principal, context, agency)
        if hidden:
            sim.hidden.append((agency, hidden))


def _samples(world: World) -> dict[str, str]:
    """An enterprise (with its legal representative), a person and an account with the least
    restrictive labels of the world (the record rules hide the scenario's own from most users)."""

    def labels(row: Mapping[str, Any]) -> tuple[str, int]:
        return str(row.get("handling_code", "H3")), int(row.get("sensitivity", 3))

    persons = world.persons
    enterprise = min(
        world.enterprises.values(),
        key=lambda e: (labels(persons.get(e["legal_rep_id"], {})), labels(e), e["uscc"]),
    )
    person = min(persons, key=lambda p: (labels(persons[p]), p))
    account = min(world.accounts, key=lambda a: (labels(world.accounts[a]), a))
    return {"enterprise_uscc": enterprise["uscc"], "person_id": person, "account_number": account}


def _hash(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()
