"""Police cases, and court cases: criminal trials, civil suits, enforcement, defaulters."""

from __future__ import annotations

import datetime as dt
import math

from sandbox import names
from sandbox.names import District
from sandbox.synth.draft import AS_OF, Draft, Weighted, between, iso, labels, link, money
from sandbox.tables import Record


class PoliceCases:
    """Generates police cases into a draft; suspects and enterprises come from the registry,
    frozen accounts from the banks."""

    def __init__(self, draft: Draft) -> None:
        self.d = draft
        self.charges = Weighted(names.POLICE_CHARGES)
        self.statuses = Weighted(names.POLICE_STATUSES)
        self.seq: dict[tuple[str, int], int] = {}

    def case_number(self, district: District, year: int) -> str:
        """``J`` + the handling unit's region code + year + 6-digit sequence."""
        rng = self.d.rng
        key = (district.code, year)
        seq = self.seq.get(key, rng.randint(100, 3000)) + rng.randint(1, 40)
        self.seq[key] = seq
        return f"J{district.code}{year}{seq:06d}"

    @staticmethod
    def summary(
        charge: str, since: dt.date, suspect: str, enterprise: str, victims: int, amount: float
    ) -> str:
        return names.SUMMARY_TEMPLATES[charge].format(
            since=f"{since.year}年{since.month}月",
            suspect=suspect,
            enterprise=enterprise,
            victims=victims,
            amount=round(amount / 10_000),
        )

    def add(self, case: Record) -> None:
        """Record a case and what it implies elsewhere: the suspects' and enterprises' labels,
        frozen accounts."""
        d = self.d
        number = case["case_number"]
        d.police_cases[number] = case
        for person_id in case["suspect_ids"]:
            d.police_by_suspect.setdefault(person_id, []).append(number)
            person = d.persons[person_id]
            person["handling_code"] = "H1"
            link(person, number)
        for uscc in case["enterprise_ids"]:
            d.police_by_enterprise.setdefault(uscc, []).append(number)
            enterprise = d.enterprises[uscc]
            enterprise["sensitivity"] = max(enterprise["sensitivity"], 1)
            link(enterprise, number)
        for asset in case["frozen_assets"]:
            if asset["account_number"] is not None:
                account = d.accounts[asset["account_number"]]
                if asset["measure"] == "冻结" and account["status"] == "正常":
                    account["status"] = "冻结"
                link(account, number)

    def generate(self) -> None:
        """Fundraising-type cases go through an enterprise (mostly of a risky industry) and
        its legal representative; fraud cases have persons only."""
        d, rng = self.d, self.d.rng
        risky = [u for u, i in d.enterprise_industry.items() if i.fundraising_risk]
        all_usccs = list(d.enterprises)
        for _ in range(d.target["police_cases"]):
            charge = self.charges.pick(rng)
            filed = between(rng, dt.date(2019, 1, 1), AS_OF - dt.timedelta(days=20))
            recent = (AS_OF - filed).days < 120
            status = rng.choice(("立案", "侦查")) if recent else self.statuses.pick(rng)
            enterprise_ids: list[str] = []
            if charge in names.ENTERPRISE_CHARGES:
                uscc = rng.choice(risky if risky and rng.random() < 0.7 else all_usccs)
                enterprise = d.enterprises[uscc]
                enterprise_ids.append(uscc)
                district = d.enterprise_district[uscc]
                suspects = [enterprise["legal_rep_id"]]
                suspects += [
                    s["holder_id"]
                    for s in enterprise["shareholders"][1:]
                    if s["holder_type"] == "person" and rng.random() < 0.5
                ]
                amount = rng.lognormvariate(math.log(5_000_000), 1.2)
                victims = max(10, int(rng.lognormvariate(math.log(200), 1.0)))
                enterprise_name = enterprise["name"]
            else:
                district = d.districts.pick(rng)
                suspects = []
                enterprise_name = ""
                amount = rng.lognormvariate(math.log(300_000), 1.2)
                victims = rng.randint(1, 60)
            for _ in range(rng.choice((0, 0, 1, 2))):
                other = d.pick_person()["id_number"]
                if other not in suspects:
                    suspects.append(other)
            if not suspects:
                suspects.append(d.pick_person()["id_number"])
            suspect_name = d.persons[suspects[0]]["name"]
            since = filed - dt.timedelta(days=rng.randint(90, 1000))
            frozen = (
                self._freeze(
                    suspects + enterprise_ids, filed + dt.timedelta(days=rng.randint(1, 20))
                )
                if status != "立案" and rng.random() < 0.6
                else []
            )
            ongoing = status in ("立案", "侦查")
            self.add(
                {
                    "case_number": self.case_number(district, filed.year),
                    "charge": charge,
                    "status": status,
                    "filed_on": iso(filed),
                    "amount_involved": money(amount),
                    "victims": victims,
                    "handling_unit": district.police_unit,
                    "summary": self.summary(
                        charge, since, suspect_name, enterprise_name, victims, amount
                    ),
                    "suspect_ids": suspects,
                    "enterprise_ids": enterprise_ids,
                    "frozen_assets": frozen,
                    **labels("H2" if ongoing else "H1", 3 if ongoing else 2),
                }
            )

    def _freeze(self, holder_ids: list[str], date: dt.date) -> list[Record]:
        """Frozen accounts of a case's suspects and enterprises, maybe a sealed or seized
        asset besides."""
        d, rng = self.d, self.d.rng
        assets: list[Record] = []
        for holder_id in holder_ids:
            for number in d.accounts_by_holder.get(holder_id, []):
                account = d.accounts[number]
                if account["status"] != "销户" and rng.random() < 0.7:
                    assets.append(frozen_account(account, date))
        if rng.random() < 0.4:
            asset_type = rng.choice(names.ASSET_TYPES_NON_ACCOUNT)
            measure = {"房产": "查封", "车辆": "扣押", "现金": "扣押"}.get(asset_type, "冻结")
            amount = money(rng.lognormvariate(math.log(800_000), 1.0))
            assets.append(
                other_asset(measure, asset_type, amount, date + dt.timedelta(rng.randint(0, 30)))
            )
        return assets


