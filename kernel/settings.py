"""Settings declared once: each subsystem's table is a frozen pydantic dataclass whose fields
carry the TOML key, the type, the check, the default and the documentation.

    @dataclass(frozen=True, config=TABLE)
    class QueryLimits(Table):
        NAME: ClassVar[str] = "limits"
        max_depth: Annotated[int, whole(1)] = setting(10, "selection nesting depth")

From that one declaration come: the validation of a table of the file (:meth:`Table.from_mapping`,
every problem in one run, each message starting with the key's path: ``limits.max_depth: ...``),
the ``JOINTGATE_*`` environment overrides and their value types (kernel/overrides.py), and the
key table of docs/configuration.md (gateway/settings_docs.py).

A check is a plain function of the value that returns the value to keep or raises
:class:`Refused`; it runs on what the file gives (TOML values: text where a path is meant) and
on what code passes (``Settings(data_dir=Path(...))``), and loads files named by the config only
for values that come from it (text), with ``base`` (the config file's directory) from the
validation context.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass as plain_dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, Union, cast, get_args, get_origin

from pydantic import ConfigDict, Field, PlainValidator, TypeAdapter, ValidationError
from pydantic import ValidationInfo as Info
from pydantic_core import PydanticUndefined

from kernel.config import ConfigError

__all__ = [
    "TABLE",
    "Declared",
    "Info",
    "Kind",
    "Refused",
    "Table",
    "check",
    "context",
    "declared",
    "setting",
]

#: the pydantic configuration of every settings table: unknown keys are errors, never ignored
TABLE = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

Kind = Literal["str", "int", "float", "bool", "list", "table"]

#: keys that would hold a secret: refused in the file and in overrides (docs/configuration.md)
SECRET_KEYS = frozenset({"key", "data_key", "password", "secret", "token"})


class Refused(ValueError):
    """A value a check refuses. Each problem is ``text`` about the key itself, or ``(sub,
    text)`` about a part of it (``volume.Person``) or, from a check of the whole table, about
    one of its keys (``request_timeout_s``)."""

    def __init__(self, *problems: str | tuple[str, str]) -> None:
        self.problems = [p if isinstance(p, tuple) else ("", p) for p in problems]
        super().__init__("; ".join(text for _, text in self.problems))


def check(function: Callable[[Any], Any] | Callable[[Any, Info], Any]) -> PlainValidator:
    """A field's check (``Annotated[int, check(port)]``): the whole validation of its value.
    From the file it refuses; from code (no validation context: ``Settings(port=0)`` in the
    demo, a short timeout in a test) it normalizes what it can and keeps what it would refuse,
    as the code says."""
    with_info = len(inspect.signature(function).parameters) > 1

    def run(value: Any, info: Info) -> Any:
        try:
            return function(value, info) if with_info else function(value)  # type: ignore[call-arg]
        except Refused:
            if context(info):
                raise
            return value

    return PlainValidator(run)


def setting(
    default: Any = PydanticUndefined,
    doc: str = "",
    *,
    key: str = "",
    shown: str = "",
    required: str = "",
    factory: Callable[[], Any] | None = None,
    always: bool = False,
    flatten: bool = False,
    internal: bool = False,
    kind: Kind | None = None,
    repr: bool = True,
) -> Any:
    """A field of a settings table. ``doc``: its row in docs/configuration.md; ``key``: its
    TOML key when not the field's name; ``shown``: the default as the docs say it (else taken
    from ``default``); ``required``: what the missing key's problem says; ``always``: the
    check runs on the default too (defaults that depend on other keys or on the environment);
    ``flatten``: a dataclass whose keys sit in this table (``[agencies.NAME] retries``);
    ``internal``: not a key of the file (set by code, or by a check from other keys)."""
    extra: dict[str, Any] = {"key": key, "shown": shown, "required": required}
    extra |= {"flatten": flatten, "internal": internal, "kind": kind}
    options: dict[str, Any] = {"description": doc, "json_schema_extra": extra}
    options["validate_default"] = always
    info = Field(default_factory=factory, **options) if factory else Field(default, **options)
    return info if repr else dataclasses.field(default=info, repr=False)


@plain_dataclass(frozen=True, slots=True)
class Declared:
    """One key of a table as declared: for the loader, the overrides and the docs."""

    key: str  # the TOML key
    field: str  # the attribute
    kind: Kind
    doc: str
    default: str  # as the docs show it; "required" when there is none
    owner: type  # the class declaring it (a flattened one for its keys)


def context(info: Info) -> dict[str, Any]:
    """The validation context: ``base`` and whatever the table's loader passes; {} from code."""
    return info.context if isinstance(info.context, dict) else {}


