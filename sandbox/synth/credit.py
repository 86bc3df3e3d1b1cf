"""Credit reports (征信报告) of the credit reference system, and their planted patterns.

Every enterprise and a share of the persons (every legal representative among them) gets a
report: loans with their five-level class and 24-month repayment history, guarantees given and
received (the same guarantee seen from both sides), and queries by institutions. Drawn from a
``random.Random`` of its own (``seed + SEED_OFFSET``), after every other table is made, so that
adding credit left every other table of the world byte-identical.

Planted, with ground truth in ``Draft.planted`` (kinds of ``signals.model.SignalKind``):

- ``GUARANTEE_CHAIN``: chains of 3-6 enterprises, each guaranteeing the next one's loan; the
  demo scenario's accomplice guarantees the shell company, which guarantees the fundraiser.
  Decoys: two parties guaranteeing each other (a mutual guarantee is no chain).
- ``SUDDEN_OVERDUE``: a loan repaid on time for a year and more, then overdue for the last
  1-6 months (the fundraiser too, after the police case). Decoys: loans overdue almost from the
  start (long-standing, not sudden).
- ``BORROWING_BEFORE_FUNDRAISING``: the fundraiser's large new loans in the months before its
  investors' money starts to arrive (2025-03-01). Decoys: enterprises borrowing as heavily with
  no fundraising after.

Background guarantees pair parties that have no other guarantee (a legal representative
guaranteeing the enterprise's loan, one enterprise another's), so that no chain arises by
chance.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterable
from typing import Any

from sandbox import names
from sandbox.synth.draft import AS_OF, Draft, between, iso, labels, link, money
from sandbox.tables import JOINT_CASE_ID, Record

__all__ = ["CLASSES", "HISTORY_MONTHS", "SEED_OFFSET", "generate"]

SEED_OFFSET = 0x5A11C0  # the credit reports' own random source: seed + this
HISTORY_MONTHS = 24
PERSON_SHARE = 0.4  # of persons who are no legal representative
CLASSES = ("正常", "关注", "次级", "可疑", "损失")  # the five-level loan classification
FUNDRAISING_FROM = dt.date(2025, 3, 1)  # the scenario's investors start paying in (scenario.py)

_ENTERPRISE_LOANS = (("经营贷", 5), ("流动资金贷款", 6), ("固定资产贷款", 2), ("银行承兑汇票", 2))
_PERSON_LOANS = (("个人消费贷", 5), ("房贷", 4), ("个人汽车贷款", 2), ("个人经营贷", 1))
_OTHER_INSTITUTIONS = (
    "北京中关村科技融资担保有限公司",
    "深圳市小额贷款有限公司",
    "平安普惠融资担保有限公司",
)
_REASONS = (("贷款审批", 6), ("贷后管理", 5), ("担保资格审查", 2))
_REP_REASON = "法人代表、负责人、高管等资信审查"


def generate(draft: Draft, scenario: dict[str, Any]) -> None:
    """Fill ``draft.credit`` and append the credit patterns to ``draft.planted``."""
    Credit(draft, scenario).generate()


def _months() -> list[tuple[int, int]]:
    """The (year, month) of each column of the repayment history, oldest first, ending with
    the world's "today"."""
    out = []
    year, month = AS_OF.year, AS_OF.month
    for _ in range(HISTORY_MONTHS):
        out.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


MONTHS = _months()


def _class_of(months_overdue: int) -> str:
    if months_overdue <= 0:
        return CLASSES[0]
    if months_overdue <= 3:
        return CLASSES[1]
    if months_overdue <= 6:
        return CLASSES[2]
    return CLASSES[3] if months_overdue <= 12 else CLASSES[4]


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, min(day.day, 28))


