"""Per-request loaders: every lookup in one execution tick becomes one call per agency.

Resolvers ask ``loaders(info).one(Person, id)`` or ``.many(BankAccount, "holder_id", uscc)``;
the loader batches the keys, asks the agency's connector for exactly the fields the operation's
plan allows for that type, records the call in the audit record, and builds schema objects.
A record the record-level rules hide is left out, and recorded as withheld at the field path of
each resolver that asked for it (``AuditRecord.withheld_at``, with the rule's policies).

In a joint team's request (``Plan.outside``), each record is first placed in or outside the
team's scope (schema/scope.py): one in scope is built by the plan's rules, one outside by the
rules of the same request without the team, and what that withholds or masks is recorded at
the field paths of each resolver that shows it, as for any withheld or masked field.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)

from connectors.banking import FundFlows
from connectors.base import Connector, Grouped, Page, Record
from connectors.errors import AgencyRejected, ConnectorError
from kernel.types import AgencyCall, RequestContext
from schema.base import SPECS, SPECS_BY_NAME, FieldForbidden, TypeSpec, build, states
from schema.batch import BatchLoader
from schema.paging import Cursors, scope
from schema.scope import OUTSIDE, Scope
from schema.search import START, Position, scan, sees_everything

if TYPE_CHECKING:
    import strawberry

Window = tuple[str | None, str | None]  # a date range: (from, to), ISO days, None: open
_Key = tuple[str, str, int | None, Window | None]
Info = GraphQLResolveInfo[Any]

MAX_LOOKUP_KEYS = 100  # identifiers in one list lookup: courtCases(caseNumbers: [...]) ...


class LookupTooLarge(ValueError):
    """More identifiers in one list lookup than MAX_LOOKUP_KEYS (BAD_USER_INPUT)."""

    def __init__(self, count: int) -> None:
        super().__init__(f"At most {MAX_LOOKUP_KEYS} identifiers in one lookup, got {count}.")


class _Hidden:
    """A record the record-level rules hid, in a batch's results: left out of every answer,
    recorded at the path of each resolver that asked for it. In a team request, a record
    outside the scope keeps ``record`` and its class: a link may still find it in scope."""

    __slots__ = ("cls", "policies", "record")

    def __init__(
        self, policies: tuple[str, ...], record: Record | None = None, cls: type | None = None
    ) -> None:
        self.policies = policies
        self.record = record
        self.cls = cls


class _Partly(list[Any]):
    """A key's objects from a batch, some of them ``_Hidden`` (the others are plain lists)."""

    __slots__ = ()


class SearchPage(NamedTuple):
    nodes: list[Any]
    end_cursor: str | None  # sealed; None: there is no next page
    total: int | None  # matches the caller may see, when known (schema/search.py)


