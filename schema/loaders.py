"""Per-request loaders: every lookup in one execution tick becomes one call per agency.

Resolvers ask ``loaders(info).one(Person, id)`` or ``.many(BankAccount, "holder_id", uscc)``;
the loader batches the keys, asks the agency's connector for exactly the fields the operation's
plan allows for that type, records the call in the audit record, and builds schema objects.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from connectors.base import Connector, Page, Record
from connectors.errors import ConnectorError
from gateway.limits import MAX_LOOKUP_KEYS
from gateway.types import AgencyCall, RequestContext
from schema.base import SPECS_BY_NAME, FieldForbidden, TypeSpec, build, states
from schema.batch import BatchLoader
from schema.paging import Cursors, scope
from schema.search import START, Position, scan, sees_everything

if TYPE_CHECKING:
    import strawberry

_Key = tuple[str, str, int | None]


class LookupTooLarge(ValueError):
    """More identifiers in one list lookup than MAX_LOOKUP_KEYS (BAD_USER_INPUT)."""

    def __init__(self, count: int) -> None:
        super().__init__(f"At most {MAX_LOOKUP_KEYS} identifiers in one lookup, got {count}.")


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
        self.cursors = cursors  # seals every paged field's cursors (schema/paging.py)

    def close(self) -> None:
        """Drop the batch loaders (their fetch functions refer back to this object): the
        request's records are then freed by reference counting when it ends."""
        self._loaders.clear()

    async def one(self, type_name: str, key: str) -> Any:
        """The entity of that GraphQL type with that key.

        A record that does not exist and one the caller may not see answer alike: null with a
        FORBIDDEN_FIELD error, so the answer does not reveal which.
        """
        found = await self._loader(type_name, _spec(type_name).key, None).load(key)
        if not found:
            raise FieldForbidden()
        return found[0]

    async def each(self, type_name: str, keys: Iterable[str]) -> list[Any]:
        """The entities for a list of keys (e.g. a case's suspects), in order, skipping absent."""
        loader = self._loader(type_name, _spec(type_name).key, None)
        return [objs[0] for objs in await loader.load_many(list(keys)) if objs]

    async def lookup(self, type_name: str, keys: Sequence[str]) -> list[Any]:
        """A root lookup by a list of keys: one agency call, in the order given, duplicates
        once; records that do not exist or that the caller may not see are left out, alike."""
        if len(keys) > MAX_LOOKUP_KEYS:
            raise LookupTooLarge(len(keys))
        return await self.each(type_name, dict.fromkeys(keys))

    async def many(self, type_name: str, by: str, key: str, limit: int | None = None) -> list[Any]:
        """Every entity of that type whose ``by`` field matches ``key`` (one-to-many links)."""
        found: list[Any] = await self._loader(type_name, by, limit).load(key)
        return found

    async def search(
        self, type_name: str, text: str, first: int, after: str | None, *, count: bool
    ) -> SearchPage:
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

        def visible(records: Sequence[Record]) -> list[bool]:
            return [d.visible for d in decide([r.labels for r in records])]

        everything = count and sees_everything(decide, spec.agency, ctx.declaration.case_id)
        found = await scan(fetch, visible, first, start, count and not everything)
        total = found.agency_total if found.total is None and everything else found.total
        end = None if found.next is None else self.cursors.seal(list(found.next), bound)
        return SearchPage(self._build(spec.cls, type_name, found.passed), end, total)

    def _fields(self, type_name: str) -> frozenset[str]:
        plan = self._ctx.plan
        assert plan is not None, "the execute stage runs only with a plan"
        return plan.source_fields.get(type_name, frozenset())

    def _loader(self, type_name: str, by: str | None, limit: int | None) -> BatchLoader[Any]:
        assert by is not None
        key = (type_name, by, limit)
        loader = self._loaders.get(key)
        if loader is None:
            spec = _spec(type_name)
            connector = self._connectors[spec.agency]
            kind = spec.kind or ""

            async def batch(keys: list[str]) -> Sequence[list[Any] | BaseException]:
                call = connector.fetch_many(kind, by, keys, self._fields(type_name), limit)
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
                status = "cached"  # connectors/cache.py answered it all: the agency was not asked
            return result
        except ConnectorError as exc:
            status = exc.code
            raise
        finally:
            self._ctx.audit.agency_calls.append(
                AgencyCall(agency, operation, keys, status, (time.perf_counter() - started) * 1e3)
            )

    def _build(self, cls: type, type_name: str, records: Sequence[Record]) -> list[Any]:
        """Schema objects for the records the caller may see; the others are left out."""
        return [obj for obj in self._shown(cls, type_name, records) if obj is not None]

    def _build_groups(
        self, cls: type, type_name: str, groups: Sequence[Sequence[Record]]
    ) -> list[list[Any]]:
        """``_build`` of each group (a batch's records per key), deciding them all at once."""
        shown = iter(self._shown(cls, type_name, [r for group in groups for r in group]))
        return [
            [obj for obj in itertools.islice(shown, len(group)) if obj is not None]
            for group in groups
        ]

    def _shown(self, cls: type, type_name: str, records: Sequence[Record]) -> list[Any]:
        """For each record, its schema object if the caller may see it, else None."""
        ctx = self._ctx
        assert ctx.plan is not None and ctx.records_visible is not None
        if not records:
            return []
        shaping = ctx.plan.shaping
        audit = ctx.audit
        decisions = ctx.records_visible([r.labels for r in records])
        # kept for gateway/disclosure.py: what these records say their parties are
        stating = ctx.stating if ctx.plan.disclosures and states(cls) else None
        out: list[Any] = []
        for record, decision in zip(records, decisions, strict=True):
            if not decision.visible:
                audit.withheld(type_name)
                out.append(None)
                continue
            if decision.flags:
                audit.flag(*decision.flags)
            audit.saw(type_name, record.key)
            if stating is not None:
                stating.append((cls, record.data))
            out.append(build(cls, record.data, shaping))
        return out


def _spec(type_name: str) -> TypeSpec:
    return SPECS_BY_NAME[type_name]


def loaders(info: strawberry.Info[RequestContext, None]) -> Loaders:
    result: Loaders = info.context.loaders
    return result
