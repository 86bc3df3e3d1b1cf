"""Personal-data categories: every field that carries a natural person's identifier or name is
tagged with its category (``attr(..., personal=...)``) and decided as the ``Person`` field of
that category (docs/policies.md, "Fields are decided by data category").

"Carries" is found by rule, not by a list of the tagged fields: so that a field added tomorrow
(a suspect's phone, a plaintiff's name) fails here until it is tagged.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType, get_named_type

from sandbox.memory import memory_connectors
from sandbox.world import generate
from schema.base import SPECS, SPECS_BY_NAME, Personal, Shape, TypeSpec, attr, embedded_type, link
from schema.catalog import (
    Catalog,
    FieldResource,
    SchemaMappingError,
    _decided_by_category,
    build_catalog,
)
from schema.unified import build_schema

SCHEMA = build_schema()

# whose: the words that say a value is about someone (a holder, a party ...), in a field's name
# or its type's; what: the words that say it is their identifier, name or contact
WHOSE = (
    r"holder|party|parties|legalRep|representative|shareholder|counterparty|suspect|person"
    r"|debtor|creditor|plaintiff|defendant|victim|applicant|litigant|owner|contact"
)
WHAT = r"Id|Ids|IdNumber|Name|Names|Phone|Address"
# ``holderName``, ``partyId``, ``legalRepName``, ``personHouseholdAddress``; or the word alone
# (``Transaction.counterparty``: a name). Matched on type and field name together, so that
# ``Party.name`` reads ``partyName``.
CARRIES = re.compile(rf"(?i:{WHOSE})(?:[A-Z][A-Za-z]*)?(?:{WHAT})$|(?i:{WHOSE})$")
PERSONAL_SCALARS = {"ResidentID"}
PERSONAL_MASKS = {"resident_id", "party_id", "name", "phone"}  # a mask for a person's data
# Fields the rule finds that carry no natural person's identifier or name, and why. Empty
# today: the rule is written so that an enterprise's own name (Enterprise.name), an account
# holder's type (holderType), a counterparty's account (counterpartyAccount) or a party's role
# do not match it. An entry needs a reason a reviewer can check.
NOT_PERSONAL: dict[tuple[str, str], str] = {}


def carries(type_name: str, field_name: str) -> bool:
    """Whether a field's name says it carries someone's identifier, name or contact."""
    return CARRIES.search(type_name[:1].lower() + type_name[1:] + field_name[:1].upper()
                          + field_name[1:]) is not None  # fmt: skip


def personal_values_in_agency_data() -> dict[tuple[str, str], set[str]]:
    """For every (type, field), which kinds of a person's data (resident ID, name, phone,
    address) its values in the synthetic world are: what the agencies really put there."""
    world = generate(scale=0.02)
    persons = list(world.persons.values())
    kinds = {
        "resident-id": {p["id_number"] for p in persons},
        "person-name": {p["name"] for p in persons},
        "phone": {p["phone"] for p in persons if p.get("phone")},
        "address": {p["household_address"] for p in persons if p.get("household_address")},
    }
    enterprise_names = {e["name"] for e in world.enterprises.values()}
    assert not kinds["person-name"] & enterprise_names  # else names tell nothing apart
    agencies = memory_connectors(world)
    graphql_names = {(r.type_name, r.python_name): r.field_name for r in SCHEMA.catalog.values()}
    found: dict[tuple[str, str], set[str]] = {}

    def walk(spec: TypeSpec, record: dict[str, Any]) -> None:
        for name, source, sub in spec.values:
            value = record.get(source)
            values = value if isinstance(value, list) else [value]
            if sub is not None:
                for item in values:
                    walk(SPECS[sub], item)
                continue
            field = (spec.cls.__name__, graphql_names[(spec.cls.__name__, name)])
            for kind, known in kinds.items():
                if any(isinstance(v, str) and v in known for v in values):
                    found.setdefault(field, set()).add(kind)

    for spec in SPECS_BY_NAME.values():
        if spec.kind is not None and spec.agency in agencies:
            for record in agencies[spec.agency]._records[spec.kind]:
                walk(spec, record)
    return found


def untagged(catalog: Catalog, schema: Any, in_data: dict[tuple[str, str], set[str]]) -> list[str]:
    """Every value field of ``schema`` that carries a person's identifier or name (by its
    identity, scalar, mask, name, or what the agencies put in it) and has no category."""
    missing = []
    for type_name, gql_type in sorted(schema.type_map.items()):
        if not isinstance(gql_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for field_name, gql_field in gql_type.fields.items():
            resource = catalog[(type_name, field_name)]
            if resource.shape is not Shape.ATTR:
                continue  # a link or a list of objects shows no value; their fields are walked
            personal = (
                "Person" in resource.identity
                or get_named_type(gql_field.type).name in PERSONAL_SCALARS
                or resource.mask in PERSONAL_MASKS
                or (type_name, field_name) in in_data
                or (carries(type_name, field_name) and (type_name, field_name) not in NOT_PERSONAL)
            )
            if personal and resource.personal is None:
                missing.append(resource.path)
    return missing


def test_every_field_that_carries_a_persons_identifier_or_name_is_tagged() -> None:
    in_data = personal_values_in_agency_data()
    assert untagged(SCHEMA.catalog, SCHEMA.graphql, in_data) == []
    # the agencies' data says so too: each field's category is what its values are
    for (type_name, field_name), kinds in in_data.items():
        resource = SCHEMA.catalog[(type_name, field_name)]
        assert resource.personal in {Personal(k) for k in kinds}, (resource.path, kinds)
    assert set(NOT_PERSONAL) <= set(SCHEMA.catalog)  # no stale entry


def test_the_categories_of_the_schema() -> None:
    tagged = {r.path: (r.personal, r.decided_as) for r in SCHEMA.catalog.values() if r.personal}
    id_number, name = ("Person", "idNumber"), ("Person", "name")
    assert tagged == {
        "Person.idNumber": (Personal.RESIDENT_ID, None),
        "Person.name": (Personal.PERSON_NAME, None),
        "Person.phone": (Personal.PHONE, None),
        "Person.householdAddress": (Personal.ADDRESS, None),
        "BankAccount.holderId": (Personal.RESIDENT_ID, id_number),
        "BankAccount.holderName": (Personal.PERSON_NAME, name),
        "Shareholder.holderId": (Personal.RESIDENT_ID, id_number),
        "Shareholder.holderName": (Personal.PERSON_NAME, name),
        "Party.partyId": (Personal.RESIDENT_ID, id_number),
        "Party.name": (Personal.PERSON_NAME, name),
        "DefaulterEntry.partyId": (Personal.RESIDENT_ID, id_number),
        "Enterprise.legalRepName": (Personal.PERSON_NAME, name),
        "Transaction.counterpartyName": (Personal.PERSON_NAME, name),
        "CounterpartyFlow.counterpartyName": (Personal.PERSON_NAME, name),
        "LeadSubject.identifier": (Personal.RESIDENT_ID, id_number),
        "CreditReport.partyId": (Personal.RESIDENT_ID, id_number),
        "CreditReport.name": (Personal.PERSON_NAME, name),
        "Guarantee.partyId": (Personal.RESIDENT_ID, id_number),
        "Guarantee.partyName": (Personal.PERSON_NAME, name),
    }
    # a party keeps its own mask: a person's ID masked, an enterprise's USCC kept
    assert SCHEMA.catalog[("BankAccount", "holderId")].mask == "party_id"


@pytest.mark.parametrize(
    ("type_name", "field_name", "expected"),
    [
        ("BankAccount", "holderId", True),
        ("Shareholder", "holderName", True),
        ("Party", "name", True),
        ("Party", "partyId", True),
        ("Enterprise", "legalRepName", True),
        ("Transaction", "counterpartyName", True),
        ("CounterpartyFlow", "counterpartyName", True),
        ("PoliceCase", "suspectIds", True),
        ("Person", "householdAddress", True),
        ("Lawsuit", "plaintiffName", True),
        ("FrozenAsset", "ownerIdNumber", True),
        ("Enterprise", "name", False),
        ("Enterprise", "address", False),
        ("BankAccount", "holderType", False),
        ("Transaction", "counterpartyAccount", False),
        ("Party", "role", False),
        ("Person", "gender", False),
        ("Penalty", "decisionNumber", False),
    ],
)
def test_the_rule_reads_field_names(type_name: str, field_name: str, expected: bool) -> None:
    assert carries(type_name, field_name) is expected


@embedded_type(agency="market")
class ThrowawayLawsuit:
    case_title: str | None = attr("registry")
    plaintiff_name: str | None = attr("registry")  # a person's name, untagged
    defendant_id: str | None = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise")
    )


@strawberry.type
class ThrowawayQuery:
    @link("market", "registry")
    def lawsuit(self) -> ThrowawayLawsuit | None:
        return None


def test_the_walk_fails_on_an_untagged_field() -> None:
    """The walk itself on a schema with untagged fields: it names each one."""
    schema = strawberry.Schema(query=ThrowawayQuery)._schema
    catalog = build_catalog(schema)
    assert sorted(untagged(catalog, schema, {})) == [
        "ThrowawayLawsuit.defendantId",  # by its identity (Person) and its mask
        "ThrowawayLawsuit.plaintiffName",  # by its name
    ]


@embedded_type(agency="market")
class ThrowawayTagged:
    debtor_name: str | None = attr("registry", mask="name", personal="person-name")


@strawberry.type
class ThrowawayTaggedQuery:
    @link("market", "registry")
    def debtor(self) -> ThrowawayTagged | None:
        return None


def test_a_category_without_its_person_field_is_a_build_error() -> None:
    with pytest.raises(SchemaMappingError, match=r"ThrowawayTagged\.debtorName: no Person field"):
        build_catalog(strawberry.Schema(query=ThrowawayTaggedQuery)._schema)


def test_a_tagged_field_is_maskable_exactly_when_its_person_field_is() -> None:
    """Shown masked as ``Person.name`` is or not at all: a masked-only permit would otherwise
    mask the one and deny the other."""

    def with_mask(path: tuple[str, str], mask: str | None) -> Catalog:
        catalog = dict(SCHEMA.catalog)
        catalog[path] = dataclasses.replace(catalog[path], mask=mask, decided_as=None)
        return catalog

    with pytest.raises(SchemaMappingError, match=r"Shareholder\.holderName has no mask: .*"
                                                 r"decided as Person\.name"):  # fmt: skip
        _decided_by_category(with_mask(("Shareholder", "holderName"), None))
    with pytest.raises(SchemaMappingError, match=r"Person\.householdAddress none"):
        catalog = with_mask(("Shareholder", "holderName"), "name")
        shown: FieldResource = catalog[("Shareholder", "holderName")]
        catalog[("Shareholder", "holderName")] = dataclasses.replace(
            shown, personal=Personal.ADDRESS
        )
        _decided_by_category(catalog)