def base_of(info: Info) -> Path:
    return Path(context(info).get("base", Path()))


class Table:
    """What every settings table has: its name (``NAME``), and :meth:`from_mapping`."""

    NAME: ClassVar[str] = ""
    #: an unknown key's problem lists the known keys instead of guessing the closest one
    LIST_KEYS: ClassVar[bool] = False

    @classmethod
    def unknown_key(cls, key: str) -> str | None:
        """The problem with a key this table does not have, if it needs its own words."""
        return None

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], base: Path = Path(), **ctx: Any) -> Self:
        """This table of a parsed file; ConfigError with every problem."""
        value, problems = load_table(cls, table, cls.NAME, base=base, **ctx)
        if problems or value is None:
            raise ConfigError(*problems)
        return cast(Self, value)


def _extra(info: Any) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _fields(cls: type) -> Mapping[str, Any]:
    fields: Mapping[str, Any] = getattr(cls, "__pydantic_fields__", {})
    return fields


def kind_of(annotation: Any) -> Kind:
    """The TOML type of a field (and so how an override's text is read)."""
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    origin = get_origin(annotation) or annotation
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if origin in (tuple, list, frozenset, set):
        return "list"
    if (isinstance(origin, type) and issubclass(origin, Mapping)) or origin is Mapping:
        return "table"
    return "str"


def declared(cls: type) -> Iterator[Declared]:
    """The keys of a table in declaration order, flattened ones in place; internal fields and
    sub-tables (a field whose type is itself a table) left out."""
    for name, info in _fields(cls).items():
        extra = _extra(info)
        if extra.get("internal"):
            continue
        if extra.get("flatten"):
            yield from declared(info.annotation)
            continue
        if isinstance(info.annotation, type) and issubclass(info.annotation, Table):
            continue
        args = [a for a in get_args(info.annotation) if isinstance(a, type)]
        if any(issubclass(a, Table) for a in args):
            continue
        yield Declared(
            key=extra.get("key") or name,
            field=name,
            kind=extra.get("kind") or kind_of(info.annotation),
            doc=info.description or "",
            default=extra.get("shown") or _shown(info),
            owner=cls,
        )


def _shown(info: Any) -> str:
    if info.default_factory is not None:
        value = info.default_factory()
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    return f"`{toml(value)}`" if value not in (None, "") else "none" if value is None else '`""`'


