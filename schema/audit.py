"""The audit trail for auditors: ``auditLog``, the filters of ``jointgate audit search``.

Every field here is owned by ``audit`` in the category ``audit``; the default policies show them
only to principals with the ``auditor`` role who declare the purpose ``audit``
(policies/50-audit.cedar, and a forbid in 90-forbid.cedar that no other permit overrides).
Like every other field they go through the plan: a denied ``auditLog`` is never resolved, a
denied attribute is withheld by the builder.

The resolver reads through :class:`audit.reader.AuditReader` in a worker thread, on a
connection of its own. The read is audited by the request's own record: the fields asked for
and decided (as for any query), the filters (variable ``auditLog.filter``, so that an entity
searched for is blind-indexed and shows in its own subject report), the records shown (type
``AuditRecord``, key ``LOG:SEQ``; with ``recordsReturned.keys`` allowed, the keys shown too)
and the flag ``audit-read``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

import strawberry

from audit.reader import (
    AuditReader,
    EntityOf,
    IdentitiesOf,
    Position,
    SearchFilter,
    parse_time,
    position,
)
from connectors.errors import AgencyUnavailable
from kernel.identifiers import InvalidIdentifier
from kernel.types import Outcome, RequestContext
from schema.base import SPECS_BY_NAME, attr, build, embedded, embedded_type, link
from schema.catalog import Catalog, FieldResource
from schema.paging import (
    MAX_PAGE,
    NOT_A_CURSOR,
    After,
    Cursors,
    First,
    InvalidArgument,
    page_size,
    scope,
)

Info = strawberry.Info[RequestContext, None]
OpenReader = Callable[[], AuditReader]

READER = "jointgate.audit.reader"  # key in the GraphQL schema's extensions
FILTER_VARIABLE = "auditLog.filter"  # not a GraphQL name: never one of the request's variables
READ_FLAG = "audit-read"
KEYS_FIELD = ("AuditRecordsShown", "keys")
NODE_FIELDS = (
    "log_id", "seq", "time", "received", "request_id", "trace_id", "client", "subject", "agency",
    "roles", "purpose", "case_id", "justification", "break_glass", "operation_name",
    "operation_type", "fields_requested", "fields_allowed", "fields_masked", "fields_denied",
    "fields_withheld", "flags", "policy_version", "status", "outcome", "error_codes", "changes",
)  # fmt: skip


@embedded_type(
    agency="audit",
    doc="The records of one entity type a request was shown.",
)
class AuditRecordsShown:
    """The records of one entity type a request was shown."""

    entity_type: str = attr(
        "audit", 2, doc="The entity type (Enterprise, Person, BankAccount ...)."
    )
    count: int = attr("audit", 2, doc="How many of its records were shown.")
    keys: list[str] | None = attr(
        "audit", 3, doc="Their keys (USCC, resident ID ...); null if the sealed part does not open."
    )  # null if the sealed part does not open


@embedded_type(
    agency="audit",
    doc="The policies (`@id`) that decided one field of a request; `default-deny` if none.",
)
class AuditFieldPolicies:
    """The policies (``@id``) that decided one field of a request; ``default-deny`` if none."""

    path: str = attr(
        "audit",
        2,
        doc="The field's path in the response (`enterprise.legalRepresentative.idNumber`).",
    )
    policies: list[str] = attr("audit", 2, doc="The `@id`s of the policies that decided it.")


@embedded_type(
    agency="audit",
    doc="What a mutation changed (the joint office's work): a lead's or case's state before"
    " and after.",
)
class AuditChange:
    """What a mutation changed (the joint office's work): a lead's or case's state before and
    after; ``replayed``: an idempotent retry, nothing changed."""

    entity: str = attr("audit", 2, doc="`lead` or `case`.")  # lead or case
    id: str = attr(
        "audit", 3, doc="The lead's id or the case's number; `<sealed>` if it does not open."
    )  # the lead's id or case's number; "<sealed>" if it does not open
    action: str = attr(
        "audit", 2, doc="The mutation that did it (submitLead, verifyLead, openCase ...)."
    )
    before: str | None = attr(
        "audit", 2, doc="The state before; null: it was created."
    )  # null: created
    after: str = attr("audit", 2, doc="The state after.")
    replayed: bool = attr("audit", 2, doc="True for an idempotent retry: nothing changed.")


@embedded_type(
    agency="audit",
    doc="One request's record in the audit trail.",
)
class AuditRecord:
    """One request's record in the audit trail (docs/audit.md)."""

    log_id: str = attr("audit", 2, doc="The log that holds the record (one per gateway replica).")
    seq: int = attr("audit", 2, doc="The record's sequence number in its log.")
    time: str = attr(
        "audit", 2, doc="When the record was committed (ISO 8601, UTC)."
    )  # committed, UTC
    received: str = attr(
        "audit", 2, doc="When the request was received (ISO 8601, UTC, microseconds)."
    )
    request_id: str = attr("audit", 2, doc="The request's id.")
    trace_id: str | None = attr("audit", 2, doc="The trace id (W3C traceparent), if any.")
    client: str | None = attr(
        "audit",
        2,
        doc="The client's address (the TCP peer, or behind a trusted proxy the address it saw).",
    )
    subject: str | None = attr("audit", 2, doc="Who asked: the token's subject.")
    agency: str | None = attr("audit", 2, doc="The official's agency.")
    roles: list[str] = attr("audit", 2, doc="The official's roles.")
    purpose: str | None = attr(
        "audit", 2, doc="The declared purpose (X-Purpose: investigation, audit ...)."
    )
    case_id: str | None = attr(
        "audit", 3, doc="The declared case id (X-Case-Id); `<sealed>` if it does not open."
    )
    justification: str | None = attr(
        "audit",
        3,
        doc="The declared justification (X-Justification); `<sealed>` if it does not open.",
    )
    break_glass: bool = attr("audit", 2, doc="Whether emergency access (break-glass) was used.")
    operation_name: str | None = attr(
        "audit", 2, doc="The GraphQL operation's name, if any; a governance record's action."
    )
    operation_type: str | None = attr(
        "audit",
        2,
        doc="`query`, `mutation`, `subscription`, or `governance` for a governance action's"
        " record.",
    )
    fields_requested: list[str] = attr("audit", 2, doc="The field paths asked for.")
    fields_allowed: list[str] = attr("audit", 2, doc="The field paths allowed in clear.")
    fields_masked: list[str] = attr("audit", 2, doc="The field paths allowed masked.")
    fields_denied: list[str] = attr("audit", 2, doc="The field paths denied.")
    # where record-level rules hid records the field's decision allowed (docs/audit.md)
    fields_withheld: list[str] = attr(
        "audit",
        2,
        doc="The field paths where record-level rules hid records the field's decision allowed.",
    )
    field_policies: list[AuditFieldPolicies] = embedded(
        "audit", 2, doc="The policies that decided each field path."
    )
    flags: list[str] = attr(
        "audit",
        2,
        doc="Flags on the request (break-glass, audit-read, volume-cap, idempotent-replay ...).",
    )
    policy_version: str | None = attr("audit", 2, doc="The version of the policies that decided.")
    status: int = attr("audit", 2, doc="The HTTP status of the answer.")
    outcome: str = attr("audit", 2, doc="`ok`, `partial`, `failed` or `refused`.")
    error_codes: list[str] = attr(
        "audit", 2, doc="The error codes of the answer (FORBIDDEN_FIELD ...)."
    )
    changes: list[AuditChange] = embedded(
        "audit", 2, doc="What a mutation changed; empty for a query."
    )  # a mutation's; [] for a query
    records_returned: list[AuditRecordsShown] = embedded(
        "audit", 2, doc="The records the request was shown, by entity type."
    )


@embedded_type(
    agency="audit",
    doc="Where a page of `auditLog` ends.",
)
class AuditPageInfo:
    has_next_page: bool = attr("audit", 2, doc="Whether more records follow.")
    end_cursor: str | None = attr(
        "audit", 2, doc="Pass it as `after` for the next page (same filters)."
    )


@embedded_type(
    agency="audit",
    doc="A page of audit records, oldest first.",
)
class AuditLogConnection:
    nodes: list[AuditRecord] = embedded("audit", 2, doc="The records of the page.")
    page_info: AuditPageInfo = attr("audit", 2, doc="Where the page ends.")


@strawberry.type
class AuditQuery:
    @link("audit", "audit", 2, description=(
        "Audit records, oldest first, for auditors (purpose audit); filters as in `jointgate"
        " audit search`, times in ISO 8601 (UTC if no zone); at most 100 a page."
    ))  # fmt: skip
    async def audit_log(
        self,
        info: Info,
        user: Annotated[
            str | None,
            strawberry.argument(description="Only records of this official (the token's subject)."),
        ] = None,
        agency: Annotated[
            str | None, strawberry.argument(description="Only officials of this agency.")
        ] = None,
        purpose: Annotated[
            str | None, strawberry.argument(description="Only this declared purpose.")
        ] = None,
        case_id: Annotated[
            str | None,
            strawberry.argument(
                description="Only this declared case id (police or court case number, or"
                " JIT-YYYY-NNN)."
            ),
        ] = None,
        entity: Annotated[
            str | None,
            strawberry.argument(
                description="Only requests that showed or looked up this identifier (USCC,"
                " resident ID, account number, case number, lead id)."
            ),
        ] = None,
        outcome: Annotated[
            str | None,
            strawberry.argument(description="Only this outcome: ok, partial, failed or refused."),
        ] = None,
        since: Annotated[
            str | None,
            strawberry.argument(
                description="Received at or after (ISO 8601 date or time, UTC if no zone)."
            ),
        ] = None,
        until: Annotated[
            str | None,
            strawberry.argument(
                description="Received before (ISO 8601 date or time, UTC if no zone)."
            ),
        ] = None,
        first: First = 20,
        after: After = None,
    ) -> AuditLogConnection | None:
        ctx = info.context
        f = SearchFilter(
            user=user, agency=agency, purpose=purpose, case=case_id, entity=entity,
            outcome=outcome, since_us=_time(since), until_us=_time(until),
        )  # fmt: skip
        first = page_size(first, MAX_PAGE)
        cursors: Cursors = ctx.loaders.cursors
        bound = scope(ctx, "auditLog", f.as_variables())
        start = _position(cursors.open(after, bound)) if after is not None else None
        record = ctx.audit
        record.flag(READ_FLAG)
        record.variables[FILTER_VARIABLE] = {
            **f.as_variables(), "first": first, "after": list(start) if start else None,
        }  # fmt: skip
        open_reader: OpenReader | None = info.schema._schema.extensions.get(READER)
        if open_reader is None:
            raise AgencyUnavailable("audit", "this gateway's audit log cannot be searched")
        try:
            rows, more = await asyncio.to_thread(_page, open_reader, f, first, start)
        except Exception as exc:  # the store's own errors (sqlite3, psycopg, audit)
            raise AgencyUnavailable("audit", f"the audit trail cannot be read: {exc}") from exc
        assert ctx.plan is not None
        keys_decision = ctx.plan.decisions.get(KEYS_FIELD)
        keys_shown = keys_decision is not None and keys_decision.outcome is Outcome.ALLOW
        nodes = []
        for view in rows:
            record.saw("AuditRecord", f"{view['log_id']}:{view['seq']}")
            node = _node(view)
            if keys_shown:
                for shown in node["records_returned"]:
                    for key in shown["keys"] or ():
                        record.saw(shown["entity_type"], key)
            nodes.append(node)
        build_rules = ctx.plan.build_rules
        end = cursors.seal(list(position(rows[-1])), bound) if rows else None
        page_info = build(AuditPageInfo, {"has_next_page": more, "end_cursor": end}, build_rules)
        return build(AuditLogConnection, {"nodes": nodes, "page_info": page_info}, build_rules)


def _page(
    open_reader: OpenReader, f: SearchFilter, first: int, after: Position | None
) -> tuple[list[dict[str, Any]], bool]:
    reader = open_reader()
    try:
        rows = reader.search(f, first + 1, after=after)
    finally:
        reader.store.close()
    return rows[:first], len(rows) > first


def _node(view: dict[str, Any]) -> dict[str, Any]:
    returned = view["records_returned"]
    node = {name: view[name] for name in NODE_FIELDS if name in view}
    node["records_returned"] = [
        {
            "entity_type": type_name,
            "count": count,
            "keys": returned.get(type_name) if isinstance(returned.get(type_name), list) else None,
        }
        for type_name, count in sorted(view["returned_counts"].items())
    ]
    node["field_policies"] = [
        {"path": path, "policies": ids} for path, ids in view["field_policies"].items()
    ]
    return node


def _time(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise InvalidIdentifier("DateTime", "not an ISO 8601 date or time") from None


def _position(state: Any) -> Position:
    """The position sealed in a cursor of ``auditLog`` (schema/paging.py)."""
    try:
        received_us, log_id, seq = state
        if isinstance(received_us, int) and isinstance(log_id, str) and isinstance(seq, int):
            return received_us, log_id, seq
    except (TypeError, ValueError):
        pass
    raise InvalidArgument("after", NOT_A_CURSOR)


def field_entities(catalog: Catalog) -> EntityOf:
    """For a field path as audit records hold it (``enterprise.legalRepresentative.idNumber``),
    the entity type whose data the field is (``Person``): the last entity on the way down, so
    embedded lists count for their entity and a link for the entity it leads to. ``""`` for
    a path outside any entity (``enterprises.totalCount``), None for one the schema lacks."""
    cache: dict[str, str | None] = {}

    def entity_of(path: str) -> str | None:
        if path not in cache:
            cache[path] = _walk(catalog, path)[0]
        return cache[path]

    return entity_of


def field_identities(catalog: Catalog) -> IdentitiesOf:
    """For a field path, the entity types its value identifies when it is an identifier
    (``courtCase.parties.partyId``: Person, Enterprise; schema.base.attr's ``identity``):
    such a field shows that entity, whichever record it sits in. ``()`` for any other."""
    cache: dict[str, tuple[str, ...]] = {}

    def identities_of(path: str) -> tuple[str, ...]:
        if path not in cache:
            resource = _walk(catalog, path)[1]
            cache[path] = resource.identity if resource is not None else ()
        return cache[path]

    return identities_of


def _walk(catalog: Catalog, path: str) -> tuple[str | None, FieldResource | None]:
    """The entity a path's field belongs to and the field's resource (None, None: not a path
    of the schema)."""
    type_name, entity = "Query", ""
    resource: FieldResource | None = None
    for name in path.split("."):
        resource = catalog.get((type_name, name))
        if resource is None:
            return None, None
        target = resource.target
        if target is not None:
            spec = SPECS_BY_NAME.get(target)
            if spec is not None and spec.kind is not None:
                entity = target
            type_name = target
    return entity, resource
