"""Police case files (keyed by police case number, see kernel/identifiers.py for the format)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from kernel.types import RequestContext
from schema.base import attr, embedded, embedded_type, entity, link, record_data
from schema.loaders import loaders
from schema.refs import Enterprise_, Person_
from schema.scalars import PoliceCaseNumber

Info = strawberry.Info[RequestContext, None]


@embedded_type(
    agency="police", doc="An asset sealed, seized or frozen (查封、扣押、冻结) in a case."
)
class FrozenAsset:
    """An asset sealed, seized or frozen (查封、扣押、冻结) in a case."""

    measure: str | None = attr(
        "enforcement", 2, doc="The measure taken: 冻结 (frozen), 查封 (sealed) or 扣押 (seized)."
    )
    asset_type: str | None = attr(
        "enforcement", 2, doc="What the asset is (银行存款, 房产, 车辆, 现金, 股权 ...)."
    )
    account_number: str | None = attr(
        "enforcement",
        2,
        mask="account",
        identity="BankAccount",
        doc="The frozen account's number, when the asset is a bank deposit (may be masked).",
    )
    amount: float | None = attr(
        "enforcement", 2, mask="amount", doc="The value frozen, in yuan (may be masked)."
    )
    date: str | None = attr("enforcement", 2, doc="The day the measure was taken (YYYY-MM-DD).")


@entity(
    agency="police",
    kind="case",
    key="case_number",
    refers=("suspect_ids", "enterprise_ids", "frozen_assets.account_number"),
    doc="A police case file (公安案件), from the police, keyed by its case number.",
)
class PoliceCase:
    case_number: PoliceCaseNumber = attr(
        "criminal",
        1,
        identity="PoliceCase",
        doc="The police case number: J + 6-digit region + 4-digit year + 6-digit sequence.",
    )
    charge: str | None = attr("criminal", 1, doc="The offence the case is filed for (罪名).")
    status: str | None = attr(
        "criminal", 1, doc="Where the case stands (立案, 侦查, 移送起诉, 结案 ...)."
    )
    filed_on: str | None = attr("criminal", 1, doc="The day the case was filed (YYYY-MM-DD).")
    amount_involved: float | None = attr(
        "criminal", 2, mask="amount", doc="The amount involved, in yuan (may be masked)."
    )
    victims: int | None = attr("criminal", 2, doc="How many victims.")
    handling_unit: str | None = attr("criminal", 1, doc="The police unit handling the case.")
    summary: str | None = attr("criminal", 3, doc="The case summary (简要案情), free text.")
    frozen_assets: list[FrozenAsset] | None = embedded(
        "enforcement", 2, doc="Assets frozen, sealed or seized in the case."
    )

    @link("police", "identity", 2, requires=("suspect_ids",), description="The suspects.")
    async def suspects(self, info: Info) -> list[Person_] | None:
        return await loaders(info).each("Person", record_data(self).get("suspect_ids") or ())

    @link(
        "market",
        "registry",
        requires=("enterprise_ids",),
        description="The enterprises involved in the case.",
    )
    async def enterprises(self, info: Info) -> list[Enterprise_] | None:
        return await loaders(info).each("Enterprise", record_data(self).get("enterprise_ids") or ())


@strawberry.type
class PoliceQuery:
    @link("police", "criminal", 1, description="A police case by its case number.")
    async def police_case(
        self,
        info: Info,
        case_number: Annotated[
            PoliceCaseNumber,
            strawberry.argument(description="The case number, e.g. J1101052026000123."),
        ],
    ) -> PoliceCase | None:
        return await loaders(info).one("PoliceCase", case_number)

    @link("police", "criminal", 1, description="Cases by a list of case numbers (at most 100).")
    async def police_cases(
        self,
        info: Info,
        case_numbers: Annotated[
            list[PoliceCaseNumber],
            strawberry.argument(description="Up to 100 police case numbers."),
        ],
    ) -> list[PoliceCase] | None:
        return await loaders(info).lookup("PoliceCase", case_numbers)
