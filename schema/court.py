"""Court cases with parties, judgments and enforcement, from the courts' subgraph."""

from __future__ import annotations

import strawberry

from kernel.types import RequestContext
from schema.base import attr, embedded, embedded_type, entity, link
from schema.loaders import loaders
from schema.scalars import CourtCaseNumber

Info = strawberry.Info[RequestContext, None]


@embedded_type(agency="courts")
class Party:
    party_id: str | None = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise"), stated_by="party_type",
        personal="resident-id",
    )  # fmt: skip
    name: str | None = attr("judicial", mask="name", personal="person-name")
    party_type: str | None = attr("judicial")
    role: str | None = attr("judicial")


@embedded_type(agency="courts")
class Judgment:
    document_number: str | None = attr("judicial", identity="CourtCase")  # the case's number
    decided_on: str | None = attr("judicial")
    outcome: str | None = attr("judicial")
    amount: float | None = attr("judicial")
    public: bool | None = attr("judicial")


@embedded_type(agency="courts")
class EnforcementRecord:
    """An enforcement case (执行) following a judgment."""

    case_number: str | None = attr("enforcement", 2, identity="CourtCase")  # its own case
    filed_on: str | None = attr("enforcement", 2)
    amount_owed: float | None = attr("enforcement", 2, mask="amount")
    amount_paid: float | None = attr("enforcement", 2, mask="amount")
    status: str | None = attr("enforcement", 2)
    measures: list[str] | None = attr("enforcement", 2)


@entity(agency="courts", kind="court_case", key="case_number", refers=("parties.party_id",))
class CourtCase:
    case_number: CourtCaseNumber = attr("judicial", identity="CourtCase")
    court: str | None = attr("judicial")
    cause_of_action: str | None = attr("judicial")
    stage: str | None = attr("judicial")
    filed_on: str | None = attr("judicial")
    parties: list[Party] | None = embedded("judicial")
    judgments: list[Judgment] | None = embedded("judicial")
    enforcement: list[EnforcementRecord] | None = embedded("enforcement", 2)


@entity(agency="courts", kind="defaulter", key="party_id")
class DefaulterEntry:
    """An entry on the published judgment-defaulter list (失信被执行人名单)."""

    party_id: str = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise"), personal="resident-id"
    )
    listed_on: str | None = attr("registry")
    obligation: str | None = attr("registry")
    performance: str | None = attr("registry")


@strawberry.type
class CourtQuery:
    @link("courts", "judicial")
    async def court_case(self, info: Info, case_number: CourtCaseNumber) -> CourtCase | None:
        return await loaders(info).one("CourtCase", case_number)

    @link("courts", "judicial", description="Cases by a list of case numbers (at most 100).")
    async def court_cases(
        self, info: Info, case_numbers: list[CourtCaseNumber]
    ) -> list[CourtCase] | None:
        return await loaders(info).lookup("CourtCase", case_numbers)
