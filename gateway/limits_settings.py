"""The ``[limits]`` table (docs/limits.md): how large and deep an operation may be; the checks
are gateway/limits.py's (which needs graphql, and this module does not)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic.dataclasses import dataclass

from kernel.settings import TABLE, PositiveInt, Refused, Table, check, setting


def _roles(value: Any) -> frozenset[str]:
    if not isinstance(value, list | tuple | set | frozenset) or not all(
        isinstance(r, str) for r in value
    ):
        raise Refused("a list of role names")
    return frozenset(value)


Limit = Annotated[int, PositiveInt]


@dataclass(frozen=True, slots=True, config=TABLE)
class QueryLimits(Table):
    """Defaults fit the schema's legitimate queries with room to spare (docs/limits.md)."""

    NAME = "limits"

    max_tokens: Limit = setting(2_000, "tokens in one query document (the parser stops there)")
    max_depth: Limit = setting(10, "selection nesting depth")
    max_aliases: Limit = setting(30, "aliased fields in one operation")
    max_root_fields: Limit = setting(10, "fields at the operation's root")
    max_directives_per_field: Limit = setting(3, "directives on one field")
    max_expanded_fields: Limit = setting(2_000, "fields counted with fragments expanded")
    max_cost: Limit = setting(
        50_000,
        "estimated cost, from list sizes (`first`/`limit` arguments), checked after validation",
    )
    default_list_size: Limit = setting(
        10, "estimated length of a list without a `first`/`limit` argument"
    )
    introspection_roles: Annotated[frozenset[str], check(_roles)] = setting(
        factory=lambda: frozenset({"policy-admin"}),
        doc="roles that may query `__schema` / `__type`",
    )
