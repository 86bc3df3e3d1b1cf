"""Bank accounts, their transactions and suspicious-transaction reports."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

from kernel.identifiers import luhn_check_digit
from sandbox import names
from sandbox.names import Bank, District
from sandbox.synth.draft import (
    AS_OF,
    TRANSACTIONS_FROM,
    Draft,
    Weighted,
    add_years,
    between,
    iso,
    labels,
    money,
)
from sandbox.tables import Record

# Every day on which everyday transactions happen, as ISO strings.
_TX_DAYS = tuple(
    iso(TRANSACTIONS_FROM + dt.timedelta(days=i))
    for i in range((AS_OF - TRANSACTIONS_FROM).days + 1)
)
# Accounts are opened before the transactions start.
_LAST_OPENING = TRANSACTIONS_FROM - dt.timedelta(days=1)


class Finance:
    """Generates accounts, transactions and reports into a draft."""

    def __init__(self, draft: Draft) -> None:
        self.d = draft
        self.banks = Weighted([(b, b.weight) for b in names.BANKS])
        self.account_statuses = Weighted(names.ACCOUNT_STATUSES)
        self.patterns = Weighted(names.SUSPICIOUS_PATTERNS)
        self.report_statuses = Weighted(names.REPORT_STATUSES)
        self.tx_seq = 0
        self.report_seq = 0

    # ---------------------------------------------------------------- accounts

    def generate_accounts(self) -> None:
        """Every person and enterprise has one account; the rest are second accounts."""
        d = self.d
        persons = list(d.persons.values())
        enterprises = list(d.enterprises.values())
        for person in persons:
            self.person_account(person)
        for enterprise in enterprises:
            self.enterprise_account(enterprise, first=True)
        for _ in range(d.target["accounts"] - len(persons) - len(enterprises)):
            if d.rng.random() < 0.6:
                self.person_account(d.rng.choice(persons))
            else:
                self.enterprise_account(d.rng.choice(enterprises), first=False)

    def person_account(self, person: Record, bank: Bank | None = None) -> Record:
        """A new account for an adult person, at a branch where the person lives."""
        born = dt.date.fromisoformat(person["birth_date"])
        earliest = max(add_years(born, 18), dt.date(2005, 1, 1))
        opened = between(self.d.rng, earliest, _LAST_OPENING)
        district = self.d.person_district[person["id_number"]]
        return self._open(person, "person", district, opened, bank)

    def enterprise_account(
        self, enterprise: Record, first: bool, bank: Bank | None = None
    ) -> Record:
        """A new account for an enterprise; its ``first`` (basic) account right after
        registration. A deregistered enterprise's accounts are closed."""
        established = dt.date.fromisoformat(enterprise["established_on"])
        latest = _LAST_OPENING
        if first:
            latest = min(latest, established + dt.timedelta(days=90))
        opened = between(self.d.rng, established, latest)
        district = self.d.enterprise_district[enterprise["uscc"]]
        status = "销户" if enterprise["status"] == "注销" else None
        return self._open(enterprise, "enterprise", district, opened, bank, status)

    def account_number(self, bank: Bank) -> str:
        """A fresh card number: one of the bank's BINs, random digits, the Luhn check digit."""
        rng = self.d.rng
        while True:
            prefix, length = rng.choice(bank.bins)
            payload = prefix + "".join(
                str(rng.randrange(10)) for _ in range(length - 1 - len(prefix))
            )
            number = payload + luhn_check_digit(payload)
            if number not in self.d.accounts:
                return number

    def _open(
        self,
        holder: Record,
        holder_type: str,
        district: District,
        opened: dt.date,
        bank: Bank | None = None,
        status: str | None = None,
    ) -> Record:
        d, rng = self.d, self.d.rng
        bank = bank or self.banks.pick(rng)
        median = 30_000.0 if holder_type == "person" else 800_000.0
        holder_id = holder["id_number"] if holder_type == "person" else holder["uscc"]
        account = {
            "number": self.account_number(bank),
            "holder_id": holder_id,
            "holder_name": holder["name"],
            "holder_type": holder_type,
            "bank": bank.name,
            "branch": f"{bank.name}股份有限公司{district.city_short}{district.short}支行",
            "opened_on": iso(opened),
            "balance": money(rng.lognormvariate(math.log(median), 1.3)),
            "currency": "CNY",
            "status": status or self.account_statuses.pick(rng),
            **labels("H0", 2),
        }
        d.accounts[account["number"]] = account
        d.accounts_by_holder.setdefault(holder_id, []).append(account["number"])
        return account

    # ---------------------------------------------------------------- transactions

    def time(self, day: str, corporate: bool) -> str:
        """An instant on ``day`` (+08:00): office hours for enterprises, waking hours else."""
        lo, hi = (8 * 3600 + 1800, 18 * 3600) if corporate else (7 * 3600, 24 * 3600 - 1)
        minutes, second = divmod(self.d.rng.randint(lo, hi), 60)
        hour, minute = divmod(minutes, 60)
        return f"{day}T{hour:02d}:{minute:02d}:{second:02d}+08:00"

    def add_tx(
        self,
        account: Record,
        time: str,
        amount: float,
        direction: str,
        channel: str,
        counterparty: tuple[str, str] | None,
        memo: str,
    ) -> Record:
        """One transaction on ``account``; ``counterparty`` is (name, account number)."""
        self.tx_seq += 1
        tx_id = f"T{time[:4]}{time[5:7]}{time[8:10]}{self.tx_seq:010d}"
        name, number = counterparty if counterparty is not None else (None, None)
        tx = {
            "id": tx_id,
            "account_number": account["number"],
            "time": time,
            "amount": amount,
            "direction": direction,
            "channel": channel,
            "counterparty_name": name,
            "counterparty_account": number,
            "memo": memo,
        }
        self.d.transactions[tx_id] = tx
        self.d.tx_by_account.setdefault(account["number"], []).append(tx)
        return tx

    def transfer(
        self, sender: Record, receiver: Record, time: str, amount: float, channel: str, memo: str
    ) -> None:
        """A transfer between two accounts of the world: one record on each side."""
        receiving = (receiver["holder_name"], receiver["number"])
        self.add_tx(sender, time, amount, "out", channel, receiving, memo)
        sending = (sender["holder_name"], sender["number"])
        self.add_tx(receiver, time, amount, "in", channel, sending, memo)

    def generate_transactions(self) -> None:
        """Everyday traffic until the target count: transfers between accounts of the world
        (55 %), shop and utility payments, cash at ATMs, money received from outside."""
        d, rng = self.d, self.d.rng
        active = [a for a in d.accounts.values() if a["status"] == "正常"]
        # A few accounts are much busier than the rest; enterprises busier than persons.
        activity = Weighted(
            [
                (a, rng.paretovariate(1.6) * (3.0 if a["holder_type"] == "enterprise" else 1.0))
                for a in active
            ]
        )
        senders, receivers = activity.stream(rng), activity.stream(rng)
        channels = {
            False: Weighted(names.CHANNELS_PERSONAL).stream(rng),
            True: Weighted(names.CHANNELS_CORPORATE).stream(rng),
        }
        externals = [
            (name, memo, self.account_number(self.banks.pick(rng)))
            for name, memo in names.EXTERNAL_COUNTERPARTIES
        ]
        start = len(d.transactions)
        while len(d.transactions) - start < d.target["transactions"]:
            account = next(senders)
            corporate = account["holder_type"] == "enterprise"
            time = self.time(rng.choice(_TX_DAYS), corporate)
            kind = rng.random()
            if kind < 0.55:
                self._everyday_transfer(account, next(receivers), time, channels[corporate])
            elif kind < 0.85 and not corporate:  # shop or utility payment
                name, memo, number = rng.choice(externals)
                amount = money(rng.lognormvariate(4.8, 1.0))  # median ~120 yuan
                self.add_tx(account, time, amount, "out", "第三方支付", (name, number), memo)
            elif kind < 0.95 and not corporate:  # cash at an ATM
                out = rng.random() < 0.7
                amount = float(rng.randint(1, 50) * 100)
                memo = "取现" if out else "存现"
                self.add_tx(account, time, amount, "out" if out else "in", "ATM", None, memo)
            else:  # money received from outside the world
                name, _, number = rng.choice(externals)
                channel = "网银" if corporate else "第三方支付"
                amount = money(rng.lognormvariate(9.5 if corporate else 5.5, 1.0))
                memo = "货款" if corporate else "退款"
                self.add_tx(account, time, amount, "in", channel, (name, number), memo)

    def _everyday_transfer(
        self, sender: Record, receiver: Record, time: str, channels: Iterator[str]
    ) -> None:
        if receiver is sender:
            return
        rng = self.d.rng
        from_enterprise = sender["holder_type"] == "enterprise"
        to_enterprise = receiver["holder_type"] == "enterprise"
        # Log-normal amounts; exp(mu) is the median.
        if from_enterprise and to_enterprise:  # ~36,000 yuan
            memo, amount = (
                rng.choice(names.MEMOS_ENTERPRISE_TO_ENTERPRISE),
                rng.lognormvariate(10.5, 1.4),
            )
        elif from_enterprise:  # wages and the like, ~7,300
            memo, amount = (
                rng.choice(names.MEMOS_ENTERPRISE_TO_PERSON),
                rng.lognormvariate(8.9, 0.6),
            )
        elif to_enterprise:  # ~1,800
            memo, amount = rng.choice(names.MEMOS_TO_ENTERPRISE), rng.lognormvariate(7.5, 1.2)
        else:  # ~800
            memo, amount = rng.choice(names.MEMOS_PERSON_TO_PERSON), rng.lognormvariate(6.7, 1.2)
        channel = next(channels)
        if channel == "ATM":  # transfers are not made at ATMs here
            channel = "手机银行"
        self.transfer(sender, receiver, time, money(amount), channel, memo)

    # ---------------------------------------------------------------- reports

    def add_report(
        self, account: Record, reported: dt.date, pattern: str, amount: float, status: str
    ) -> Record:
        """A suspicious-transaction report filed by the account's bank."""
        self.report_seq += 1
        report = {
            "id": f"STR{reported:%Y%m%d}{self.report_seq:06d}",
            "account_number": account["number"],
            "reported_on": iso(reported),
            "pattern": pattern,
            "amount": money(amount),
            "reporting_bank": account["bank"],
            "status": status,
            **labels("H2", 3),
        }
        self.d.reports[report["id"]] = report
        return report

    def generate_reports(self) -> None:
        """Reports on enterprise accounts frozen in fundraising-type cases (they preceded the
        case), and on a few busy accounts."""
        d, rng = self.d, self.d.rng
        for case in d.police_cases.values():
            if case["charge"] not in names.ENTERPRISE_CHARGES:
                continue
            for asset in case["frozen_assets"]:
                number = asset["account_number"]
                if number and d.accounts[number]["holder_type"] == "enterprise":
                    filed = dt.date.fromisoformat(case["filed_on"])
                    reported = filed - dt.timedelta(days=rng.randint(20, 200))
                    amount = case["amount_involved"] * rng.uniform(0.1, 0.6)
                    self.add_report(
                        d.accounts[number], reported, "分散转入、集中转出", amount, "已移送"
                    )
        for number, txs in d.tx_by_account.items():
            if len(txs) >= 40 and rng.random() < 0.05:
                latest = max(t["time"] for t in txs)[:10]
                reported = dt.date.fromisoformat(latest) + dt.timedelta(days=rng.randint(3, 30))
                amount = sum(t["amount"] for t in txs[:20])
                self.add_report(
                    d.accounts[number],
                    min(reported, AS_OF),
                    self.patterns.pick(rng),
                    amount,
                    self.report_statuses.pick(rng),
                )