class Credit:
    def __init__(self, draft: Draft, scenario: dict[str, Any]) -> None:
        self.d = draft
        self.scenario = scenario
        self.rng = random.Random(draft.seed + SEED_OFFSET)
        self.lenders = [b.name for b in names.BANKS]
        self.weights = [b.weight for b in names.BANKS]
        self.loan_count = 0
        self.busy: set[str] = set()  # parties in some guarantee, or kept for a pattern

    # ------------------------------------------------------------------ reports

    def generate(self) -> None:
        d, rng = self.d, self.rng
        reps = set(d.enterprises_by_rep)
        for uscc in d.enterprises:
            self._background(self._report(uscc))
        for person_id in d.persons:
            if person_id in reps or rng.random() < PERSON_SHARE:
                self._background(self._report(person_id))
        self._scenario()
        self._chains()
        self._sudden_overdue()
        self._borrowing_decoys()
        self._background_guarantees()
        for report in d.credit.values():
            self._summarise(report)

    def _report(self, party_id: str) -> Record:
        found = self.d.credit.get(party_id)
        if found is not None:
            return found
        name, party_type = self.d.holder_name(party_id)
        report: Record = {
            "party_id": party_id,
            "party_type": party_type,
            "name": name,
            "report_date": iso(AS_OF),
            "total_balance": 0.0,
            "overdue_amount": 0.0,
            "worst_class": None,
            "loans": [],
            "guarantees_given": [],
            "guarantees_received": [],
            "queries": [],
            **labels("H1", 2),
        }
        self.d.credit[party_id] = report
        return report

    def _lender(self) -> str:
        return self.rng.choices(self.lenders, self.weights)[0]

    def _earliest(self, report: Record) -> dt.date:
        if report["party_type"] == "enterprise":
            established = self.d.enterprises[report["party_id"]]["established_on"]
            return max(dt.date.fromisoformat(established), dt.date(2016, 1, 1))
        return dt.date(2016, 1, 1)

    def _loan(
        self,
        report: Record,
        amount: float,
        opened: dt.date,
        *,
        kind: str | None = None,
        overdue_from: int | None = None,
        lender: str | None = None,
    ) -> Record:
        """A loan in ``report``; ``overdue_from``: the history column (0-23) from which it is
        overdue up to today, None: repaid on time."""
        rng = self.rng
        self.loan_count += 1
        enterprise = report["party_type"] == "enterprise"
        if kind is None:
            kinds = _ENTERPRISE_LOANS if enterprise else _PERSON_LOANS
            kind = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
        term = 360 if kind == "房贷" else rng.choice((12, 24, 36, 60))
        due = _add_months(opened, term)
        while due <= AS_OF:  # the world's loans are still running today
            term += 12
            due = _add_months(opened, term)
        elapsed = (AS_OF.year - opened.year) * 12 + AS_OF.month - opened.month
        balance = amount * max(0.05, 1 - elapsed / term)
        history = []
        for i, (year, month) in enumerate(MONTHS):
            if (year, month) < (opened.year, opened.month):
                history.append("/")
            elif overdue_from is not None and i >= overdue_from:
                history.append(str(min(7, i - overdue_from + 1)))
            else:
                history.append("N")
        months_overdue = 0 if overdue_from is None else HISTORY_MONTHS - overdue_from
        if overdue_from is not None:
            since_year, since_month = MONTHS[overdue_from]
            since: str | None = iso(dt.date(since_year, since_month, min(opened.day, 28)))
            overdue = min(balance, amount / term * months_overdue)
        else:
            since, overdue = None, 0.0
        loan: Record = {
            "loan_id": f"ZX{opened.year}{self.loan_count:07d}",
            "lender": lender or self._lender(),
            "loan_type": kind,
            "amount": money(amount),
            "balance": money(balance),
            "opened_on": iso(opened),
            "due_on": iso(due),
            "classification": _class_of(months_overdue),
            "overdue_amount": money(overdue),
            "overdue_since": since,
            "status_history": "".join(history),
        }
        report["loans"].append(loan)
        return loan

    def _query(
        self, report: Record, day: dt.date, reason: str, institution: str | None = None
    ) -> None:
        report["queries"].append(
            {
                "institution": institution or self._lender(),
                "queried_on": iso(day),
                "reason": reason,
            }
        )

    def _background(self, report: Record) -> None:
        """Ordinary loans, repaid on time (now and then a month late, long since cured), and
        the queries that go with them."""
        rng = self.rng
        enterprise = report["party_type"] == "enterprise"
        earliest = self._earliest(report)
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3) if enterprise else (0, 0, 1, 1, 2))):
            opened = between(rng, earliest, dt.date(2026, 9, 30))
            scale = (
                rng.choice((20, 50, 100, 200, 300)) if enterprise else rng.choice((2, 5, 10, 50))
            )
            loan = self._loan(report, scale * 10_000.0 * rng.uniform(0.5, 1.5), opened)
            if rng.random() < 0.08:  # one month late once, cured: no overdue today
                history = list(loan["status_history"])
                normal = [i for i, c in enumerate(history[:-3]) if c == "N"]
                if normal:
                    history[rng.choice(normal)] = "1"
                    loan["status_history"] = "".join(history)
            self._query(
                report, opened - dt.timedelta(days=rng.randint(3, 30)), "贷款审批", loan["lender"]
            )
        for _ in range(rng.randint(0, 3)):
            reason = rng.choices([r for r, _ in _REASONS], [w for _, w in _REASONS])[0]
            self._query(report, between(rng, dt.date(2024, 11, 1), AS_OF), reason)
        if (
            not enterprise
            and report["party_id"] in self.d.enterprises_by_rep
            and rng.random() < 0.5
        ):
            self._query(report, between(rng, dt.date(2024, 11, 1), AS_OF), _REP_REASON)

    def _guarantee(
        self,
        guarantor: str,
        borrower: str,
        amount: float,
        since: dt.date,
        lender: str | None = None,
    ) -> None:
        """``guarantor`` guarantees a new loan of ``borrower``: seen from both reports."""
        giver, taker = self._report(guarantor), self._report(borrower)
        loan = self._loan(taker, amount, since, lender=lender)
        given = {
            "party_id": borrower,
            "party_name": taker["name"],
            "party_type": taker["party_type"],
            "loan_id": loan["loan_id"],
            "amount": loan["amount"],
            "since": loan["opened_on"],
        }
        received = {
            "party_id": guarantor,
            "party_name": giver["name"],
            "party_type": giver["party_type"],
            "loan_id": loan["loan_id"],
            "amount": loan["amount"],
            "since": loan["opened_on"],
        }
        giver["guarantees_given"].append(given)
        taker["guarantees_received"].append(received)
        self.busy.update((guarantor, borrower))
        self._query(giver, since - dt.timedelta(days=7), "担保资格审查", loan["lender"])

    def _plant(self, kind: str, subject: str, group: str, decoy: bool = False) -> None:
        self.d.planted.append({"kind": kind, "subject": subject, "decoy": decoy, "group": group})

    def _free(self, pool: Iterable[str], count: int) -> list[str]:
        """Up to ``count`` parties of ``pool`` in no pattern yet, drawn at random; kept."""
        free = [p for p in pool if p not in self.busy]
        picked = self.rng.sample(free, min(count, len(free)))
        self.busy.update(picked)
        return picked

    def _count(self, per_scale_1: int, least: int) -> int:
        return max(least, round(per_scale_1 * self.d.scale))

    # ------------------------------------------------------------------ the scenario

    def _scenario(self) -> None:
        """The fundraiser borrows heavily before its investors pay in, guaranteed by its legal
        representative and by the shell company (itself guaranteed by the accomplice); after the
        police case its loans fall overdue."""
        s = self.scenario
        enterprise, rep = s["enterprise_uscc"], s["person_id"]
        shell, accomplice = s["shell_enterprise_uscc"], s["accomplice_id"]
        parties = (enterprise, rep, shell, accomplice)
        self.busy.update(parties)
        report = self._report(enterprise)
        overdue_from = MONTHS.index((2026, 7))
        big = (
            (dt.date(2024, 10, 12), 6_000_000.0, "经营贷", "中国工商银行"),
            (dt.date(2024, 12, 20), 4_000_000.0, "流动资金贷款", "招商银行"),
            (dt.date(2025, 2, 10), 3_000_000.0, "经营贷", "兴业银行"),
        )
        for opened, amount, kind, lender in big:
            self._query(report, opened - dt.timedelta(days=12), "贷款审批", lender)
            self._loan(report, amount, opened, kind=kind, overdue_from=overdue_from, lender=lender)
        for day, lender in (
            (dt.date(2026, 7, 20), "中国工商银行"),
            (dt.date(2026, 8, 5), "招商银行"),
        ):
            self._query(report, day, "贷后管理", lender)
        # guarantees: the representative and the shell on the fundraiser, the accomplice on
        # the shell: accomplice -> shell -> fundraiser is a chain of three
        self._guarantee(rep, enterprise, 2_000_000.0, dt.date(2024, 11, 8), "中国建设银行")
        self._guarantee(shell, enterprise, 2_500_000.0, dt.date(2025, 1, 15), "中信银行")
        self._guarantee(accomplice, shell, 1_000_000.0, dt.date(2024, 9, 3), "中国银行")
        self._query(self._report(rep), dt.date(2024, 10, 1), _REP_REASON, "中国工商银行")
        for party in (accomplice, shell, enterprise):
            self._plant("GUARANTEE_CHAIN", party, "chain-scenario")
        self._plant("BORROWING_BEFORE_FUNDRAISING", enterprise, "scenario")
        self._plant("SUDDEN_OVERDUE", enterprise, "scenario")
        for party in parties:
            found = self.d.credit[party]
            link(found, JOINT_CASE_ID)
            found["handling_code"] = "H2"

    # ------------------------------------------------------------------ patterns

    def _chains(self) -> None:
        rng = self.rng
        for n in range(1, self._count(40, 3) + 1):
            members = self._free(self.d.enterprises, rng.randint(3, 6))
            if len(members) < 3:
                return
            start = between(rng, dt.date(2021, 1, 1), dt.date(2025, 6, 30))
            for i, (guarantor, borrower) in enumerate(itertools.pairwise(members)):
                amount = rng.choice((100, 200, 300, 500)) * 10_000.0
                self._guarantee(guarantor, borrower, amount, start + dt.timedelta(days=40 * i))
            for member in members:
                self._plant("GUARANTEE_CHAIN", member, f"chain-{n}")
        for n in range(1, self._count(30, 3) + 1):
            pair = self._free(self.d.enterprises, 2)
            if len(pair) < 2:
                return
            day = between(rng, dt.date(2021, 1, 1), dt.date(2025, 6, 30))
            self._guarantee(pair[0], pair[1], 3_000_000.0, day)
            self._guarantee(pair[1], pair[0], 3_000_000.0, day + dt.timedelta(days=20))
            for member in pair:
                self._plant("GUARANTEE_CHAIN", member, f"mutual-{n}", decoy=True)

    def _with_reports(self) -> list[str]:
        return [p for p in self.d.credit if p not in self.busy]

    def _sudden_overdue(self) -> None:
        rng = self.rng
        for n, party in enumerate(self._free(self._with_reports(), self._count(60, 4)), 1):
            report = self._report(party)
            opened = between(rng, dt.date(2019, 1, 1), dt.date(2024, 6, 30))
            opened = max(opened, self._earliest(report))
            # opened before the history's first month: every month clean until the last 1-6
            start = HISTORY_MONTHS - rng.randint(1, 6)
            amount = rng.choice((30, 80, 150, 400)) * 10_000.0
            self._loan(report, amount, opened, overdue_from=start)
            self._plant("SUDDEN_OVERDUE", party, f"overdue-{n}")
        for n, party in enumerate(self._free(self._with_reports(), self._count(40, 3)), 1):
            report = self._report(party)
            opened = between(rng, dt.date(2024, 11, 1), dt.date(2025, 8, 31))
            first = MONTHS.index((opened.year, opened.month)) + rng.randint(1, 3)
            self._loan(report, rng.choice((20, 50, 120)) * 10_000.0, opened, overdue_from=first)
            self._plant("SUDDEN_OVERDUE", party, f"long-overdue-{n}", decoy=True)

    def _borrowing_decoys(self) -> None:
        """Heavy new loans, as the fundraiser took, by enterprises that raise no money after."""
        rng = self.rng
        for n, party in enumerate(self._free(self.d.enterprises, self._count(20, 3)), 1):
            report = self._report(party)
            first = between(
                rng, max(self._earliest(report), dt.date(2024, 1, 1)), dt.date(2026, 3, 31)
            )
            for i in range(3):
                day = first + dt.timedelta(days=45 * i)
                self._loan(report, rng.choice((200, 300, 400)) * 10_000.0, day, kind="经营贷")
            self._plant("BORROWING_BEFORE_FUNDRAISING", party, f"borrowing-{n}", decoy=True)

    def _background_guarantees(self) -> None:
        """Pairs only: a legal representative guaranteeing the enterprise's loan, one enterprise
        another's; nobody in two of them, so no chain arises by chance."""
        rng, d = self.rng, self.d
        for uscc, enterprise in d.enterprises.items():
            rep = enterprise["legal_rep_id"]
            if rng.random() < 0.25 and uscc not in self.busy and rep not in self.busy:
                day = between(rng, self._earliest(self._report(uscc)), dt.date(2026, 6, 30))
                self._guarantee(rep, uscc, rng.choice((50, 100, 200)) * 10_000.0, day)
        free = [u for u in d.enterprises if u not in self.busy]
        rng.shuffle(free)
        for guarantor, borrower in list(zip(free[::2], free[1::2], strict=False))[: len(free) // 6]:
            day = between(rng, self._earliest(self._report(borrower)), dt.date(2026, 6, 30))
            self._guarantee(guarantor, borrower, rng.choice((100, 200)) * 10_000.0, day)

    @staticmethod
    def _summarise(report: Record) -> None:
        loans = report["loans"]
        report["loans"] = sorted(loans, key=lambda loan: (loan["opened_on"], loan["loan_id"]))
        report["queries"].sort(key=lambda q: q["queried_on"], reverse=True)
        report["total_balance"] = money(sum(loan["balance"] for loan in loans))
        report["overdue_amount"] = money(sum(loan["overdue_amount"] for loan in loans))
        worst = max((CLASSES.index(loan["classification"]) for loan in loans), default=None)
        report["worst_class"] = None if worst is None else CLASSES[worst]
