"""Multi-hop fund tracing: ``Query.traceFunds`` (docs/signals.md, "Fund tracing").

From one account, breadth-first by hop: per hop, the frontier's accounts the caller may follow
are grouped by bank and each bank is asked once for their per-counterparty aggregates
(``/v1/transactions:aggregate``, routed to the bank), then the new accounts are looked up in
one batch through the loaders (decided, masked and audited as any ``BankAccount``). Agency
calls grow with hops and banks, not with accounts.

Need-to-know is decided per hop: an account is followed only when its record is shown to the
caller and ``BankAccount.counterparties`` is allowed for it (in a joint team's request, for a
record outside the case's scope, as without the team: ``Plan.outside``). What is shown of a
node or an edge is decided as the account it was found from: the plan's rules, or the rules
without the team for an account outside the scope. Every account number shown in clear is an
identifier (``identity="BankAccount"``): recorded as seen and counted against the volume caps
by gateway/disclosure.py, like every account the lookups return (schema/loaders.py).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import strawberry

from kernel.types import BuildRules, RequestContext
from schema.banking import (
    MAX_COUNTERPARTIES,
    BankAccount,
    FlowDirection,
    From,
    To,
    amount_at_least,
    counterparty_rows,
    rules_for,
    window,
)
from schema.base import FieldForbidden, attr, build, embedded_type, entity_key, link, record_data
from schema.loaders import Lookups, Window, loaders
from schema.paging import InvalidArgument
from schema.scalars import AccountNumber
from schema.scope import refused
from signals.settings import SignalSettings

Info = strawberry.Info[RequestContext, None]
FOLLOWS = ("BankAccount", "counterparties")  # the decision that lets a trace follow an account
_DEFAULTS = SignalSettings()


@strawberry.enum(description="Why a trace's account was or was not followed further.")
class TraceStatus(enum.Enum):
    EXPANDED = strawberry.enum_value("EXPANDED", description="Its counterparties were followed.")
    LEAF = strawberry.enum_value(
        "LEAF", description="Nothing further at or above minAmount, or the hop limit."
    )
    NOT_FOLLOWED = strawberry.enum_value(
        "NOT_FOLLOWED",
        description="You may not follow it: its record is not shown to you, or its"
        " counterparties are denied.",
    )
    CAPPED = strawberry.enum_value(
        "CAPPED",
        description="The node cap was reached before (all of) its counterparties were added.",
    )
    OUTSIDE = strawberry.enum_value(
        "OUTSIDE", description="Not an account of the banking system (the banks do not know it)."
    )


@embedded_type(agency="banking", doc="One account in a trace.")
class TraceNode:
    """One account in a trace."""

    account_number: str | None = attr(
        "financial", 3, mask="account", identity="BankAccount",
        doc="The account number (may be masked).",
    )  # fmt: skip
    hop: int | None = attr("financial", 1, doc="How many hops from the start (0: the start).")
    status: TraceStatus | None = attr(
        "financial", 1, doc="Whether it was followed further, and if not, why."
    )

    @link("banking", "financial", 1, description="The account, as a lookup shows it.")
    async def account(self, info: Info) -> BankAccount | None:
        found: BankAccount | None = record_data(self).get("_account")
        return found


@embedded_type(
    agency="banking",
    doc="Money moved from one account to another: `from` paid `to`.",
)
class TraceEdge:
    """Money moved from one account to another: ``from`` paid ``to``. ``direction``: found
    following money out of (OUT) or into (IN) the account nearer the start."""

    from_: str | None = strawberry.field(
        name="from",
        metadata=attr("financial", 3, mask="account", identity="BankAccount").metadata,
        description="The paying account's number (may be masked).",
    )
    to: str | None = attr(
        "financial", 3, mask="account", identity="BankAccount",
        doc="The paid account's number (may be masked).",
    )  # fmt: skip
    direction: FlowDirection | None = attr(
        "financial",
        2,
        doc="Found following money out of (OUT) or into (IN) the account nearer the start.",
    )
    amount: float | None = attr(
        "financial", 3, mask="amount", doc="The total paid, in yuan (may be masked)."
    )
    count: int | None = attr("financial", 2, doc="In how many transactions.")
    first: str | None = attr(
        "financial", 2, doc="The first transaction's time."
    )  # the first transaction's time
    last: str | None = attr("financial", 2, doc="The last transaction's time.")


@embedded_type(
    agency="banking",
    doc="The flow graph around an account, hop by hop: its accounts and the money between them.",
)
class FundTrace:
    hops_followed: int | None = attr("financial", 1, doc="How many hops were followed.")
    truncated: bool | None = attr(
        "financial", 1, doc="True if the node cap (by default 300 accounts a request) was reached."
    )  # the node cap was reached

    @link("banking", "financial", 1, description="The accounts, the start first.")
    async def nodes(self, info: Info) -> list[TraceNode] | None:
        found: list[TraceNode] = record_data(self)["_nodes"]
        return found

    @link("banking", "financial", 3, description="The money between them.")
    async def edges(self, info: Info) -> list[TraceEdge] | None:
        found: list[TraceEdge] = record_data(self)["_edges"]
        return found


@dataclass(slots=True)
class _Node:
    number: str
    hop: int
    bank: str | None  # where the banking system says the account is (routing only)
    rules: Mapping[str, BuildRules]  # how it is shown: as the account it was found from
    status: TraceStatus = TraceStatus.LEAF
    account: Any = None  # the BankAccount as the caller gets it; None: not shown
    edges: int = 0


@dataclass(slots=True)
class _Trace:
    nodes: dict[str, _Node] = field(default_factory=dict)
    edges: dict[tuple[str, str], tuple[dict[str, Any], Mapping[str, BuildRules]]] = field(
        default_factory=dict
    )
    hops: int = 0
    truncated: bool = False


@strawberry.type
class TraceQuery:
    @link(
        "banking", "financial", 3, consults=("BankAccount.counterparties",),
        description="The accounts money went to (OUT) or came from (IN) from `account`, hop by"
        " hop: per hop one call per bank, the largest counterparties of each account"
        " followed; accounts the caller may not follow end their branch (NOT_FOLLOWED).",
    )  # fmt: skip
    async def trace_funds(
        self,
        info: Info,
        account: Annotated[
            AccountNumber,
            strawberry.argument(description="The account to start from (16-19 digits)."),
        ],
        direction: Annotated[
            FlowDirection,
            strawberry.argument(
                description="OUT (the default): where the money went; IN: where it came from;"
                " BOTH: either."
            ),
        ] = FlowDirection.OUT,
        hops: Annotated[
            int,
            strawberry.argument(
                description="How many hops to follow, from 1 to the gateway's cap (6 by default)."
            ),
        ] = 2,
        min_amount: Annotated[
            float,
            strawberry.argument(
                description="Leave out transactions smaller than this, in yuan (0 to 10^15)."
            ),
        ] = 0.0,
        from_: From = None,
        to: To = None,
    ) -> FundTrace | None:
        settings: SignalSettings = info.context.signals or _DEFAULTS
        if not 1 <= hops <= settings.trace_max_hops:
            raise InvalidArgument("hops", f"must be from 1 to {settings.trace_max_hops}")
        least = amount_at_least(min_amount)
        dates = window(from_, to)
        lookups = loaders(info)
        found = await lookups.each("BankAccount", [account])
        if not found:  # none, or not for this caller: alike (as Query.bankAccount)
            raise FieldForbidden()
        root = found[0]
        trace = _Trace()
        budget = _Budget(info.context.loaders, settings.trace_max_nodes)
        budget.take()
        trace.nodes[account] = _Node(
            account, 0, record_data(root).get("bank"), rules_for(info, root), account=root
        )
        frontier = [trace.nodes[account]]
        for hop in range(1, hops + 1):
            followed = _settled(info, frontier)
            if not followed:
                break
            if budget.spent():
                for node in followed:
                    node.status = TraceStatus.CAPPED
                trace.truncated = True
                break
            trace.hops = hop
            rows = await _aggregates(
                lookups, followed, dates, direction, least, settings.trace_max_edges_per_node
            )
            added = _expand(info, trace, followed, rows, hop, budget)
            await _look_up(lookups, added)
            frontier = [n for n in added if n.status is not TraceStatus.OUTSIDE]
        else:
            _settled(info, frontier)  # the hop limit: the rest are leaves, or not followable
        return _built(info, trace)


class _Budget:
    """The node cap (``trace_max_nodes``) of one request, shared by every traceFunds in it
    (aliases): the accounts shown so far are counted on the request's loaders."""

    def __init__(self, loaders: Any, cap: int) -> None:
        self.loaders = loaders
        self.cap = cap

    def spent(self) -> bool:
        return bool(self.loaders.traced >= self.cap)

    def take(self) -> None:
        self.loaders.traced += 1


