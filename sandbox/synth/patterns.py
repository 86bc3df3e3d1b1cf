"""Flow patterns planted in every world, with their ground truth (``World.planted``).

Planted after the demo scenario, on people and enterprises nobody else involves (no police
case, no lawsuit, no defaulter entry, not the scenario's), each through a new account of its
own; the investors, customers and staff are ordinary people of the population. Everything is
drawn from a random source of its own (``seed`` + :data:`SALT`), so the tables generated
before stay byte-identical whatever is planted here.

What is planted (counts at scale 1, at least :data:`FLOOR` of each pattern and one of each
decoy at any scale), and the ground truth recorded for it, one entry per account a detector
should flag, or should not (``decoy``), with the kind it shows or imitates:

- ``scatter``: an investment scheme's account takes 80-160 investors' small transfers within
  a few months and passes nearly all of it to two or three accounts of its organisers
  (SCATTERED_IN_CONCENTRATED_OUT); the demo scenario's main account is recorded as one too;
- ``batches``: a scheme pays its 15-35 investors "interest" of a few hundred to a few thousand
  yuan on about the same day every month (REGULAR_SMALL_BATCHES_OUT);
- ``pool``: four to seven collector accounts each take money from 12-40 people and forward
  most of it every week or two to one pool account (FUND_POOLING, the pool);
- ``layer``: a source sends large sums through a chain of three or four hops at different
  banks, each account passing them on within hours and keeping a fee (RAPID_PASS_THROUGH,
  every hop);
- decoys: a shop or school paid by many customers but paying many suppliers (imitates
  SCATTERED_IN_CONCENTRATED_OUT); a payroll paying the same staff monthly, salaries above the
  small-transfer limit (REGULAR_SMALL_BATCHES_OUT); a treasury sweeping its own sub-accounts
  weekly and funding their payments back (FUND_POOLING, the header account); a trading
  account passing money on days after it arrives, not hours (RAPID_PASS_THROUGH).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sandbox import names
from sandbox.synth.draft import Draft, iso, money
from sandbox.synth.finance import Finance
from sandbox.tables import Record

SALT = 0x19F10  # this module's random source is random.Random(seed + SALT)
FLOOR = 2  # at least this many instances of each pattern, whatever the scale
BASE = {"scatter": 8, "batches": 6, "pool": 5, "layer": 5}  # instances at scale 1
DECOYS = {"shop": 4, "payroll": 4, "sweep": 3, "slow": 4}
_TZ = dt.timezone(dt.timedelta(hours=8))
_START = dt.date(2025, 1, 1)  # planted activity runs from here ...
_END = dt.date(2026, 10, 15)  # ... to here

SCATTERED = "SCATTERED_IN_CONCENTRATED_OUT"  # signals.model.SignalKind values (floor 1)
BATCHES = "REGULAR_SMALL_BATCHES_OUT"
POOLING = "FUND_POOLING"
PASS_THROUGH = "RAPID_PASS_THROUGH"  # noqa: S105 (a signal kind, not a secret)


class Patterns:
    """Plants the flow patterns into a draft; call :meth:`plant` once."""

    def __init__(self, draft: Draft, finance: Finance, scenario: dict[str, Any]) -> None:
        self.d = draft
        self.finance = finance
        self.scenario = scenario
        self.rng = random.Random(draft.seed + SALT)
        self.used: set[str] = {scenario["person_id"], scenario["accomplice_id"]}
        self.used |= {scenario["enterprise_uscc"], scenario["shell_enterprise_uscc"]}

    def plant(self) -> None:
        """Plant every pattern and decoy; the finance helpers draw from this module's random
        source meanwhile (the draft's own is put back after)."""
        saved, self.d.rng = self.d.rng, self.rng
        try:
            self._plant()
        finally:
            self.d.rng = saved

    def _plant(self) -> None:
        d = self.d
        self.population = [
            d.accounts[numbers[0]]
            for holder, numbers in d.accounts_by_holder.items()
            if holder in d.persons and d.accounts[numbers[0]]["status"] == "正常"
        ]
        self.companies = [
            d.accounts[numbers[0]]
            for holder, numbers in d.accounts_by_holder.items()
            if holder in d.enterprises and d.accounts[numbers[0]]["status"] == "正常"
        ]
        self._free()
        self._truth(SCATTERED, self.scenario["account_number"], "demo-scenario")
        plan = [(self._scatter, "scatter"), (self._batches, "batches"), (self._pool, "pool"),
                (self._layer, "layer")]  # fmt: skip
        for method, name in plan:
            for i in range(self._count(BASE[name], FLOOR)):
                method(f"{name}-{i + 1}")
        decoys = [(self._shop, "shop"), (self._payroll, "payroll"), (self._sweep, "sweep"),
                  (self._slow, "slow")]  # fmt: skip
        for method, name in decoys:
            for i in range(self._count(DECOYS[name], 1)):
                method(f"{name}-{i + 1}")

    # ------------------------------------------------------------------ helpers

    def _count(self, at_scale_one: int, floor: int) -> int:
        return max(floor, round(at_scale_one * self.d.scale))

    def _truth(self, kind: str, subject: str, group: str, decoy: bool = False) -> None:
        self.d.planted.append({"kind": kind, "subject": subject, "decoy": decoy, "group": group})

    def _free(self) -> None:
        """The persons and enterprises nobody else involves, in a random order."""
        d = self.d

        def free(party: str) -> bool:
            busy = party in d.police_by_suspect or party in d.police_by_enterprise
            busy = busy or party in d.court_by_party or party in d.defaulters
            return not busy and party not in self.used

        self.free_persons = [p for p in d.persons.values() if free(p["id_number"])]
        self.free_enterprises = [
            e for e in d.enterprise_list if free(e["uscc"]) and e["status"] != "注销"
        ]
        self.rng.shuffle(self.free_persons)
        self.rng.shuffle(self.free_enterprises)

    def _person(self) -> Record:
        person = self.free_persons.pop()
        self.used.add(person["id_number"])
        return person

    def _enterprise(self) -> Record:
        """An enterprise nobody else involves; a person when a small world has run out."""
        if not self.free_enterprises:
            return self._person()
        enterprise = self.free_enterprises.pop()
        self.used.add(enterprise["uscc"])
        return enterprise

    def _account(self, holder: Record, bank: names.Bank | None = None) -> Record:
        """A new account of ``holder`` (a person or an enterprise), in use."""
        if "uscc" in holder:
            account = self.finance.enterprise_account(holder, first=False, bank=bank)
        else:
            account = self.finance.person_account(holder, bank=bank)
        account["status"] = "正常"
        return account

    def _people(self, n: int) -> list[Record]:
        chosen = self.rng.sample(self.population, min(n, len(self.population)))
        return [a for a in chosen if a["holder_id"] not in self.used]

    def _day(self, first: dt.date, span: int) -> dt.date:
        return min(first + dt.timedelta(days=self.rng.randint(0, span)), _END)

    def _at(self, day: dt.date, hour: float) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), _TZ) + dt.timedelta(hours=hour)

    def _pay(
        self, sender: Record, receiver: Record, when: dt.datetime | dt.date, amount: float,
        memo: str, channel: str = "网银",
    ) -> None:  # fmt: skip
        if isinstance(when, dt.datetime):
            time = when.isoformat()
        else:
            time = self.finance.time(iso(when), sender["holder_type"] == "enterprise")
        self.finance.transfer(sender, receiver, time, money(amount), channel, memo)

    # ------------------------------------------------------------------ patterns

    def _scatter(self, group: str) -> None:
        """Many investors in, nearly everything out to the organisers' two or three accounts."""
        rng = self.rng
        main = self._account(self._enterprise())
        owners = [self._account(self._person()) for _ in range(rng.randint(2, 3))]
        first, span = self._day(_START, 400), rng.randint(100, 170)
        investors = self._people(rng.randint(80, 160))
        events: list[tuple[dt.date, int]] = []
        for investor in investors:
            for _ in range(rng.choice((1, 1, 2, 3))):
                day, amount = self._day(first, span), rng.randint(10, 300) * 100
                self._pay(investor, main, day, amount, rng.choice(_INVEST_MEMOS), "手机银行")
                events.append((day, amount))
        events.sort()
        balance, day, k = 0.0, first, 0
        while day <= first + dt.timedelta(days=span + 20):
            day += dt.timedelta(days=rng.randint(20, 40))
            while k < len(events) and events[k][0] < day:
                balance += events[k][1]
                k += 1
            if day > _END or balance < 10_000:
                continue
            paid = round(balance * rng.uniform(0.85, 0.95), -3)
            self._pay(main, rng.choice(owners), day, paid, rng.choice(("往来款", "借款")))
            expense = round(balance * rng.uniform(0.01, 0.03), 2)  # rent and the like
            self._pay(main, rng.choice(self.companies), day, expense, "房租")
            balance -= paid + expense
        self._truth(SCATTERED, main["number"], group)

    def _batches(self, group: str) -> None:
        """Investors put money in; every month, on about the same day, each is paid interest."""
        rng = self.rng
        main = self._account(self._person() if rng.random() < 0.5 else self._enterprise())
        investors = self._people(rng.randint(15, 35))
        first = self._day(_START, 300)
        principal: dict[str, float] = {}
        for investor in investors:
            amount = rng.randint(20, 150) * 1000
            self._pay(investor, main, self._day(first, 45), amount, "理财认购款", "手机银行")
            principal[investor["number"]] = amount
        rate, payday = rng.uniform(0.01, 0.03), rng.randint(5, 25)
        month = dt.date(first.year, first.month, 1)
        for _ in range(rng.randint(7, 11)):
            month = (month + dt.timedelta(days=32)).replace(day=1)
            day = month.replace(day=payday) + dt.timedelta(days=rng.randint(-1, 1))
            if day > _END:
                break
            for investor in investors:
                interest = min(principal[investor["number"]] * rate, 4_800.0)
                self._pay(main, investor, day, interest, "收益返还")
        self._truth(BATCHES, main["number"], group)

    def _pool(self, group: str) -> None:
        """Collectors take money from many people and forward most of it to one pool."""
        rng = self.rng
        pool = self._account(self._enterprise())
        boss = self._account(self._person())
        first, span = self._day(_START, 350), rng.randint(90, 150)
        for _ in range(rng.randint(4, 7)):
            collector = self._account(self._person(), rng.choice(names.BANKS))
            events = []
            for payer in self._people(rng.randint(12, 40)):
                day, amount = self._day(first, span), rng.randint(20, 500) * 100
                self._pay(payer, collector, day, amount, rng.choice(_INVEST_MEMOS), "手机银行")
                events.append((day, amount))
            events.sort()
            balance, day, k = 0.0, first, 0
            while k < len(events):
                day += dt.timedelta(days=rng.randint(7, 14))
                while k < len(events) and events[k][0] < day:
                    balance += events[k][1]
                    k += 1
                if balance and day <= _END:
                    forward = round(balance * rng.uniform(0.85, 0.95), 2)
                    self._pay(collector, pool, day, forward, "代收款", "手机银行")
                    balance -= forward
            spend = round(balance * 0.3, 2)
            if spend and day <= _END:
                self._pay(collector, rng.choice(self.companies), day, spend, "消费")
        day = first + dt.timedelta(days=span + 10)
        for _ in range(2):
            day = min(day + dt.timedelta(days=rng.randint(20, 40)), _END)
            self._pay(pool, boss, day, rng.randint(50, 200) * 10_000, "往来款")
        self._truth(POOLING, pool["number"], group)

    def _layer(self, group: str) -> None:
        """Large sums passed through three or four hops at different banks within hours."""
        rng = self.rng
        banks = rng.sample(names.BANKS, 6)
        source = self._account(self._enterprise(), banks[0])
        hops = [
            [self._account(self._person(), banks[h + 1]) for _ in range(rng.randint(1, 2))]
            for h in range(rng.randint(3, 4))
        ]
        sink = self._account(self._enterprise(), banks[-1])
        first = self._day(_START, 450)
        for _ in range(rng.randint(6, 12)):
            when = self._at(self._day(first, 90), rng.uniform(9, 16))
            parcels = [(source, float(rng.randint(20, 200) * 10_000))]
            for hop in [*hops, [sink]]:
                when += dt.timedelta(hours=rng.uniform(0.5, 20))
                passed = []
                for sender, amount in parcels:
                    keep = 0.0 if sender is source else rng.uniform(0.005, 0.02)
                    receiver = rng.choice(hop)
                    self._pay(sender, receiver, when, amount * (1 - keep), "往来款")
                    passed.append((receiver, money(amount * (1 - keep))))
                parcels = passed
        for hop in hops:
            for account in hop:
                self._truth(PASS_THROUGH, account["number"], group)

    # ------------------------------------------------------------------ decoys

    def _shop(self, group: str) -> None:
        """Many customers pay in; the money goes out to many suppliers and staff."""
        rng = self.rng
        shop = self._account(self._enterprise())
        suppliers = rng.sample(self.companies, min(len(self.companies), rng.randint(15, 40)))
        first, span = self._day(_START, 400), rng.randint(150, 250)
        takings = 0.0
        for customer in self._people(rng.randint(80, 160)):
            for _ in range(rng.choice((1, 2, 3))):
                amount = rng.randint(2, 800) * 10
                self._pay(customer, shop, self._day(first, span), amount, "货款", "第三方支付")
                takings += amount
        for supplier in suppliers:
            for _ in range(rng.randint(1, 3)):
                share = takings * rng.uniform(0.5, 1.5) / (2 * len(suppliers))
                self._pay(shop, supplier, self._day(first, span), share, "货款")
        self._truth(SCATTERED, shop["number"], group, decoy=True)

    def _payroll(self, group: str) -> None:
        """The same staff paid every month, salaries above the small-transfer limit."""
        rng = self.rng
        employer = self._account(self._enterprise())
        staff = [(a, rng.randint(55, 250) * 100) for a in self._people(rng.randint(15, 40))]
        clients = rng.sample(self.companies, min(len(self.companies), 5))
        month, payday = self._day(_START, 300).replace(day=1), rng.randint(5, 15)
        for _ in range(rng.randint(8, 12)):
            month = (month + dt.timedelta(days=32)).replace(day=1)
            if month.replace(day=payday) > _END:
                break
            payroll = sum(salary for _, salary in staff)
            self._pay(rng.choice(clients), employer, month, payroll * 1.3, "货款")
            for account, salary in staff:
                self._pay(employer, account, month.replace(day=payday), salary, "工资")
        self._truth(BATCHES, employer["number"], group, decoy=True)

    def _sweep(self, group: str) -> None:
        """An enterprise's header account sweeps its own sub-accounts weekly and funds their
        payments to suppliers back (zero balancing): money goes both ways."""
        rng = self.rng
        owner = self._enterprise()
        header = self._account(owner)
        first, weeks = self._day(_START, 350), rng.randint(16, 26)
        for _ in range(rng.randint(4, 6)):
            sub = self._account(owner, rng.choice(names.BANKS))
            customers = self._people(rng.randint(12, 30))
            for week in range(weeks):
                monday = first + dt.timedelta(weeks=week)
                takings = 0.0
                for customer in rng.sample(customers, min(len(customers), rng.randint(3, 8))):
                    amount = rng.randint(5, 300) * 100
                    self._pay(customer, sub, self._day(monday, 3), amount, "货款", "网银")
                    takings += amount
                bill = takings * rng.uniform(0.4, 0.7)
                tuesday = self._at(monday + dt.timedelta(days=1), 9)
                self._pay(header, sub, tuesday, bill, "资金下拨")
                supplier = rng.choice(self.companies)
                self._pay(sub, supplier, tuesday + dt.timedelta(hours=2), bill, "货款")
                friday = self._at(monday + dt.timedelta(days=4), 17)
                self._pay(sub, header, friday, takings, "资金归集")
        self._truth(POOLING, header["number"], group, decoy=True)

    def _slow(self, group: str) -> None:
        """A trading account: large receipts paid on to suppliers days later, not hours."""
        rng = self.rng
        trader = self._account(self._enterprise())
        first = self._day(_START, 400)
        for _ in range(rng.randint(20, 40)):
            day = self._day(first, 180)
            amount = rng.randint(10, 80) * 10_000
            self._pay(rng.choice(self.companies), trader, day, amount, "货款")
            later = day + dt.timedelta(days=rng.randint(3, 12))
            if later <= _END:
                self._pay(trader, rng.choice(self.companies), later, amount * 0.97, "货款")
        self._truth(PASS_THROUGH, trader["number"], group, decoy=True)


_INVEST_MEMOS = ("投资款", "理财认购款", "认购款", "入股款")