class Loaders:
    def __init__(
        self, ctx: RequestContext, connectors: Mapping[str, Connector], cursors: Cursors
    ) -> None:
        self._ctx = ctx
        self._connectors = connectors
        self._loaders: dict[_Key, BatchLoader[Any]] = {}
        self._batches: dict[Any, BatchLoader[Any]] = {}  # batch(): other per-request batches
        # accounts every traceFunds of this request has shown so far: its node cap holds for
        # the request, not for each alias (schema/trace.py)
        self.traced = 0
        self.cursors = cursors  # seals every paged field's cursors (schema/paging.py)
        # a joint team's request: which records its grant covers (schema/scope.py)
        plan, declaration = ctx.plan, ctx.declaration
        self._scope: Scope | None = None
        if plan is not None and plan.outside is not None:
            case = declaration.case_id if declaration is not None else None
            self._scope = Scope(ctx.case_subjects or frozenset(), case or "")
        self._outside_paths: set[str] = set()  # paths whose scope withholding is recorded

    def close(self) -> None:
        """Drop the batch loaders (their fetch functions refer back to this object): the
        request's records are then freed by reference counting when it ends."""
        self._loaders.clear()
        self._batches.clear()

    async def one(self, type_name: str, key: str, at: Info | None = None) -> Any:
        """The entity of that GraphQL type with that key (``at``: the asking resolver's info,
        where a hidden record is recorded as withheld).

        A record that does not exist and one the caller may not see answer alike: null with a
        FORBIDDEN_FIELD error, so the answer does not reveal which.
        """
        loader = self._loader(type_name, _spec(type_name).key, None)
        found = self._shown_at(await loader.load(key), at)
        if not found:
            raise FieldForbidden()
        return found[0]

    async def each(self, type_name: str, keys: Iterable[str], at: Info | None = None) -> list[Any]:
        """The entities for a list of keys (e.g. a case's suspects), in order, skipping absent."""
        loader = self._loader(type_name, _spec(type_name).key, None)
        groups = [self._shown_at(objs, at) for objs in await loader.load_many(list(keys))]
        return [objs[0] for objs in groups if objs]

    async def lookup(
        self, type_name: str, keys: Sequence[str], at: Info | None = None
    ) -> list[Any]:
        """A root lookup by a list of keys: one agency call, in the order given, duplicates
        once; records that do not exist or that the caller may not see are left out, alike."""
        if len(keys) > MAX_LOOKUP_KEYS:
            raise LookupTooLarge(len(keys))
        return await self.each(type_name, dict.fromkeys(keys), at)

    async def many(
        self,
        type_name: str,
        by: str,
        key: str,
        limit: int | None = None,
        at: Info | None = None,
        window: Window | None = None,
    ) -> list[Any]:
        """Every entity of that type whose ``by`` field matches ``key`` (one-to-many links);
        ``window``: only those of the days in that range (transactions)."""
        return self._shown_at(await self._loader(type_name, by, limit, window).load(key), at)

    def connector(self, agency: str) -> Connector:
        """The agency's connector, for a resolver that asks it more than records (tracing)."""
        return self._connectors[agency]

    async def call(self, agency: str, operation: str, keys: int, call: Awaitable[Any]) -> Any:
        """``call``'s result, the agency call recorded in the audit record as the loaders'
        own are (``AuditRecord.agency_calls``)."""
        return await self._call(agency, operation, keys, call)

    def batch(self, key: Any, fetch: Callable[[list[str]], Awaitable[Sequence[Any]]]) -> Any:
        """The request's batch loader named ``key``, made with ``fetch`` the first time: the
        keys asked in one tick become one ``fetch`` (schema/batch.py)."""
        loader = self._batches.get(key)
        if loader is None:
            loader = self._batches[key] = BatchLoader(fetch)
        return loader

    def _shown_at(self, found: list[Any], at: Info | None) -> list[Any]:
        """A batch's objects for one key, the hidden ones recorded as withheld at ``at``'s
        field path and left out. Each resolver records its own path: the batch loader answers
        a key once per request, to every resolver that asks for it."""
        if type(found) is not _Partly:
            return found
        path = "" if at is None else field_path(at)
        scope = self._scope
        # reached through a link (not a root lookup): may be named by a subject's record
        linked = scope is not None and at is not None and at.parent_type is not at.schema.query_type
        shown = []
        for obj in found:
            placed = obj if scope is None else self._placed(obj, path, linked, scope)
            if type(placed) is _Hidden:
                if path:
                    self._ctx.audit.withheld_at(path, placed.policies)
            else:
                shown.append(placed)
        return shown

    def _placed(self, obj: Any, path: str, linked: bool, scope: Scope) -> Any:
        """A team request's object as the resolver at ``path`` gets it. A record outside the
        scope by itself is in scope through a link when a subject's record named it, and is
        built again. One that stays outside is not returned by a field denied without the
        team (as if it did not exist, as for a caller without the team), and otherwise shown
        as built, what that withholds recorded at ``path``."""
        hidden = type(obj) is _Hidden
        record = obj.record if hidden else obj.__dict__.get(OUTSIDE)
        if record is None:
            return obj
        cls = obj.cls if hidden else type(obj)
        if linked and scope.joins(record):
            return self._joined(cls, record, scope)
        if hidden:
            return obj
        ctx = self._ctx
        assert ctx.plan is not None and ctx.plan.outside is not None
        refused = ctx.plan.outside.refused.get(path) if path else None
        if refused is not None:
            ctx.audit.withheld(cls.__name__)
            return _Hidden(refused)
        ctx.audit.saw(cls.__name__, record.key)
        if ctx.plan.disclosures and states(cls):
            ctx.stating.append((cls, record.data))
        if path:
            self._outside_at(path)
        return obj

    def _joined(self, cls: type | None, record: Record, scope: Scope) -> Any:
        """A record outside the scope by itself, reached through a link and named by a
        subject's record: decided and built again, in scope."""
        ctx = self._ctx
        assert cls is not None and ctx.plan is not None and ctx.records_visible is not None
        [decision] = ctx.records_visible([scope.labels(record, True)])
        if not decision.visible:
            return _Hidden(decision.policies)
        type_name = cls.__name__
        if decision.flags:
            ctx.audit.flag(*decision.flags)
        ctx.audit.saw(type_name, record.key)
        if ctx.plan.disclosures and states(cls):
            ctx.stating.append((cls, record.data))
        scope.shown(SPECS[cls], type_name, record)
        return build(cls, record.data, ctx.plan.build_rules)

    def _outside_at(self, path: str) -> None:
        """Records outside the team's scope were shown at ``path``: what that withheld under it
        is recorded as withheld (with the policies that decide it without the team), what it
        masked as masked."""
        if path in self._outside_paths:
            return
        self._outside_paths.add(path)
        plan, audit = self._ctx.plan, self._ctx.audit
        assert plan is not None and plan.outside is not None
        for withheld, policies in plan.outside.withheld.get(path, ()):
            audit.withheld_at(withheld, policies)
        masked = [p for p in plan.outside.masked.get(path, ()) if p not in audit.fields_masked]
        if masked:
            audit.fields_masked = sorted((*audit.fields_masked, *masked))

    async def search(
        self, type_name: str, text: str, first: int, after: str | None, *, count: bool,
        at: Info | None = None,
    ) -> SearchPage:  # fmt: skip
        """A page of ``first`` records the caller may see among those whose name contains
        ``text``, from a cursor this gateway issued for the same caller and search (checked
        before the agency is asked); ``count``: the operation asks for the total."""
        ctx, spec = self._ctx, _spec(type_name)
        decide = ctx.records_visible
        assert decide is not None and ctx.declaration is not None
        bound = scope(ctx, type_name, text)
        start = START if after is None else Position.opened(self.cursors.open(after, bound))
        connector, kind = self._connectors[spec.agency], spec.kind or ""
        fields = self._fields(type_name)

        def fetch(at: str | None, limit: int) -> Awaitable[Page]:
            call = connector.search(kind, text, fields, limit, at)
            result: Awaitable[Page] = self._call(spec.agency, f"search {kind}", 1, call)
            return result

        team = self._scope
        plan = ctx.plan
        # a search denied without the team finds nothing outside its scope (_placed)
        refused = (
            team is not None and plan is not None and plan.outside is not None and at is not None
            and field_path(at) in plan.outside.refused
        )  # fmt: skip

        def visible(records: Sequence[Record]) -> list[bool]:
            if team is None:
                return [d.visible for d in decide([r.labels for r in records])]
            covered = [team.covers(spec, r) for r in records]
            labels = [team.labels(r, c) for r, c in zip(records, covered, strict=True)]
            found = decide(labels)
            if refused:
                return [d.visible and c for d, c in zip(found, covered, strict=True)]
            return [d.visible for d in found]

        everything = (
            count and not refused and sees_everything(decide, spec.agency, ctx.declaration.case_id)
        )
        found = await scan(fetch, visible, first, start, count and not everything)
        total = found.agency_total if found.total is None and everything else found.total
        end = None if found.next is None else self.cursors.seal(list(found.next), bound)
        [nodes] = self._build_groups(spec.cls, type_name, [found.passed])
        nodes = self._shown_at(nodes, at)
        return SearchPage(nodes, end, total)

    def _fields(self, type_name: str) -> frozenset[str]:
        plan = self._ctx.plan
        assert plan is not None, "the execute stage runs only with a plan"
        return plan.source_fields.get(type_name, frozenset())

    def _loader(
        self, type_name: str, by: str | None, limit: int | None, window: Window | None = None
    ) -> BatchLoader[Any]:
        assert by is not None
        key = (type_name, by, limit, window)
        loader = self._loaders.get(key)
        if loader is None:
            spec = _spec(type_name)
            connector = self._connectors[spec.agency]
            kind = spec.kind or ""

            async def batch(keys: list[str]) -> Sequence[list[Any] | BaseException]:
                fields = self._fields(type_name)
                call = (
                    connector.fetch_many(kind, by, keys, fields, limit)
                    if window is None
                    else _between(connector, kind, by, keys, fields, limit, window)
                )
                try:
                    grouped = await self._call(spec.agency, f"{kind} by {by}", len(keys), call)
                except ConnectorError as exc:
                    return [exc] * len(keys)
                return self._build_groups(spec.cls, type_name, [grouped.get(k, ()) for k in keys])

            loader = BatchLoader(batch)
            self._loaders[key] = loader
        return loader

    async def _call(self, agency: str, operation: str, keys: int, call: Any) -> Any:
        started = time.perf_counter()
        status = "ok"
        try:
            result = await call
            if getattr(result, "from_cache", False):
                status = (
                    "cached"  # gateway/record_cache.py answered it all: the agency was not asked
                )
            return result
        except ConnectorError as exc:
            status = exc.code
            raise
        finally:
            self._ctx.audit.agency_calls.append(
                AgencyCall(agency, operation, keys, status, (time.perf_counter() - started) * 1e3)
            )

    def _build_groups(
        self, cls: type, type_name: str, groups: Sequence[Sequence[Record]]
    ) -> list[list[Any]]:
        """``_shown`` of each group (a batch's records per key), deciding them all at once; a
        group with hidden records is a ``_Partly``."""
        every = self._shown(cls, type_name, [r for group in groups for r in group])
        if self._scope is not None:  # a team's request: records outside its scope too
            return _grouped(every, groups, _special)
        hidden = any(type(obj) is _Hidden for obj in every)
        shown = iter(every)
        out: list[list[Any]] = []
        for group in groups:
            objs = list(itertools.islice(shown, len(group)))
            out.append(_Partly(objs) if hidden and any(type(o) is _Hidden for o in objs) else objs)
        return out

    def _shown(self, cls: type, type_name: str, records: Sequence[Record]) -> list[Any]:
        """For each record, its schema object if the caller may see it, else a ``_Hidden``
        with the policies that hid it."""
        ctx = self._ctx
        assert ctx.plan is not None and ctx.records_visible is not None
        if not records:
            return []
        if self._scope is not None:
            return self._shown_scoped(cls, type_name, records, self._scope)
        build_rules = ctx.plan.build_rules
        audit = ctx.audit
        decisions = ctx.records_visible([r.labels for r in records])
        # kept for gateway/disclosure.py: what these records say their parties are
        stating = ctx.stating if ctx.plan.disclosures and states(cls) else None
        out: list[Any] = []
        for record, decision in zip(records, decisions, strict=True):
            if not decision.visible:
                audit.withheld(type_name)
                out.append(_Hidden(decision.policies))
                continue
            if decision.flags:
                audit.flag(*decision.flags)
            audit.saw(type_name, record.key)
            if stating is not None:
                stating.append((cls, record.data))
            out.append(build(cls, record.data, build_rules))
        return out

    def _shown_scoped(
        self, cls: type, type_name: str, records: Sequence[Record], scope: Scope
    ) -> list[Any]:
        """``_shown`` in a team's request: each record placed in or outside the team's scope
        first; in scope it is linked to the case for the record-level rules and built by the
        plan's rules, outside it is built by the rules without the team, and keeps its record
        (``OUTSIDE``) for the links that may yet find it in scope, and is recorded as seen only
        when a resolver gets it (``_placed``)."""
        ctx = self._ctx
        plan = ctx.plan
        assert plan is not None and plan.outside is not None and ctx.records_visible is not None
        spec, audit = SPECS[cls], ctx.audit
        covered = [scope.covers(spec, r) for r in records]
        decisions = ctx.records_visible(
            [scope.labels(r, c) for r, c in zip(records, covered, strict=True)]
        )
        stating = ctx.stating if plan.disclosures and states(cls) else None
        out: list[Any] = []
        for record, inside, decision in zip(records, covered, decisions, strict=True):
            if not decision.visible:
                audit.withheld(type_name)
                out.append(_Hidden(decision.policies, None if inside else record, cls))
                continue
            if decision.flags:
                audit.flag(*decision.flags)
            if inside:
                audit.saw(type_name, record.key)
                if stating is not None:
                    stating.append((cls, record.data))
                scope.shown(spec, type_name, record)
                out.append(build(cls, record.data, plan.build_rules))
            else:  # seen when a resolver gets it (_placed): a field may not return it
                obj: Any = build(cls, record.data, plan.outside.build_rules)
                obj.__dict__[OUTSIDE] = record
                out.append(obj)
        return out


