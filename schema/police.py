"""Police case files (keyed by police case number, see kernel/identifiers.py for the format)."""

from __future__ import annotations

import strawberry

from kernel.types import RequestContext
from schema.base import attr, embedded, embedded_type, entity, link, record_data
from schema.loaders import loaders
from schema.refs import Enterprise_, Person_
from schema.scalars import PoliceCaseNumber

Info = strawberry.Info[RequestContext, None]


@embedded_type(agency="police")
class FrozenAsset:
    """An asset sealed, seized or frozen (查封、扣押、冻结) in a case."""

    measure: str | None = attr("enforcement", 2)
    asset_type: str | None = attr("enforcement", 2)
    account_number: str | None = attr("enforcement", 2, mask="account", identity="BankAccount")
    amount: float | None = attr("enforcement", 2, mask="amount")
    date: str | None = attr("enforcement", 2)


@entity(
    agency="police",
    kind="case",
    key="case_number",
    refers=("suspect_ids", "enterprise_ids", "frozen_assets.account_number"),
)
class PoliceCase:
    case_number: PoliceCaseNumber = attr("criminal", 1, identity="PoliceCase")
    charge: str | None = attr("criminal", 1)
    status: str | None = attr("criminal", 1)
    filed_on: str | None = attr("criminal", 1)
    amount_involved: float | None = attr("criminal", 2, mask="amount")
    victims: int | None = attr("criminal", 2)
    handling_unit: str | None = attr("criminal", 1)
    summary: str | None = attr("criminal", 3)
    frozen_assets: list[FrozenAsset] | None = embedded("enforcement", 2)

    @link("police", "identity", 2, requires=("suspect_ids",))
    async def suspects(self, info: Info) -> list[Person_] | None:
        return await loaders(info).each("Person", record_data(self).get("suspect_ids") or ())

    @link("market", "registry", requires=("enterprise_ids",))
    async def enterprises(self, info: Info) -> list[Enterprise_] | None:
        return await loaders(info).each("Enterprise", record_data(self).get("enterprise_ids") or ())


@strawberry.type
class PoliceQuery:
    @link("police", "criminal", 1)
    async def police_case(self, info: Info, case_number: PoliceCaseNumber) -> PoliceCase | None:
        return await loaders(info).one("PoliceCase", case_number)

    @link("police", "criminal", 1, description="Cases by a list of case numbers (at most 100).")
    async def police_cases(
        self, info: Info, case_numbers: list[PoliceCaseNumber]
    ) -> list[PoliceCase] | None:
        return await loaders(info).lookup("PoliceCase", case_numbers)
