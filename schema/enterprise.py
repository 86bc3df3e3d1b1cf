"""Enterprises, from the market regulator's registry (keyed by unified social credit code)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from kernel.types import Outcome, RequestContext
from schema.base import (
    attr,
    build,
    embedded,
    embedded_type,
    entity,
    entity_key,
    link,
    record_data,
)
from schema.loaders import loaders
from schema.paging import MAX_PAGE, MAX_SEARCH_TEXT, After, First, page_size, search_text
from schema.refs import (
    BankAccount_,
    CourtCase_,
    CreditReport_,
    DefaulterEntry_,
    Person_,
    PoliceCase_,
)
from schema.scalars import USCC
from schema.signals import EVIDENCE, SIGNALS, SIGNALS_DOC, RiskSignal, risk_signals

Info = strawberry.Info[RequestContext, None]


@embedded_type(agency="market", doc="A shareholder of an enterprise, as registered (股东).")
class Shareholder:
    holder_id: str | None = attr(
        "identity", 2, mask="party_id", identity=("Person", "Enterprise"), stated_by="holder_type",
        personal="resident-id", doc="The shareholder's resident ID number or USCC (may be masked).",
    )  # fmt: skip
    holder_name: str | None = attr(
        "registry",
        mask="name",
        personal="person-name",
        doc="The shareholder's name (a person's name may be masked).",
    )
    holder_type: str | None = attr(
        "registry", doc="Whether the shareholder is a `person` or an `enterprise`."
    )
    share_pct: float | None = attr(
        "registry", doc="The shareholder's share of the registered capital, in percent."
    )


@embedded_type(agency="market", doc="An entry on the abnormal-operations list (经营异常名录).")
class AbnormalOperation:
    """An entry on the abnormal-operations list (经营异常名录)."""

    listed_on: str | None = attr(
        "registry", doc="The date the enterprise was put on the list (YYYY-MM-DD)."
    )
    reason: str | None = attr("registry", doc="Why it was listed.")
    authority: str | None = attr("registry", doc="The authority that listed it.")
    removed_on: str | None = attr(
        "registry", doc="The date it was taken off the list, or null if it is still listed."
    )


@embedded_type(agency="market", doc="An administrative penalty decision (行政处罚).")
class Penalty:
    """An administrative penalty decision."""

    decision_number: str | None = attr("registry", doc="The number of the penalty decision.")
    decided_on: str | None = attr("registry", doc="The date of the decision (YYYY-MM-DD).")
    violation: str | None = attr("registry", doc="The violation the penalty was imposed for.")
    amount: float | None = attr("registry", doc="The fine, in yuan (CNY).")
    authority: str | None = attr("registry", doc="The authority that decided it.")


@entity(
    agency="market",
    kind="enterprise",
    key="uscc",
    refers=("legal_rep_id", "shareholders.holder_id"),
    doc="An enterprise registered with the market regulator (企业), keyed by its unified"
    " social credit code.",
)
class Enterprise:
    uscc: USCC = attr(
        "registry",
        identity="Enterprise",
        doc="The unified social credit code (统一社会信用代码), 18 characters.",
    )
    name: str | None = attr("registry", doc="The registered name.")
    legal_rep_name: str | None = attr(
        "registry",
        mask="name",
        personal="person-name",
        doc="The legal representative's name (may be masked).",
    )
    registered_capital: float | None = attr(
        "registry", doc="The registered capital, in yuan (CNY)."
    )
    established_on: str | None = attr(
        "registry", doc="The date the enterprise was established (YYYY-MM-DD)."
    )
    business_scope: str | None = attr("registry", doc="The registered business scope (经营范围).")
    status: str | None = attr("registry", doc="The registration status (存续, 吊销, 注销 ...).")
    address: str | None = attr("registry", doc="The registered address.")
    region_code: str | None = attr(
        "registry", doc="The administrative region code of the registration (6 digits)."
    )
    industry: str | None = attr("registry", doc="The industry it is registered in.")
    serious_violation: bool | None = attr(
        "registry", doc="Whether it is on the list of seriously illegal and dishonest enterprises."
    )
    shareholders: list[Shareholder] | None = embedded(
        "registry", doc="The shareholders, as registered."
    )
    abnormal_operations: list[AbnormalOperation] | None = embedded(
        "registry", doc="Entries on the abnormal-operations list."
    )
    penalties: list[Penalty] | None = embedded("registry", doc="Administrative penalty decisions.")

    @link(
        "police",
        "identity",
        1,
        requires=("legal_rep_id",),
        description="The legal representative, as the police household register knows them.",
    )
    async def legal_representative(self, info: Info) -> Person_ | None:
        rep = record_data(self).get("legal_rep_id")
        return await loaders(info).one("Person", rep) if rep else None

    @link("banking", "financial", 2, description="The bank accounts the enterprise holds.")
    async def bank_accounts(self, info: Info) -> list[BankAccount_] | None:
        return await loaders(info).many("BankAccount", "holder_id", entity_key(self))

    @link("police", "criminal", 2, description="Police cases naming the enterprise.")
    async def police_cases(self, info: Info) -> list[PoliceCase_] | None:
        return await loaders(info).many("PoliceCase", "enterprise_ids", entity_key(self))

    @link("courts", "judicial", description="Court cases the enterprise is a party to.")
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

    @link(SIGNALS, "registry", evidence=EVIDENCE["Enterprise"], description=SIGNALS_DOC)
    async def risk_signals(self, info: Info) -> list[RiskSignal] | None:
        return await risk_signals(self, info, "Enterprise")


@embedded_type(
    agency="market",
    doc="Where a page of enterprises ends.",
)
class PageInfo:
    has_next_page: bool = attr("registry", doc="Whether another page follows.")
    end_cursor: str | None = attr(
        "registry", doc="Pass as `after` to get the next page; null on the last page."
    )


@embedded_type(
    agency="market",
    doc="One page of an enterprise search.",
)
class EnterpriseConnection:
    nodes: list[Enterprise] = attr("registry", doc="The enterprises of this page.")
    page_info: PageInfo = attr("registry", doc="Where this page ends.")
    total_count: int | None = attr(
        "registry",
        doc="How many enterprises you may see match, or null when the gateway does not know.",
    )


@strawberry.type
class EnterpriseQuery:
    @link("market", "registry", description="The enterprise with this code, or null.")
    async def enterprise(
        self,
        info: Info,
        uscc: Annotated[USCC, strawberry.argument(description="Its unified social credit code.")],
    ) -> Enterprise | None:
        return await loaders(info).one("Enterprise", uscc)

    @link("market", "registry", description="Enterprises by a list of codes (at most 100).")
    async def enterprises_by_uscc(
        self,
        info: Info,
        usccs: Annotated[
            list[USCC], strawberry.argument(description="Their unified social credit codes.")
        ],
    ) -> list[Enterprise] | None:
        return await loaders(info).lookup("Enterprise", usccs)

    @link("market", "registry", description=(
        f"Enterprises whose name contains a text (at most {MAX_SEARCH_TEXT} characters), 1 to"
        f" {MAX_PAGE} a page; `after`: the `endCursor` of the page before. `totalCount` counts"
        " only what you may see, and is null when the gateway does not know that number."
    ))  # fmt: skip
    async def enterprises(
        self,
        info: Info,
        name_contains: Annotated[
            str,
            strawberry.argument(
                description=f"The text the name contains, 1 to {MAX_SEARCH_TEXT} characters"
                " (trimmed)."
            ),
        ],
        first: First = 20,
        after: After = None,
    ) -> EnterpriseConnection | None:
        text, size = search_text(name_contains), page_size(first, MAX_PAGE)
        plan = info.context.plan
        assert plan is not None
        counted = plan.decisions.get(("EnterpriseConnection", "totalCount"))
        count = counted is not None and counted.outcome is not Outcome.DENY
        found = await loaders(info).search("Enterprise", text, size, after, count=count)
        page_info = {"has_next_page": found.end_cursor is not None, "end_cursor": found.end_cursor}
        connection = {
            "nodes": found.nodes,
            "page_info": build(PageInfo, page_info, plan.build_rules),
            "total_count": found.total,
        }
        return build(EnterpriseConnection, connection, plan.build_rules)