async def _between(
    connector: Connector, kind: str, by: str, keys: Sequence[str], fields: frozenset[str],
    limit: int | None, window: Window,
) -> Grouped:  # fmt: skip
    """A one-to-many lookup over a date range: transactions of accounts, from the banking
    system (``connectors.banking.FundFlows``); no other lookup takes one."""
    if not isinstance(connector, FundFlows) or (kind, by) != ("transaction", "account_number"):
        raise AgencyRejected(connector.agency, f"no date range on {kind} by {by}", 400)
    start, end = window
    return await connector.transactions(keys, fields, start=start, end=end, limit_per_account=limit)


def _grouped(
    every: list[Any], groups: Sequence[Sequence[Record]], special: Callable[[Any], bool]
) -> list[list[Any]]:
    """``every`` cut into the batch's groups; a group with a ``special`` object is a
    ``_Partly``, which the resolvers that get it look through (``Loaders._shown_at``)."""
    shown = iter(every)
    out: list[list[Any]] = []
    for group in groups:
        objs = list(itertools.islice(shown, len(group)))
        out.append(_Partly(objs) if any(special(o) for o in objs) else objs)
    return out


def _special(obj: Any) -> bool:
    """Hidden, or built outside a team's scope: the resolvers that get it must look."""
    return type(obj) is _Hidden or OUTSIDE in obj.__dict__


