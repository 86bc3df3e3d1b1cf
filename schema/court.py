"""Court cases with parties, judgments and enforcement, from the courts' subgraph."""

from __future__ import annotations

from typing import Annotated

import strawberry

from kernel.types import RequestContext
from schema.base import attr, embedded, embedded_type, entity, link
from schema.loaders import loaders
from schema.scalars import CourtCaseNumber

Info = strawberry.Info[RequestContext, None]


@embedded_type(agency="courts", doc="A party to a court case (当事人).")
class Party:
    party_id: str | None = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise"), stated_by="party_type",
        personal="resident-id",
        doc="The party's resident ID number (18 characters) or USCC (18 characters)"
        " (may be masked).",
    )  # fmt: skip
    name: str | None = attr(
        "judicial", mask="name", personal="person-name", doc="The party's name (may be masked)."
    )
    party_type: str | None = attr(
        "judicial", doc="Whether the party is a `person` or an `enterprise`."
    )
    role: str | None = attr(
        "judicial", doc="The party's role in the case (原告, 被告, 申请执行人, 被执行人 ...)."
    )


@embedded_type(agency="courts", doc="A judgment or ruling (裁判文书) in a court case.")
class Judgment:
    document_number: str | None = attr(
        "judicial",
        identity="CourtCase",
        doc="The document's number: the case number it was given in.",
    )  # the case's number
    decided_on: str | None = attr("judicial", doc="The day it was decided (YYYY-MM-DD).")
    outcome: str | None = attr("judicial", doc="What was decided (判决结果), free text.")
    amount: float | None = attr("judicial", doc="The amount awarded or fined, in yuan.")
    public: bool | None = attr("judicial", doc="Whether the document is published.")


@embedded_type(agency="courts", doc="An enforcement case (执行) following a judgment.")
class EnforcementRecord:
    """An enforcement case (执行) following a judgment."""

    case_number: str | None = attr(
        "enforcement", 2, identity="CourtCase", doc="The enforcement case's own case number (执字)."
    )  # its own case
    filed_on: str | None = attr("enforcement", 2, doc="The day it was filed (YYYY-MM-DD).")
    amount_owed: float | None = attr(
        "enforcement", 2, mask="amount", doc="The amount to be paid, in yuan (may be masked)."
    )
    amount_paid: float | None = attr(
        "enforcement", 2, mask="amount", doc="The amount paid so far, in yuan (may be masked)."
    )
    status: str | None = attr(
        "enforcement", 2, doc="Where it stands (执行中, 执行完毕, 终结本次执行程序 ...)."
    )
    measures: list[str] | None = attr(
        "enforcement", 2, doc="The measures taken (纳入失信名单, 限制高消费 ...)."
    )


@entity(
    agency="courts",
    kind="court_case",
    key="case_number",
    refers=("parties.party_id",),
    doc="A court case (法院案件), from the courts, keyed by its case number (案号).",
)
class CourtCase:
    case_number: CourtCaseNumber = attr(
        "judicial", identity="CourtCase", doc="The case number (案号), e.g. (2024)京01民初123号."
    )
    court: str | None = attr("judicial", doc="The court that has the case.")
    cause_of_action: str | None = attr("judicial", doc="The cause of action (案由).")
    stage: str | None = attr(
        "judicial", doc="Where the case stands (立案, 审理, 判决, 执行, 结案 ...)."
    )
    filed_on: str | None = attr("judicial", doc="The day the case was filed (YYYY-MM-DD).")
    parties: list[Party] | None = embedded("judicial", doc="The parties to the case.")
    judgments: list[Judgment] | None = embedded("judicial", doc="The judgments given in it.")
    enforcement: list[EnforcementRecord] | None = embedded(
        "enforcement", 2, doc="The enforcement cases that followed it."
    )


@entity(
    agency="courts",
    kind="defaulter",
    key="party_id",
    doc="An entry on the published judgment-defaulter list (失信被执行人名单).",
)
class DefaulterEntry:
    """An entry on the published judgment-defaulter list (失信被执行人名单)."""

    party_id: str = attr(
        "identity",
        2,
        mask="party_id",
        identity=("Person", "Enterprise"),
        personal="resident-id",
        doc="The defaulter's resident ID number or USCC (may be masked).",
    )
    listed_on: str | None = attr("registry", doc="The day the entry was listed (YYYY-MM-DD).")
    obligation: str | None = attr(
        "registry", doc="The obligation the judgment set (生效法律文书确定的义务), free text."
    )
    performance: str | None = attr(
        "registry", doc="How much of it was performed (全部未履行, 部分未履行)."
    )


@strawberry.type
class CourtQuery:
    @link("courts", "judicial", description="A court case by its case number (案号).")
    async def court_case(
        self,
        info: Info,
        case_number: Annotated[
            CourtCaseNumber,
            strawberry.argument(description="The case number, e.g. (2024)京01民初123号."),
        ],
    ) -> CourtCase | None:
        return await loaders(info).one("CourtCase", case_number)

    @link("courts", "judicial", description="Cases by a list of case numbers (at most 100).")
    async def court_cases(
        self,
        info: Info,
        case_numbers: Annotated[
            list[CourtCaseNumber],
            strawberry.argument(description="Up to 100 court case numbers."),
        ],
    ) -> list[CourtCase] | None:
        return await loaders(info).lookup("CourtCase", case_numbers)
