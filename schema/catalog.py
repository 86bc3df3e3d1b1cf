"""The field catalog: every (type, field) of the schema as a resource policies can decide on.

Built once from the executable schema. A field without JointGate metadata is a build error that
names every such field, so nothing reaches a client without a policy resource (deny by default).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from graphql import GraphQLObjectType, GraphQLSchema, get_named_type

from kernel.masks import PARTY, PERSON
from schema.base import META, SPECS, SPECS_BY_NAME, Category, FieldInfo, Personal, Shape

DEFINITION = "strawberry-definition"


class SchemaMappingError(Exception):
    """Fields without a policy resource; the message lists them and says what to do."""


@dataclass(frozen=True, slots=True)
class FieldResource:
    type_name: str
    field_name: str  # the GraphQL name
    agency: str
    category: Category
    sensitivity: int
    shape: Shape
    source: str | None  # agency-side field for attr/embedded fields
    # agency-side fields a link needs from its parent record, or an attribute beside its own
    # (a party's type, to tell which entity its identifier is: schema.base.attr's stated_by)
    requires: tuple[str, ...]
    target: str | None  # the named object type a link or embedded field leads to
    python_name: str
    mask: str | None  # mask kind (kernel/masks.py), or None if it cannot be shown masked
    identity: tuple[str, ...] = ()  # entity types an identifier identifies (schema.base.attr)
    personal: Personal | None = None  # personal-data category (schema.base.Personal)
    # the Person field of that category, which decides this one; None for it and untagged ones
    decided_as: tuple[str, str] | None = None
    # what a computed link reads of its parent (schema.base.link's evidence): a selection set
    evidence: str | None = None
    # other fields whose decision this field's resolver follows (schema.base.link's consults)
    consults: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> str:
        return f"{self.type_name}.{self.field_name}"


Catalog = dict[tuple[str, str], FieldResource]


def build_catalog(schema: GraphQLSchema) -> Catalog:
    catalog: Catalog = {}
    missing: list[str] = []
    not_entities: list[str] = []
    for type_name, gql_type in sorted(schema.type_map.items()):
        if not isinstance(gql_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        definition = (gql_type.extensions or {}).get(DEFINITION)
        spec = SPECS.get(getattr(definition, "origin", None))  # type: ignore[arg-type]
        values: list[tuple[str, str, type | None]] = []
        stated: dict[str, tuple[str, str]] = {}
        for field_name, gql_field in gql_type.fields.items():
            sfield = (gql_field.extensions or {}).get(DEFINITION)
            info: FieldInfo | None = sfield.metadata.get(META) if sfield else None
            agency = (info.agency if info else None) or (spec.agency if spec else None)
            if sfield is None or info is None or agency is None:
                missing.append(f"{type_name}.{field_name}")
                continue
            named = get_named_type(gql_field.type)
            target = named.name if isinstance(named, GraphQLObjectType) else None
            source = info.source or sfield.python_name
            catalog[(type_name, field_name)] = FieldResource(
                type_name, field_name, agency, info.category, info.sensitivity, info.shape,
                None if info.shape is Shape.LINK else source, info.requires, target,
                sfield.python_name, info.mask, info.identity, info.personal,
                evidence=info.evidence,
                consults=tuple(_type_field(c) for c in info.consults),
            )  # fmt: skip
            not_entities += [
                f"{type_name}.{field_name} ({name})"
                for name in info.identity
                if name not in SPECS_BY_NAME or SPECS_BY_NAME[name].kind is None
            ]
            if len(info.identity) > 1 and info.identity != PARTY:
                # gateway/disclosure.py tells only a person from an enterprise (masks.party_type)
                not_entities.append(f"{type_name}.{field_name} ({', '.join(info.identity)})")
            if info.stated_by and info.shape is Shape.ATTR:
                stated[sfield.python_name] = (source, info.stated_by)
            if info.shape is not Shape.LINK:
                sub = SPECS_BY_NAME[target].cls if target in SPECS_BY_NAME else None
                values.append(
                    (sfield.python_name, source, sub if info.shape is Shape.EMBEDDED else None)
                )
        if spec is not None:
            SPECS[spec.cls] = SPECS_BY_NAME[type_name] = dataclasses.replace(
                spec,
                values=tuple(values),
                attributes=frozenset(v[0] for v in values),
                plain=tuple((name, source) for name, source, sub in values if sub is None),
                nested=tuple((n, source, sub) for n, source, sub in values if sub is not None),
                stated=stated,
            )
    if missing:
        raise SchemaMappingError(
            "these schema fields have no policy resource; declare them with attr(), embedded() or "
            "link() from schema.base: " + ", ".join(missing)
        )
    unknown = sorted(
        f"{r.path} consults {t}.{f}" for r in catalog.values() for t, f in r.consults
        if (t, f) not in catalog
    )  # fmt: skip
    if unknown:
        raise SchemaMappingError(
            "these fields consult fields the schema has not: " + ", ".join(unknown)
        )
    if not_entities:
        raise SchemaMappingError(
            "these fields declare an identity that is not an entity type; name the @entity "
            "classes they identify in attr(identity=...), one of them or a party's "
            f"{PARTY}: " + ", ".join(not_entities)
        )
    return _decided_by_category(catalog)


def _type_field(name: str) -> tuple[str, str]:
    type_name, _, field_name = name.partition(".")
    return type_name, field_name


def _decided_by_category(catalog: Catalog) -> Catalog:
    """``catalog`` with every field of a personal-data category pointing to the ``Person``
    field of that category (``decided_as``), which decides it (policies/engine.py).

    Refused: a category no ``Person`` field or several carry (nothing, or no one thing, to
    decide its fields as), a tagged field that is not a plain value, and one whose ability to
    be shown masked differs from its ``Person`` field's (a masked-only permit would let one
    through and deny the other)."""
    anchors: dict[Personal, FieldResource] = {}
    problems: list[str] = []
    for resource in catalog.values():
        if resource.personal is not None and resource.type_name == PERSON:
            if resource.personal in anchors:
                other = anchors[resource.personal].path
                problems.append(f"{other} and {resource.path} are both {resource.personal}")
            anchors[resource.personal] = resource
    for key, resource in catalog.items():
        category = resource.personal
        if category is None or resource.type_name == PERSON:
            continue
        anchor = anchors.get(category)
        if anchor is None:
            problems.append(f"{resource.path}: no {PERSON} field is {category}")
            continue
        if resource.shape is not Shape.ATTR:
            problems.append(f"{resource.path}: only a value (attr) carries a category")
        if (resource.mask is None) != (anchor.mask is None):
            says = "has no mask" if resource.mask is None else f"has a mask, {anchor.path} none"
            problems.append(
                f"{resource.path} {says}: it is decided as {anchor.path} and must be"
                " maskable exactly when it is"
            )
        decided_as = (anchor.type_name, anchor.field_name)
        catalog[key] = dataclasses.replace(resource, decided_as=decided_as)
    if problems:
        raise SchemaMappingError(
            "personal-data categories (schema.base.Personal) that cannot be decided as the "
            f"{PERSON} field of their category: " + "; ".join(problems)
        )
    return catalog
