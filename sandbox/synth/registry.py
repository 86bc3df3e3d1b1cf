"""Persons (the police population registry) and enterprises (the market registry)."""

from __future__ import annotations

import datetime as dt

from kernel.identifiers import USCC_ALPHABET, resident_id_check_char, uscc_check_char
from sandbox import names
from sandbox.names import District, Industry
from sandbox.synth.draft import AS_OF, Draft, Weighted, add_years, between, iso, labels
from sandbox.tables import Record

_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


class Registry:
    """Generates persons and enterprises into a draft."""

    def __init__(self, draft: Draft) -> None:
        self.d = draft
        self.surnames = Weighted(names.SURNAMES)
        self.ethnicities = Weighted(names.ETHNICITIES)
        self.industries = Weighted([(i, i.weight) for i in names.INDUSTRIES])
        self.legal_forms = Weighted(names.LEGAL_FORMS)
        self.statuses = Weighted(names.ENTERPRISE_STATUSES)
        self.enterprise_names: set[str] = set()
        self.penalty_seq: dict[tuple[str, int], int] = {}

    def generate(self) -> None:
        """The population first, then enterprises run by and owned by its members."""
        for _ in range(self.d.target["persons"]):
            self.make_person()
        self.d.people = list(self.d.persons.values())
        for _ in range(self.d.target["enterprises"]):
            self.make_enterprise()

    # ---------------------------------------------------------------- persons

    def make_person(self) -> Record:
        d, rng = self.d, self.d.rng
        district = d.districts.pick(rng)
        male = rng.random() < 0.51
        while True:
            born = between(rng, dt.date(1950, 1, 1), dt.date(2004, 12, 31))
            sequence = rng.randrange(0, 500) * 2 + (1 if male else 0)  # 17th digit odd = male
            first17 = f"{district.code}{born:%Y%m%d}{sequence:03d}"
            id_number = first17 + resident_id_check_char(first17)
            if id_number not in d.persons:
                break
        person = {
            "id_number": id_number,
            "name": self._person_name(male),
            "gender": "男" if male else "女",
            "birth_date": iso(born),
            "ethnicity": self.ethnicities.pick(rng),
            "household_address": self._home_address(district),
            "phone": rng.choice(names.PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}",
            **labels("H0", 2),
        }
        d.persons[id_number] = person
        d.person_district[id_number] = district
        return person

    def _person_name(self, male: bool) -> str:
        rng = self.d.rng
        pool = names.GIVEN_MALE if male else names.GIVEN_FEMALE
        given = rng.choice(pool) if rng.random() < 0.3 else rng.choice(pool) + rng.choice(pool)
        return self.surnames.pick(rng) + given

    def _home_address(self, district: District) -> str:
        rng = self.d.rng
        return (
            f"{district.full_name}{rng.choice(names.STREETS)}{rng.randint(1, 399)}号"
            f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元"
            f"{rng.randint(1, 32)}{rng.randint(1, 4):02d}室"
        )

    # ---------------------------------------------------------------- enterprises

    def make_enterprise(
        self,
        district: District | None = None,
        industry: Industry | None = None,
        legal_rep: Record | None = None,
        established: dt.date | None = None,
        form: str | None = None,
    ) -> Record:
        """A registered enterprise; every argument left out is drawn at random."""
        d, rng = self.d, self.d.rng
        district = district or d.districts.pick(rng)
        industry = industry or self.industries.pick(rng)
        form = form or self.legal_forms.pick(rng)
        established = established or between(rng, dt.date(1998, 1, 1), dt.date(2023, 6, 30))
        legal_rep = legal_rep or d.pick_person(adult_on=established)
        uscc = self._uscc(district)
        status = self.statuses.pick(rng)
        enterprise: Record = {
            "uscc": uscc,
            "name": self._enterprise_name(district, industry, form),
            "legal_rep_id": legal_rep["id_number"],
            "legal_rep_name": legal_rep["name"],
            "registered_capital": float(
                rng.choice((10, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000)) * 10_000
            ),
            "established_on": iso(established),
            "business_scope": industry.scope,
            "status": status,
            "address": self._office_address(district),
            "region_code": district.code,
            "industry": industry.name,
            "shareholders": self._shareholders(legal_rep, established),
            "abnormal_operations": [],
            "serious_violation": False,
            "penalties": [],
            **labels("H0", 0),
        }
        d.enterprises[uscc] = enterprise
        d.enterprise_list.append(enterprise)
        d.enterprise_district[uscc] = district
        d.enterprise_industry[uscc] = industry
        d.enterprises_by_rep.setdefault(legal_rep["id_number"], []).append(uscc)
        self._registry_history(enterprise, district, established)
        return enterprise

    def _uscc(self, district: District) -> str:
        """A fresh USCC: 9 (market regulator) 1 (enterprise), region, organisation code."""
        rng = self.d.rng
        while True:
            # Mostly digits, as most organisation codes are; letters from the USCC alphabet.
            body = "".join(
                rng.choice(USCC_ALPHABET) if rng.random() < 0.15 else str(rng.randrange(10))
                for _ in range(8)
            )
            first17 = f"91{district.code}{body}{org_code_check(body)}"
            uscc = first17 + uscc_check_char(first17)
            if uscc not in self.d.enterprises:
                return uscc

    def _enterprise_name(self, district: District, industry: Industry, form: str) -> str:
        """``北京`` + trade name ``鑫盛`` + maybe ``财富`` + ``投资管理`` + ``有限公司``."""
        rng = self.d.rng
        middles = names.FINANCE_MIDDLE_WORDS if industry.fundraising_risk else names.MIDDLE_WORDS
        while True:
            trade = "".join(rng.sample(names.TRADE_NAME_CHARS, 2))
            middle = rng.choice(middles)
            word = rng.choice(industry.name_words)
            name = f"{district.city_short}{trade}{middle}{word}{form}"
            if name not in self.enterprise_names:
                self.enterprise_names.add(name)
                return name

    def _office_address(self, district: District) -> str:
        rng = self.d.rng
        building = "".join(rng.sample(names.TRADE_NAME_CHARS, 2)) + rng.choice(names.BUILDINGS)
        floor = rng.randint(1, 32)
        return (
            f"{district.full_name}{rng.choice(names.STREETS)}{rng.randint(1, 999)}号"
            f"{building}{floor}层{floor}{rng.randint(1, 20):02d}室"
        )

    def _shareholders(self, legal_rep: Record, established: dt.date) -> list[Record]:
        """The legal representative holds the largest share; other holders are persons or,
        sometimes, enterprises registered earlier."""
        d, rng = self.d, self.d.rng
        holders = [(legal_rep["id_number"], legal_rep["name"], "person")]
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            if d.enterprise_list and rng.random() < 0.15:
                parent = rng.choice(d.enterprise_list[-200:])
                holder = (parent["uscc"], parent["name"], "enterprise")
            else:
                person = d.pick_person(adult_on=established)
                holder = (person["id_number"], person["name"], "person")
            if holder[0] not in {h[0] for h in holders}:
                holders.append(holder)
        weights = sorted((rng.uniform(1, 10) for _ in holders), reverse=True)
        total = sum(weights)
        shares = [round(100 * w / total, 2) for w in weights]
        shares[0] = round(100 - sum(shares[1:]), 2)
        return [
            {"holder_id": hid, "holder_name": hname, "holder_type": htype, "share_pct": share}
            for (hid, hname, htype), share in zip(holders, shares, strict=True)
        ]

    def _registry_history(self, enterprise: Record, district: District, since: dt.date) -> None:
        """Abnormal-operations entries, the serious-violation flag and penalties."""
        rng = self.d.rng
        troubled = enterprise["status"] == "吊销"
        if rng.random() < (0.6 if troubled else 0.07):
            enterprise["abnormal_operations"].append(self.abnormal_entry(district, since))
        enterprise["serious_violation"] = rng.random() < (0.15 if troubled else 0.01)
        if rng.random() < 0.05:
            for _ in range(rng.choice((1, 1, 2))):
                decided = between(rng, since, AS_OF)
                enterprise["penalties"].append(
                    self.penalty(district, decided, rng.choice(names.PENALTY_VIOLATIONS))
                )

    def abnormal_entry(
        self, district: District, since: dt.date, reason: str | None = None, removed: bool = True
    ) -> Record:
        """An abnormal-operations list entry, listed at least a year after ``since``; if
        ``removed``, possibly taken off the list again since."""
        rng = self.d.rng
        listed = between(rng, add_years(since, 1), AS_OF)
        removed_on = None
        if removed and rng.random() < names.ABNORMAL_REMOVAL_RATE:
            removed_on = iso(between(rng, listed + dt.timedelta(days=30), AS_OF))
        return {
            "listed_on": iso(listed),
            "reason": reason or rng.choice(names.ABNORMAL_REASONS),
            "authority": district.market_authority,
            "removed_on": removed_on,
        }

    def penalty(self, district: District, decided: dt.date, violation: str) -> Record:
        """An administrative penalty decided by the district's market regulator."""
        rng = self.d.rng
        key = (district.code, decided.year)
        seq = self.penalty_seq.get(key, rng.randint(20, 300)) + rng.randint(1, 15)
        self.penalty_seq[key] = seq
        return {
            "decision_number": f"{district.abbr}{district.short[0]}市监罚〔{decided.year}〕{seq}号",
            "decided_on": iso(decided),
            "violation": violation,
            "amount": float(rng.choice((5, 10, 20, 30, 50, 100, 200)) * 1_000),
            "authority": district.market_authority,
        }