def _settled(info: Info, frontier: list[_Node]) -> list[_Node]:
    """The frontier's accounts the caller may follow; the others marked NOT_FOLLOWED."""
    followed = []
    for node in frontier:
        if _may_follow(info, node):
            followed.append(node)
        else:
            node.status = TraceStatus.NOT_FOLLOWED
    return followed


def _may_follow(info: Info, node: _Node) -> bool:
    """Whether the caller may follow ``node``: its record is shown to it, and
    ``BankAccount.counterparties`` is allowed for it (in a team's request, for a record outside
    the case's scope, as without the team)."""
    if node.account is None:
        return False
    plan = info.context.plan
    assert plan is not None
    return FOLLOWS in plan.decisions and not refused(plan, FOLLOWS, node.account)


async def _aggregates(
    lookups: Lookups,
    followed: list[_Node],
    dates: Window,
    direction: FlowDirection,
    least: float,
    per_node: int,
) -> dict[str, list[dict[str, Any]]]:
    """The counterparty rows of each followed account: one call per bank, at once."""
    by_bank: dict[str | None, list[str]] = {}
    for node in followed:
        by_bank.setdefault(node.bank, []).append(node.number)
    limit = min(per_node, MAX_COUNTERPARTIES)
    answers = await asyncio.gather(
        *(
            counterparty_rows(
                lookups,
                numbers,
                bank=bank,
                dates=dates,
                direction=direction,
                min_amount=least,
                limit=limit,
            )
            for bank, numbers in by_bank.items()
        )
    )
    rows: dict[str, list[dict[str, Any]]] = {}
    for answer in answers:
        for row in answer:
            rows.setdefault(row["account_number"], []).append(row)
    return rows


