"""The demo scenario, planted in every world on top of the random data.

An illegal-fundraising enterprise run by its legal representative and an accomplice (who also
runs a shell company): its main account takes hundreds of small transfers from investors and
sends a handful of large ones to three accounts (*scattered in, concentrated out*); the bank
reports it; the market regulator lists the enterprise as abnormal; the police open a
非法吸收公众存款 case, freeze accounts and seal a flat; investors sue (民间借贷纠纷) and one suit
is enforced, putting the enterprise on the defaulter list. The joint investigation case
``JIT-2026-001`` links all of it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sandbox import names
from sandbox.synth.cases import CourtCases, PoliceCases, frozen_account, other_asset
from sandbox.synth.draft import SCENARIO_INVESTORS, Draft, iso, labels, link, money
from sandbox.synth.finance import Finance
from sandbox.synth.registry import Registry
from sandbox.tables import JOINT_CASE_ID, Record

SCENARIO_INCOMING = 320
_INVESTMENT_MEMOS = ("投资款", "理财认购款", "认购款", "养老项目投资款", "会员入股款")
_OUTFLOW_DAYS = (
    dt.date(2025, 6, 30),
    dt.date(2025, 10, 15),
    dt.date(2026, 1, 20),
    dt.date(2026, 3, 31),
    dt.date(2026, 5, 12),
    dt.date(2026, 6, 2),
)


def _industry(name: str) -> names.Industry:
    return next(i for i in names.INDUSTRIES if i.name == name)


def _bank(name: str) -> names.Bank:
    return next(b for b in names.BANKS if b.name == name)


class Scenario:
    """Plants the scenario with the same generators as the random data; call :meth:`plant`."""

    def __init__(
        self,
        draft: Draft,
        registry: Registry,
        finance: Finance,
        police: PoliceCases,
        courts: CourtCases,
    ) -> None:
        self.d = draft
        self.registry = registry
        self.finance = finance
        self.police = police
        self.courts = courts
        self.involved: set[str] = set()  # scenario people, kept apart from investors

    def plant(self) -> dict[str, Any]:
        """Plant everything; returns the identifiers for ``World.scenario``."""
        self._parties()
        total_in, total_out = self._money_flows()
        police_case = self._police_case(total_in)
        report = self.finance.add_report(
            self.accounts["main"], dt.date(2026, 6, 10), "分散转入、集中转出", total_in, "已移送"
        )
        suits, enforcement = self._lawsuits()
        return {
            "case_id": JOINT_CASE_ID,
            "enterprise_uscc": self.enterprise["uscc"],
            "enterprise_name": self.enterprise["name"],
            "person_id": self.legal_rep["id_number"],
            "person_name": self.legal_rep["name"],
            "account_number": self.accounts["main"]["number"],
            "police_case_number": police_case,
            "court_case_numbers": [c["case_number"] for c in suits],
            "enforcement_case_number": enforcement["case_number"],
            "accomplice_id": self.accomplice["id_number"],
            "accomplice_name": self.accomplice["name"],
            "shell_enterprise_uscc": self.shell["uscc"],
            "shell_enterprise_name": self.shell["name"],
            "person_account_number": self.accounts["rep"]["number"],
            "outflow_account_numbers": [
                self.accounts[a]["number"] for a in ("rep", "accomplice", "shell")
            ],
            "incoming_transfers": SCENARIO_INCOMING,
            "distinct_investors": len(self.investors),
            "total_in": money(total_in),
            "total_out": money(total_out),
            "report_id": report["id"],
        }

    def _uninvolved_person(self, adult_on: dt.date) -> Record:
        """A person who is nobody's suspect, litigant or debtor yet."""
        d = self.d
        while True:
            person = d.pick_person(adult_on)
            person_id = person["id_number"]
            if not (
                person_id in d.police_by_suspect
                or person_id in d.court_by_party
                or person_id in d.defaulters
                or person_id in self.involved
            ):
                self.involved.add(person_id)
                return person

    def _parties(self) -> None:
        """The fundraising enterprise, its people, the shell company, accounts, investors."""
        d, rng = self.d, self.d.rng
        major = [x for x in names.DISTRICTS if x.city in ("北京市", "上海市", "深圳市", "杭州市")]
        self.district = district = rng.choice(major)
        self.legal_rep = self._uninvolved_person(adult_on=dt.date(2000, 1, 1))
        self.accomplice = self._uninvolved_person(adult_on=dt.date(2005, 1, 1))
        self.enterprise = enterprise = self.registry.make_enterprise(
            district, _industry("资本市场服务"), self.legal_rep, dt.date(2023, 3, 16), "有限公司"
        )
        enterprise["status"] = "存续"
        enterprise["registered_capital"] = 50_000_000.0
        enterprise["serious_violation"] = False
        enterprise["abnormal_operations"] = [
            self.registry.abnormal_entry(
                district, dt.date(2025, 6, 1), names.ABNORMAL_REASONS[0], removed=False
            )
        ]
        enterprise["penalties"] = [
            self.registry.penalty(district, dt.date(2025, 11, 18), names.PENALTY_VIOLATIONS[0])
        ]
        self.shell = self.registry.make_enterprise(
            district, _industry("商务服务业"), self.accomplice, dt.date(2023, 8, 2), "有限公司"
        )
        self.shell["status"] = "存续"
        enterprise["shareholders"] = [
            _shareholder(self.legal_rep["id_number"], self.legal_rep["name"], "person", 80.0),
            _shareholder(self.shell["uscc"], self.shell["name"], "enterprise", 20.0),
        ]
        self.accounts = {
            "main": self.finance.enterprise_account(enterprise, True, _bank("中国工商银行")),
            "shell": self.finance.enterprise_account(self.shell, first=True),
            "rep": self.finance.person_account(self.legal_rep, bank=_bank("招商银行")),
            "accomplice": self.finance.person_account(self.accomplice),
        }
        for account in self.accounts.values():
            account["status"] = "正常"
        # Investors: ordinary people, each with the first account they opened.
        candidates = [
            d.accounts[numbers[0]]
            for person_id, numbers in d.accounts_by_holder.items()
            if person_id in d.persons and person_id not in self.involved
        ]
        candidates = [a for a in candidates if a["status"] == "正常"]
        self.investors = rng.sample(candidates, min(SCENARIO_INVESTORS, len(candidates)))

    def _money_flows(self) -> tuple[float, float]:
        """Scattered in (hundreds of small transfers), concentrated out (a handful of large).
        Returns the totals in and out."""
        rng = self.d.rng
        main = self.accounts["main"]
        first_day = dt.date(2025, 3, 1)
        span = (dt.date(2026, 5, 31) - first_day).days
        senders = list(self.investors)
        senders += [rng.choice(self.investors) for _ in range(SCENARIO_INCOMING - len(senders))]
        total_in = 0.0
        for investor in senders:
            # Inflows accelerate over time, as such schemes do.
            day = first_day + dt.timedelta(days=int(span * math.sqrt(rng.random())))
            amount = float(rng.randint(10, 500) * 100)  # 1,000 to 50,000 yuan
            channel = rng.choice(("手机银行", "手机银行", "网银", "柜面"))
            time = self.finance.time(iso(day), False)
            self.finance.transfer(
                investor, main, time, amount, channel, rng.choice(_INVESTMENT_MEMOS)
            )
            total_in += amount

        destinations = [self.accounts[a] for a in ("rep", "accomplice", "shell")]
        shares = [rng.uniform(0.8, 1.2) for _ in _OUTFLOW_DAYS]
        budget = total_in * 0.86
        total_out = 0.0
        for i, (day, share) in enumerate(zip(_OUTFLOW_DAYS, shares, strict=True)):
            amount = float(round(budget * share / sum(shares), -4))
            memo = ("往来款", "借款", "咨询服务费")[i % 3]
            time = self.finance.time(iso(day), True)
            self.finance.transfer(main, destinations[i % 3], time, amount, "网银", memo)
            total_out += amount
        main["balance"] = money(total_in - total_out)
        return total_in, total_out

    def _police_case(self, total_in: float) -> str:
        """The 非法吸收公众存款 case, part of the joint investigation. Returns its number."""
        filed = dt.date(2026, 7, 15)
        number = self.police.case_number(self.district, filed.year)
        frozen = [
            frozen_account(self.accounts[a], filed + dt.timedelta(days=3)) for a in ("main", "rep")
        ]
        frozen.append(other_asset("查封", "房产", 3_800_000.0, filed + dt.timedelta(days=9)))
        victims = len(self.investors)
        summary = self.police.summary(
            "非法吸收公众存款",
            dt.date(2025, 3, 1),
            self.legal_rep["name"],
            self.enterprise["name"],
            victims,
            total_in,
        )
        self.police.add(
            {
                "case_number": number,
                "charge": "非法吸收公众存款",
                "status": "侦查",
                "filed_on": iso(filed),
                "amount_involved": money(total_in),
                "victims": victims,
                "handling_unit": self.district.police_unit,
                "summary": summary,
                "suspect_ids": [self.legal_rep["id_number"], self.accomplice["id_number"]],
                "enterprise_ids": [self.enterprise["uscc"], self.shell["uscc"]],
                "frozen_assets": frozen,
                **labels("H2", 3, [JOINT_CASE_ID]),
            }
        )
        for record in (
            self.legal_rep,
            self.accomplice,
            self.enterprise,
            self.shell,
            *self.accounts.values(),
        ):
            link(record, number, JOINT_CASE_ID)
        self.enterprise["handling_code"] = "H1"
        return number

    def _lawsuits(self) -> tuple[list[Record], Record]:
        """Three investors sue the enterprise and its legal representative; the first suit is
        enforced. Returns the suits and the enforcement case."""
        rng = self.d.rng
        defendants = [self.enterprise["uscc"], self.legal_rep["id_number"]]
        suits = []
        for investor, (filed, stage) in zip(
            self.investors,
            (
                (dt.date(2026, 6, 22), "执行"),
                (dt.date(2026, 7, 3), "判决"),
                (dt.date(2026, 8, 11), "审理"),
            ),
            strict=False,
        ):
            parties = [self.courts.party(investor["holder_id"], "原告")]
            parties += [self.courts.party(d, "被告") for d in defendants]
            case = self.courts.add(
                self.district,
                "民初",
                filed,
                "民间借贷纠纷",
                stage,
                parties,
                case_labels=labels("H0", 1, [JOINT_CASE_ID]),
            )
            if stage in ("执行", "判决"):
                claim = float(rng.randint(200, 500) * 100)
                outcome = names.CIVIL_OUTCOMES[0].format(amount=f"{claim:.2f}", owed="借款本金")
                judgment = self.courts.judgment(
                    case["case_number"], filed + dt.timedelta(days=50), outcome, claim
                )
                judgment["public"] = True
                case["judgments"].append(judgment)
            suits.append(case)
        first = suits[0]
        enforcement = self.courts.enforce(
            first,
            self.district,
            dt.date(2026, 9, 15),
            first["judgments"][0]["amount"],
            "执行中",
            ["查询存款", "冻结存款", "限制高消费"],
            list_defaulter=True,
        )
        return suits, enforcement


def _shareholder(holder_id: str, name: str, holder_type: str, share: float) -> Record:
    return {
        "holder_id": holder_id,
        "holder_name": name,
        "holder_type": holder_type,
        "share_pct": share,
    }