def toml(value: Any) -> str:
    """A default as it would be written in the file."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return "[" + ", ".join(f'"{v}"' for v in items) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + "}"
    return str(value)


def load_table(
    cls: type[Any], table: Mapping[str, Any], where: str, *, base: Path = Path(), **ctx: Any
) -> tuple[Any, list[str]]:
    """The table ``where`` of a parsed file as ``cls``, and every problem with it: unknown
    keys first, then each key's in declaration order, missing required keys last. None with
    problems (the caller falls back to defaults, so the rest is checked all the same)."""
    keys = {d.key: d for d in declared(cls)}
    flattened = {
        name: info.annotation for name, info in _fields(cls).items() if _extra(info).get("flatten")
    }
    sub_tables = {
        _extra(info).get("key") or name: name
        for name, info in _fields(cls).items()
        if not _extra(info).get("internal") and name not in flattened
        and (_extra(info).get("key") or name) not in keys
    }  # fmt: skip
    problems: list[str] = []
    data: dict[str, Any] = {}
    for key, value in table.items():
        if key in keys:
            d = keys[key]
            if d.owner is cls:
                data[d.field] = value
            else:
                outer = next(n for n, t in flattened.items() if t is d.owner)
                data.setdefault(outer, {})[d.field] = value
        elif key in sub_tables:
            data[sub_tables[key]] = value
        else:
            problems.append(f"{where}.{key}: {_unknown(cls, key, keys, where)}")
    try:
        value = TypeAdapter(cls).validate_python(
            data, context={"base": base, "where": where, **ctx}
        )
    except ValidationError as exc:
        return None, problems + problems_of(exc, where, cls)
    return (None if problems else value), problems


def _unknown(cls: type[Any], key: str, keys: Mapping[str, Declared], where: str) -> str:
    own = cls.unknown_key(key) if issubclass(cls, Table) else None
    if own:
        return own
    if key in SECRET_KEYS:
        if f"{key}_file" in keys:
            return f"secrets are not read from the config; use {key}_file or {key}_env"
        return "secrets are not read from the config (docs/configuration.md)"
    close = difflib.get_close_matches(key, keys, n=1)
    if close and not (issubclass(cls, Table) and cls.LIST_KEYS):
        return f"unknown key; did you mean {where + '.' if where else ''}{close[0]}?"
    return f"unknown key; known: {', '.join(keys)}"


def problems_of(exc: ValidationError, where: str, cls: type) -> list[str]:
    """One line per problem, each starting with its key's path in the file."""
    first: list[str] = []
    last: list[str] = []
    fields = _fields(cls)
    for error in exc.errors(include_url=False):
        path = []
        for i, part in enumerate(error["loc"]):
            info = fields.get(str(part)) if i == 0 else None
            extra = _extra(info) if info is not None else {}
            if not extra.get("flatten"):
                path.append(str(extra.get("key") or part))
        at = ".".join([where, *path]) if where else ".".join(path)
        refused = (error.get("ctx") or {}).get("error")
        if isinstance(refused, Refused):
            first += [f"{_at(at, sub)}: {text}" for sub, text in refused.problems]
        elif error["type"] == "missing":
            info = fields.get(str(error["loc"][-1]))
            required = _extra(info).get("required") if info is not None else ""
            last.append(f"{at}: {(required or 'required').format(name=where.rsplit('.')[-1])}")
        else:
            first.append(f"{at}: {error['msg']}")
    return first + last


def _at(at: str, sub: str) -> str:
    """The path of a problem: ``sub`` below ``at``, or ``<sibling>``: a key beside it."""
    if sub.startswith("<"):
        return f"{at.rsplit('.', 1)[0]}.{sub[1:-1]}"
    return ".".join(filter(None, (at, sub)))


# --- checks shared by the tables -----------------------------------------------------------


def positive(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)  # TOML has nan and inf
        or value <= 0
    ):
        raise Refused(f"must be a positive number, got {value!r}")
    return float(value)


def positive_int(value: Any) -> int:
    """A positive number, kept whole (``2.5`` is 2, as int() would)."""
    return int(positive(value))


def whole(low: int) -> PlainValidator:
    def checked(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise Refused(f"must be a whole number >= {low}, got {value!r}")
        return value

    return check(checked)


def share(value: Any, zero: bool = True) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (0 <= value <= 1 if zero else 0 < value <= 1)
    ):
        raise Refused(f"must be a share from 0 to 1, got {value!r}")
    return float(value)


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Refused(f"true or false, got {value!r}")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused(f"must be text (a TOML string), got {value!r}")
    return value


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused(f"must be a string, got {value!r}")
    return value


def path(value: Any) -> Path:
    """A path as written (relative ones are resolved by whoever knows against what)."""
    return value if isinstance(value, Path) else Path(_not_blank(text(value)))


def config_path(value: Any, info: Info) -> Path:
    """A file the config names: relative to the config file's directory, absolute."""
    if isinstance(value, Path):
        return value
    return (base_of(info) / _not_blank(text(value))).absolute()


def _not_blank(name: str) -> str:
    """ "" would name the directory it is relative to: never the file meant."""
    if not name.strip():
        raise Refused("must not be empty (a file name)")
    return name


def shown_url(url: str) -> str:
    """``url`` as a message may quote it: any user and password replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    if not sep or "@" not in authority:
        return url
    return f"{scheme}{sep}***@{authority.rpartition('@')[2]}{slash}{tail}"


def optional(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def checked(value: Any) -> Any:
        return None if value is None else function(value)

    return checked


Positive = check(positive)
PositiveInt = check(positive_int)
Flag = check(flag)
Text = check(text)
String = check(string)