def _spec(type_name: str) -> TypeSpec:
    return SPECS_BY_NAME[type_name]


class Lookups:
    """The loaders as one resolver calls them: what the record-level rules hide from it is
    recorded as withheld at the resolver's field path."""

    __slots__ = ("_info", "_loaders")

    def __init__(self, loaders: Loaders, info: Info) -> None:
        self._loaders = loaders
        self._info = info

    @property
    def cursors(self) -> Cursors:
        return self._loaders.cursors

    async def one(self, type_name: str, key: str) -> Any:
        return await self._loaders.one(type_name, key, self._info)

    async def each(self, type_name: str, keys: Iterable[str]) -> list[Any]:
        return await self._loaders.each(type_name, keys, self._info)

    async def lookup(self, type_name: str, keys: Sequence[str]) -> list[Any]:
        return await self._loaders.lookup(type_name, keys, self._info)

    async def many(
        self,
        type_name: str,
        by: str,
        key: str,
        limit: int | None = None,
        window: Window | None = None,
    ) -> list[Any]:
        return await self._loaders.many(type_name, by, key, limit, self._info, window)

    @property
    def loaders(self) -> Loaders:
        """The request's loaders themselves (agency calls beyond records: schema/trace.py)."""
        return self._loaders

    @property
    def info(self) -> Info:
        return self._info

    async def search(
        self, type_name: str, text: str, first: int, after: str | None, *, count: bool
    ) -> SearchPage:
        return await self._loaders.search(type_name, text, first, after, count=count, at=self._info)


def loaders(info: strawberry.Info[RequestContext, None]) -> Lookups:
    return Lookups(info.context.loaders, info._raw_info)


def field_path(info: Info) -> str:
    """A resolver's field path as audit records name fields (``enterprise.legalRepresentative``):
    its response path with list indices dropped and aliases resolved to field names, through
    the operation's fragments. Worked out only when a record was withheld."""
    names: list[str] = []
    selections = [info.operation.selection_set]
    for key in info.path.as_list():
        if not isinstance(key, str):
            continue
        nodes = [
            node for selection in selections for node in _fields(selection, info.fragments)
            if (node.alias or node.name).value == key
        ]  # fmt: skip
        if not nodes:  # not in the document (cannot happen): the response key stands
            names.append(key)
            continue
        names.append(nodes[0].name.value)
        selections = [node.selection_set for node in nodes if node.selection_set is not None]
    return ".".join(names)


def _fields(
    selections: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    for node in selections.selections:
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(node.selection_set, fragments)
        elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
            yield from _fields(fragments[node.name.value].selection_set, fragments)