def frozen_account(account: Record, date: dt.date) -> Record:
    """A ``frozen_assets`` entry for a bank account."""
    return {
        "measure": "冻结",
        "asset_type": "银行存款",
        "account_number": account["number"],
        "amount": account["balance"],
        "date": iso(date),
    }


def other_asset(measure: str, asset_type: str, amount: float, date: dt.date) -> Record:
    """A ``frozen_assets`` entry for something other than an account (房产, 车辆 ...)."""
    return {
        "measure": measure,
        "asset_type": asset_type,
        "account_number": None,
        "amount": amount,
        "date": iso(date),
    }


class CourtCases:
    """Generates court cases into a draft: criminal trials after police cases, civil suits
    between persons and enterprises, enforcement cases and the defaulter list."""

    def __init__(self, draft: Draft) -> None:
        self.d = draft
        self.civil_causes = Weighted([((c, kinds), w) for c, w, kinds in names.CIVIL_CAUSES])
        self.seq: dict[tuple[int, str, str], int] = {}

    def case_number(self, year: int, court_code: str, case_type: str) -> str:
        """``(2024)京0105民初123号``: year, court code, case type, sequence."""
        rng = self.d.rng
        key = (year, court_code, case_type)
        seq = self.seq.get(key, rng.randint(50, 2000)) + rng.randint(1, 25)
        self.seq[key] = seq
        return f"({year}){court_code}{case_type}{seq}号"

    def party(self, party_id: str, role: str) -> Record:
        name, party_type = self.d.holder_name(party_id)
        return {"party_id": party_id, "name": name, "party_type": party_type, "role": role}

    def add(
        self,
        district: District,
        case_type: str,
        filed: dt.date,
        cause: str,
        stage: str,
        parties: list[Record],
        judgments: list[Record] | None = None,
        case_labels: Record | None = None,
    ) -> Record:
        """A new case at the district's basic court (public, H0, unless labelled otherwise)."""
        d = self.d
        court, court_code = district.basic_court
        number = self.case_number(filed.year, court_code, case_type)
        case = {
            "case_number": number,
            "court": court,
            "cause_of_action": cause,
            "stage": stage,
            "filed_on": iso(filed),
            "parties": parties,
            "judgments": judgments or [],
            "enforcement": [],
            **(case_labels or labels("H0", 0)),
        }
        if any(not j["public"] for j in case["judgments"]):
            case["sensitivity"] = max(case["sensitivity"], 2)
        d.court_cases[number] = case
        for party in parties:
            cases = d.court_by_party.setdefault(party["party_id"], [])
            if number not in cases:
                cases.append(number)
        return case

    def judgment(
        self, case_number: str, decided: dt.date, outcome: str, amount: float | None
    ) -> Record:
        """A judgment; one in ten is not published."""
        return {
            "document_number": case_number,
            "decided_on": iso(decided),
            "outcome": outcome,
            "amount": amount,
            "public": self.d.rng.random() < 0.9,
        }

    def enforce(
        self,
        case: Record,
        district: District,
        filed: dt.date,
        owed: float,
        status: str,
        measures: list[str] | None = None,
        list_defaulter: bool | None = None,
    ) -> Record:
        """Open an enforcement (执) case for a judgment, record it on the original case and
        maybe put the debtors on the defaulter list. Returns the enforcement case."""
        d, rng = self.d, self.d.rng
        creditors = [p for p in case["parties"] if p["role"] == "原告"]
        debtors = [p for p in case["parties"] if p["role"] == "被告"]
        paid = owed if status == "执行完毕" else money(owed * rng.choice((0, 0, 0.1, 0.3, 0.5)))
        if measures is None:
            measures = sorted(rng.sample(names.ENFORCEMENT_MEASURES[:-1], rng.randint(1, 3)))
        enforcement_case = self.add(
            district,
            "执",
            filed,
            case["cause_of_action"],
            "结案" if status != "执行中" else "执行",
            [{**p, "role": "申请执行人"} for p in creditors]
            + [{**p, "role": "被执行人"} for p in debtors],
            case_labels=labels(
                case["handling_code"], case["sensitivity"], list(case["linked_cases"])
            ),
        )
        record = {
            "case_number": enforcement_case["case_number"],
            "filed_on": iso(filed),
            "amount_owed": owed,
            "amount_paid": paid,
            "status": status,
            "measures": measures,
        }
        enforcement_case["enforcement"].append(record)
        case["enforcement"].append(record)
        if list_defaulter is None:
            list_defaulter = status != "执行完毕" and rng.random() < 0.5
        if list_defaulter:
            for debtor in debtors:
                if debtor["party_id"] not in d.defaulters:
                    listed = between(rng, filed + dt.timedelta(days=30), AS_OF)
                    d.defaulters[debtor["party_id"]] = {
                        "listed_on": iso(min(listed, AS_OF)),
                        "obligation": f"{case['case_number']}判决确定的给付义务：支付{owed:.2f}元",
                        "performance": rng.choice(names.DEFAULTER_PERFORMANCE),
                    }
            if "纳入失信名单" not in record["measures"]:
                record["measures"].append("纳入失信名单")
        return enforcement_case

    def generate(self) -> None:
        """Criminal trials first, then civil suits (some enforced) up to the target count."""
        self._criminal_trials()
        self._civil_suits()

    def _criminal_trials(self) -> None:
        """Trials that follow police cases sent for prosecution."""
        d, rng = self.d, self.d.rng
        for police_case in list(d.police_cases.values()):
            if len(d.court_cases) >= d.target["court_cases"]:
                break
            if police_case["status"] not in ("移送起诉", "结案") or rng.random() > 0.8:
                continue
            filed = dt.date.fromisoformat(police_case["filed_on"]) + dt.timedelta(
                days=rng.randint(120, 300)
            )
            if filed > AS_OF:
                continue
            district = (
                d.enterprise_district[police_case["enterprise_ids"][0]]
                if police_case["enterprise_ids"]
                else d.person_district[police_case["suspect_ids"][0]]
            )
            decided = filed + dt.timedelta(days=rng.randint(60, 240))
            done = police_case["status"] == "结案" and decided <= AS_OF
            parties = [self.party(p, "被告") for p in police_case["suspect_ids"]]
            parties += [self.party(u, "被告") for u in police_case["enterprise_ids"]]
            case = self.add(
                district,
                "刑初",
                filed,
                names.CRIMINAL_CAUSE[police_case["charge"]],
                "判决" if done else "审理",
                parties,
                case_labels=labels("H1", 1, [police_case["case_number"]]),
            )
            if done:
                fine = float(rng.choice((5, 10, 20, 50, 100)) * 10_000)
                outcome = names.CRIMINAL_OUTCOME.format(years=rng.randint(1, 10), fine=int(fine))
                judgment = self.judgment(case["case_number"], decided, outcome, fine)
                case["judgments"].append(judgment)
                if not judgment["public"]:
                    case["sensitivity"] = 2

    def _civil_suits(self) -> None:
        d, rng = self.d, self.d.rng
        target = d.target["court_cases"]
        persons = list(d.persons)
        usccs = list(d.enterprises)
        while len(d.court_cases) < target:
            cause, kinds = self.civil_causes.pick(rng)
            plaintiff = rng.choice(persons if kinds[0] == "p" else usccs)
            defendant = rng.choice(persons if kinds[1] == "p" else usccs)
            if plaintiff == defendant:
                continue
            district = (
                d.person_district[defendant]
                if kinds[1] == "p"
                else d.enterprise_district[defendant]
            )
            filed = between(rng, dt.date(2019, 1, 1), AS_OF - dt.timedelta(days=10))
            age = (AS_OF - filed).days
            claim = money(rng.lognormvariate(math.log(150_000), 1.1))
            parties = [self.party(plaintiff, "原告"), self.party(defendant, "被告")]
            if age < 90:  # still pending
                self.add(district, "民初", filed, cause, rng.choice(("立案", "审理")), parties)
                continue
            decided = filed + dt.timedelta(days=rng.randint(45, min(age, 360)))
            dismissed = rng.random() < 0.12
            outcome = (
                names.CIVIL_OUTCOME_DISMISSED
                if dismissed
                else rng.choice(names.CIVIL_OUTCOMES).format(
                    amount=f"{claim:.2f}", owed="借款本金" if "借贷" in cause else "款项"
                )
            )
            judgment = self.judgment("", decided, outcome, None if dismissed else claim)
            stage = "结案" if dismissed else rng.choice(("判决", "执行", "结案", "结案"))
            case = self.add(district, "民初", filed, cause, stage, parties, [judgment])
            judgment["document_number"] = case["case_number"]
            enforce_on = decided + dt.timedelta(days=rng.randint(30, 120))
            if stage == "执行" and enforce_on <= AS_OF and len(d.court_cases) < target:
                self.enforce(case, district, enforce_on, claim, "执行中")
            elif stage == "结案" and not dismissed and enforce_on <= AS_OF and rng.random() < 0.3:
                status = rng.choice(("执行完毕", "终结本次执行程序"))
                self.enforce(case, district, enforce_on, claim, status)
