"""How schema types describe themselves to the rest of the gateway.

Every GraphQL field carries a :class:`FieldInfo` (owning agency, category, sensitivity and where
its value comes from) in its Strawberry metadata. Policies decide on those attributes, the
analyzer turns selected fields into the agency-side fields to request, and a field without one
is a build error (deny by default, see ``schema.catalog``).

Three shapes of field:

- ``attr(...)``: a value of the record (``source`` names the agency-side field; ``identity``
  names the entity types an identifier identifies, so that showing it in clear counts as
  disclosing that entity: see ``gateway/disclosure.py``; ``stated_by`` the record's field that
  says which of them a value is; ``personal`` the personal-data category of a natural
  person's identifier or name, decided as the ``Person`` field of that category wherever it
  appears: see :class:`Personal`);
- ``embedded(...)``: a list of sub-objects inside the record (their fields are ``attr`` too);
- ``link(...)``: another entity, fetched through a loader (``requires`` names the record's
  fields needed to follow the link).

Entity types are declared with ``@entity(agency=..., kind=..., key=...)``; embedded ones with
``@embedded(agency=...)``::

    @entity(agency="market", kind="enterprise", key="uscc", refers=("legal_rep_id",))
    class Enterprise:
        uscc: USCC = attr("registry")
        name: str | None = attr("registry")

An entity also says which of its record's agency-side fields name other entities (``refers``:
a legal representative's ID, an account's holder, a case's suspects; ``list.field`` inside an
embedded list) and, for a record that is part of another (a transaction of an account),
``part_of=(owner type, field naming it)``: a joint team's grant covers a record by them
(``schema/scope.py``, docs/policies.md "Team scope").
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, dataclass_transform

import strawberry

from kernel import masks
from kernel.types import BuildRules

META = "jointgate"
T = TypeVar("T")


class Category(enum.StrEnum):
    """What kind of information a field is; the default policies speak of these."""

    REGISTRY = "registry"  # public registration data, published lists
    IDENTITY = "identity"  # identifying a natural person
    CONTACT = "contact"  # addresses and phone numbers of persons
    FINANCIAL = "financial"  # balances, transactions, account details
    CRIMINAL = "criminal"  # police case details
    JUDICIAL = "judicial"  # court proceedings, judgments
    ENFORCEMENT = "enforcement"  # enforcement and freezing measures
    AUDIT = "audit"  # the audit trail's records of who accessed what (Query.auditLog)
    WORKFLOW = "workflow"  # the joint office's own work: leads, referrals, cases (schema/office.py)
    CREDIT = "credit"  # credit reports: loans, guarantees, overdue amounts (schema/credit.py)


class Personal(enum.StrEnum):
    """Personal-data categories: a natural person's identifier or name, wherever it appears.

    The ``Person`` field tagged with a category is its anchor (``Person.idNumber`` for
    ``resident-id``); every other field tagged with it (an account's holder, a legal
    representative's name, a shareholder, a court party, a counterparty) is decided exactly as
    the anchor is, whichever agency holds it (policies/engine.py, docs/policies.md: "Fields are
    decided by data category"). A party that may be a person or an enterprise is tagged too: it
    is decided as the person's field, the stricter.
    """

    RESIDENT_ID = "resident-id"  # Person.idNumber
    PERSON_NAME = "person-name"  # Person.name
    PHONE = "phone"  # Person.phone
    ADDRESS = "address"  # Person.householdAddress


class Shape(enum.StrEnum):
    ATTR = "attr"
    EMBEDDED = "embedded"
    LINK = "link"


@dataclass(frozen=True, slots=True)
class FieldInfo:
    category: Category
    sensitivity: int
    shape: Shape
    source: str | None = None
    requires: tuple[str, ...] = ()
    agency: str | None = None  # None: the agency of the type that declares the field
    mask: str | None = None  # how to show it masked (kernel/masks.py); None: cannot be
    identity: tuple[str, ...] = ()  # entity types an identifier field identifies, in order
    stated_by: str | None = None  # the record's field saying which of them a value is
    personal: Personal | None = None  # personal-data category: decided as Person's field
    # a link computed from other fields of its parent (riskSignals): those fields, as a GraphQL
    # selection on the parent type, decided for the operation as if selected (gateway/analyze.py)
    evidence: str | None = None
    # other fields (``"BankAccount.counterparties"``) whose decision the resolver follows: the
    # analyzer counts them as touched wherever this field is, so the plan decides them too
    consults: tuple[str, ...] = ()


def attr(
    category: str,
    sensitivity: int = 0,
    *,
    source: str | None = None,
    mask: str | None = None,
    identity: str | tuple[str, ...] = (),
    stated_by: str | None = None,
    personal: str | None = None,
    doc: str | None = None,
) -> Any:
    """A plain value of the record; ``source`` defaults to the Python attribute name; ``doc``:
    its description in the schema (what a front-end developer reads in GraphiQL).

    An identifier declares the entity types it identifies, the most specific first
    (``identity=("Person", "Enterprise")`` for a party that is a person or an enterprise):
    shown in clear, it is a disclosure of that entity, recorded and counted like the entity's
    own record (docs/limits.md). A party's identifier names the agency-side field of the same
    record that says which of the two it is (``stated_by="party_type"``): requested with it,
    it decides where the identifier checks cannot (kernel.masks.party_type).

    A natural person's identifier or name declares its personal-data category
    (``personal="resident-id"``, :class:`Personal`): it is then decided as the ``Person`` field
    of that category, and keeps its own mask (which it must have if that field has one).
    """
    identities = (identity,) if isinstance(identity, str) else tuple(identity)
    requires = (stated_by,) if stated_by else ()
    info = FieldInfo(
        Category(category), sensitivity, Shape.ATTR, source, requires, mask=mask,
        identity=identities, stated_by=stated_by,
        personal=None if personal is None else Personal(personal),
    )  # fmt: skip
    return strawberry.field(metadata={META: info}, description=doc)


def embedded(
    category: str, sensitivity: int = 0, *, source: str | None = None, doc: str | None = None
) -> Any:
    info = FieldInfo(Category(category), sensitivity, Shape.EMBEDDED, source)
    return strawberry.field(metadata={META: info}, description=doc)


def link(
    agency: str,
    category: str,
    sensitivity: int = 0,
    *,
    requires: tuple[str, ...] = (),
    description: str | None = None,
    evidence: str | None = None,
    consults: tuple[str, ...] = (),
) -> Callable[[T], T]:
    """Decorate a resolver that follows a link to another agency's (or the same) entity.
    ``consults``: the fields (``"Type.field"``) whose decision the resolver itself follows
    (``Query.traceFunds`` follows an account only where ``BankAccount.counterparties`` may
    be read): the plan decides them wherever this field is selected. ``evidence``: for a
    link computed from its parent's other fields (``riskSignals``), those fields as a
    selection on the parent type, decided as if selected (gateway/analyze.py)."""
    info = FieldInfo(
        Category(category),
        sensitivity,
        Shape.LINK,
        None,
        requires,
        agency,
        evidence=evidence,
        consults=consults,
    )
    decorator: Callable[[T], T] = strawberry.field(metadata={META: info}, description=description)
    return decorator


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """An entity or embedded type: who owns it and how to build it from agency data."""

    cls: type
    agency: str
    kind: str | None  # None for embedded types
    key: str | None
    # (python attribute, agency-side source, embedded class or None)
    values: tuple[tuple[str, str, type | None], ...] = ()
    attributes: frozenset[str] = frozenset()  # the python names of those values
    # ``values`` split for the builder: plain ones, and embedded object lists with their class
    plain: tuple[tuple[str, str], ...] = ()
    nested: tuple[tuple[str, str, type], ...] = ()
    # python attribute -> (its agency-side field, the one saying what its value is: stated_by)
    stated: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    # agency-side fields naming other entities (``list.field`` inside an embedded list), and
    # (owner type, field naming it) for a record that is part of another: schema/scope.py
    refers: tuple[str, ...] = ()
    part_of: tuple[str, str] | None = None


NOT_AVAILABLE = "Not available for your access rights and declared purpose."


class FieldForbidden(AttributeError):
    """A field the plan withholds, or a record the caller may not see or that does not exist.

    Both read the same (NOT_AVAILABLE), so an answer never tells which of the two it was.
    """

    code = "FORBIDDEN_FIELD"

    def __init__(self) -> None:
        super().__init__(NOT_AVAILABLE)


def _withheld(self: object, name: str) -> Any:
    """Attribute lookup fallback: a schema attribute missing from an object was withheld."""
    spec = SPECS.get(type(self))
    if spec is not None and name in spec.attributes:
        raise FieldForbidden()
    raise AttributeError(name)


SPECS: dict[type, TypeSpec] = {}
SPECS_BY_NAME: dict[str, TypeSpec] = {}  # by GraphQL type name (the class name)


def _register(
    cls: type,
    agency: str,
    kind: str | None,
    key: str | None,
    refers: tuple[str, ...] = (),
    part_of: tuple[str, str] | None = None,
    doc: str | None = None,
) -> type:
    typed: type = strawberry.type(cls, description=doc)
    typed.__getattr__ = _withheld  # type: ignore[attr-defined]
    spec = TypeSpec(typed, agency, kind, key, refers=refers, part_of=part_of)
    SPECS[typed] = SPECS_BY_NAME[typed.__name__] = spec
    return typed


@dataclass_transform()
def entity(
    *,
    agency: str,
    kind: str,
    key: str,
    refers: tuple[str, ...] = (),
    part_of: tuple[str, str] | None = None,
    doc: str | None = None,
) -> Callable[[type[T]], type[T]]:
    """An entity type: records of ``kind`` from ``agency``, keyed by ``key``. ``refers``: the
    record's fields that name other entities directly; ``part_of``: (owner type, the field
    naming the owner) for a record that belongs to another. Checked when the schema is built
    (schema/scope.py). ``doc``: the type's description in the schema."""

    def wrap(cls: type[T]) -> type[T]:
        return _register(cls, agency, kind, key, tuple(refers), part_of, doc)

    return wrap


@dataclass_transform()
def embedded_type(*, agency: str, doc: str | None = None) -> Callable[[type[T]], type[T]]:
    def wrap(cls: type[T]) -> type[T]:
        return _register(cls, agency, None, None, doc=doc)

    return wrap


def build(cls: type[T], data: Mapping[str, Any], build_rules: Mapping[str, BuildRules]) -> T:
    """Make a schema object from agency data without per-field resolvers.

    Fields the operation did not select are simply absent from ``data`` and become ``None``.
    ``build_rules`` (from the plan) withholds attributes, which then answer FORBIDDEN_FIELD, and
    masks others. The record itself is kept as ``_data`` for link resolvers.
    """
    spec = SPECS[cls]
    compiled = _BUILDERS.get(cls)
    if compiled is None or compiled.spec is not spec:
        compiled = _compile(spec)
    # the hot path (every row): nothing withheld or masked in this type or its embedded types
    if not build_rules or compiled.unaffected_by(build_rules):
        obj: T = compiled.make(data)
        return obj
    rules = build_rules.get(cls.__name__)
    obj = object.__new__(cls)
    values = obj.__dict__
    get = data.get
    if rules is None or not (rules.denied or rules.masks):
        for name, source in spec.plain:
            values[name] = get(source)
        for name, source, sub in spec.nested:
            items = get(source)
            values[name] = None if items is None else [build(sub, i, build_rules) for i in items]
        values["_data"] = data
        return obj
    denied, masked = rules.denied, rules.masks
    for name, source, embedded_cls in spec.values:
        if name in denied:
            continue
        value = get(source)
        kind = masked.get(name)
        if kind is not None:
            told = spec.stated.get(name)
            value = masks.apply(kind, value, None if told is None else get(told[1]))
        if embedded_cls is not None and value is not None:
            value = [build(embedded_cls, item, build_rules) for item in value]
        values[name] = value
    values["_data"] = data
    return obj


class _Builder:
    """``build`` of one type for requests that withhold and mask nothing of it or its embedded
    types: one function of straight-line code per type (as ``dataclasses`` makes ``__init__``),
    which fills the object's ``__dict__`` exactly as the loop in ``build`` does, in the same
    order."""

    __slots__ = ("make", "spec", "types")

    def __init__(self, spec: TypeSpec, make: Callable[[Mapping[str, Any]], Any]) -> None:
        self.spec = spec
        self.make = make
        self.types: tuple[str, ...] = ()  # GraphQL names of the type and its embedded types

    def unaffected_by(self, build_rules: Mapping[str, BuildRules]) -> bool:
        for name in self.types:
            rules = build_rules.get(name)
            if rules is not None and (rules.denied or rules.masks):
                return False
        return True


_BUILDERS: dict[type, _Builder] = {}


def _compile(spec: TypeSpec) -> _Builder:
    env: dict[str, Any] = {"new": object.__new__, "cls": spec.cls}
    lines = [
        "def make(data):",
        "    obj = new(cls)",
        "    values = obj.__dict__",
        "    get = data.get",
    ]
    for name, source in spec.plain:
        lines.append(f"    values[{_literal(name)}] = get({_literal(source)})")
    types = {spec.cls.__name__: None}
    for index, (name, source, sub) in enumerate(spec.nested):
        inner = _BUILDERS.get(sub)
        if inner is None or inner.spec is not SPECS[sub]:
            inner = _compile(SPECS[sub])
        env[f"make_{index}"] = inner.make
        types.update(dict.fromkeys(inner.types))
        lines.append(f"    items = get({_literal(source)})")
        lines.append(
            f"    values[{_literal(name)}] = None if items is None"
            f" else [make_{index}(item) for item in items]"
        )
    lines += ['    values["_data"] = data', "    return obj"]
    exec("\n".join(lines), env)  # noqa: S102 - names and sources are checked literals
    builder = _Builder(spec, env["make"])
    builder.types = tuple(types)
    _BUILDERS[spec.cls] = builder
    return builder


def _literal(text: str) -> str:
    """``text`` as a Python string literal, for the code ``_compile`` writes."""
    if type(text) is not str or not text.replace("_", "a").replace(".", "a").isalnum():
        raise ValueError(f"not a field name: {text!r}")
    return repr(text)


def states(cls: type) -> bool:
    """Whether records of ``cls`` (or of its embedded types) say what an identifier in them is
    (an attribute with ``stated_by``)."""
    spec = SPECS[cls]
    return bool(spec.stated) or any(states(sub) for _, _, sub in spec.nested)


def stated_types(records: Iterable[tuple[type, Mapping[str, Any]]]) -> dict[str, Any]:
    """What the records say each identifier with a ``stated_by`` in them is (identifier ->
    the stated field's value, e.g. ``enterprise``), embedded records included. Where two
    records say different things, ``person`` is kept: the protective side."""
    out: dict[str, Any] = {}

    def walk(cls: type, data: Mapping[str, Any]) -> None:
        spec = SPECS[cls]
        for source, told in spec.stated.values():
            value, said = data.get(source), data.get(told)
            if isinstance(value, str) and said is not None and out.get(value) != "person":
                out[value] = said
        for _name, source, sub in spec.nested:
            for item in data.get(source) or ():
                walk(sub, item)

    for cls, data in records:
        walk(cls, data)
    return out


def record_data(obj: object) -> Mapping[str, Any]:
    """The agency record a schema object was built from (for link resolvers)."""
    data: Mapping[str, Any] = obj.__dict__["_data"]
    return data


def entity_key(obj: object) -> str:
    """The real key of an entity object, for the links that hang off it.

    The key attribute may be masked (``110105********1234``) or withheld for the caller; the
    record's key is always there (connectors return it with every record) and is used only to
    ask agencies, never shown: a link follows the entity, not what the caller was shown of it.
    """
    key = SPECS[type(obj)].key
    assert key is not None, "only entities have keys"
    return str(obj.__dict__["_data"][key])