def _expand(
    info: Info,
    trace: _Trace,
    followed: list[_Node],
    rows: Mapping[str, list[dict[str, Any]]],
    hop: int,
    budget: _Budget,
) -> list[_Node]:
    """Add the followed accounts' counterparties (largest first) as nodes and edges, within
    the node cap; the accounts added at this hop, in order."""
    added: list[_Node] = []
    for node in followed:
        node.status = TraceStatus.LEAF
        for row in rows.get(node.number, ()):
            other = row["counterparty_account"]
            if other not in trace.nodes:
                if budget.spent():
                    node.status = TraceStatus.CAPPED
                    trace.truncated = True
                    continue
                budget.take()
                new = _Node(other, hop, row.get("counterparty_bank"), node.rules)
                trace.nodes[other] = new
                added.append(new)
            if node.status is TraceStatus.LEAF:
                node.status = TraceStatus.EXPANDED
            out = row["direction"] == "out"
            ends = (node.number, other) if out else (other, node.number)
            if ends not in trace.edges:
                edge = {
                    "from_": ends[0], "to": ends[1],
                    "direction": FlowDirection.OUT if out else FlowDirection.IN,
                    "amount": row["sum"], "count": row["count"],
                    "first": row["first"], "last": row["last"],
                }  # fmt: skip
                trace.edges[ends] = (edge, node.rules)
    return added


async def _look_up(lookups: Lookups, added: list[_Node]) -> None:
    """The new accounts in one batched lookup (decided, masked and audited by the loaders);
    an account the banking system does not know is OUTSIDE it."""
    if not added:
        return
    shown = {entity_key(a): a for a in await lookups.each("BankAccount", [n.number for n in added])}
    for node in added:
        node.account = shown.get(node.number)
        if node.account is None and node.bank is None:
            node.status = TraceStatus.OUTSIDE
        elif node.account is not None and node.bank is None:
            node.bank = record_data(node.account).get("bank")


def _built(info: Info, trace: _Trace) -> FundTrace:
    plan = info.context.plan
    assert plan is not None
    nodes = [
        build(
            TraceNode,
            {"account_number": n.number, "hop": n.hop, "status": n.status, "_account": n.account},
            n.rules,
        )
        for n in trace.nodes.values()
    ]
    edges = [build(TraceEdge, data, rules) for data, rules in trace.edges.values()]
    data = {"hops_followed": trace.hops, "truncated": trace.truncated}
    return build(FundTrace, {**data, "_nodes": nodes, "_edges": edges}, plan.build_rules)
