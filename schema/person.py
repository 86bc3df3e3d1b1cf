"""Natural persons, from the police population register (keyed by resident identity number)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from kernel.types import RequestContext
from schema.base import attr, entity, entity_key, link
from schema.loaders import loaders
from schema.refs import (
    BankAccount_,
    CourtCase_,
    CreditReport_,
    DefaulterEntry_,
    Enterprise_,
    PoliceCase_,
)
from schema.scalars import ResidentID
from schema.signals import EVIDENCE, SIGNALS, SIGNALS_DOC, RiskSignal, risk_signals

Info = strawberry.Info[RequestContext, None]


@entity(
    agency="police",
    kind="person",
    key="id_number",
    doc="A natural person as the police household register knows them (人口信息), keyed by"
    " resident ID number.",
)
class Person:
    id_number: ResidentID = attr(
        "identity", 2, mask="resident_id", identity="Person", personal="resident-id",
        doc="The resident ID number (居民身份证号码), 18 characters (may be masked).",
    )  # fmt: skip
    name: str | None = attr(
        "identity", 1, mask="name", personal="person-name", doc="The person's name (may be masked)."
    )
    gender: str | None = attr("identity", 1, doc="The person's gender.")
    birth_date: str | None = attr("identity", 1, doc="The date of birth (YYYY-MM-DD).")
    ethnicity: str | None = attr("identity", 1, doc="The person's ethnic group (民族).")
    household_address: str | None = attr(
        "contact", 2, personal="address", doc="The address of household registration (户籍地址)."
    )
    phone: str | None = attr(
        "contact",
        2,
        mask="phone",
        personal="phone",
        doc="The phone number on record (may be masked).",
    )

    @link("market", "registry", description="Enterprises whose legal representative this is.")
    async def enterprises(self, info: Info) -> list[Enterprise_] | None:
        return await loaders(info).many("Enterprise", "legal_rep_id", entity_key(self))

    @link("banking", "financial", 2, description="The bank accounts the person holds.")
    async def bank_accounts(self, info: Info) -> list[BankAccount_] | None:
        return await loaders(info).many("BankAccount", "holder_id", entity_key(self))

    @link("police", "criminal", 2, description="Police cases naming this person as a suspect.")
    async def police_cases(self, info: Info) -> list[PoliceCase_] | None:
        return await loaders(info).many("PoliceCase", "suspect_ids", entity_key(self))

    @link("courts", "judicial", description="Court cases the person is a party to.")
    async def court_cases(self, info: Info) -> list[CourtCase_] | None:
        return await loaders(info).many("CourtCase", "party_ids", entity_key(self))

    @link("courts", "judicial", description="Entry on the judgment-defaulter list (失信被执行人).")
    async def judgment_defaulter(self, info: Info) -> DefaulterEntry_ | None:
        found = await loaders(info).many("DefaulterEntry", "party_id", entity_key(self))
        return found[0] if found else None

    @link("credit", "credit", 2, description="The credit report (征信报告), if there is one.")
    async def credit_report(self, info: Info) -> CreditReport_ | None:
        found = await loaders(info).many("CreditReport", "party_id", entity_key(self))
        return found[0] if found else None

    @link(SIGNALS, "registry", evidence=EVIDENCE["Person"], description=SIGNALS_DOC)
    async def risk_signals(self, info: Info) -> list[RiskSignal] | None:
        return await risk_signals(self, info, "Person")


@strawberry.type
class PersonQuery:
    @link("police", "identity", 1, description="The person with this ID number, or null.")
    async def person(
        self,
        info: Info,
        id_number: Annotated[
            ResidentID, strawberry.argument(description="Their resident ID number.")
        ],
    ) -> Person | None:
        return await loaders(info).one("Person", id_number)

    @link("police", "identity", 1, description="Persons by a list of ID numbers (at most 100).")
    async def persons(
        self,
        info: Info,
        id_numbers: Annotated[
            list[ResidentID], strawberry.argument(description="Their resident ID numbers.")
        ],
    ) -> list[Person] | None:
        return await loaders(info).lookup("Person", id_numbers)
