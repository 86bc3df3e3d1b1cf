"""Reading a signal's evidence as the caller (schema/signals.py, docs/signals.md).

:class:`Reader` reads a subject's fields and follows its links exactly as a direct query
would: links through their guarded resolvers (schema/unified.py: a denied link, or one the team
grant allows from a record outside the team's scope, raises ``FieldForbidden``), values from
the objects the loaders built by the plan's rules (a withheld value raises ``FieldForbidden``,
a masked one comes masked), records through the loaders (what the record rules hide is not
there). A link the operation did not decide is never followed (fail closed).

Each part below turns what it could read into signals. When a kind's evidence field is
denied, the kind is withheld and recorded as withheld at ``<path>(KIND)``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal

import strawberry
from strawberry.utils.str_converters import to_camel_case

from connectors.errors import ConnectorError
from kernel import masks
from kernel.types import BuildRules, FieldDecision, RequestContext
from schema.base import SPECS_BY_NAME, FieldForbidden, entity_key
from schema.loaders import field_path
from schema.scope import refused, rules_of
from signals import flows
from signals.model import (
    FLOW_KINDS,
    Evidence,
    Ledger,
    Measure,
    Severity,
    Signal,
    SignalKind,
)
from signals.settings import SignalSettings

Info = strawberry.Info[RequestContext, None]
Shown = tuple[Signal, bool]  # a signal, and whether its money measures are shown masked

# charges that make a police case a high-severity signal: the platform's own field of work
FUNDRAISING_CHARGES = frozenset(
    {"非法吸收公众存款", "集资诈骗", "非法经营", "组织、领导传销活动", "洗钱", "合同诈骗"}
)
# the Transaction fields a flow pattern is computed from
_FLOW_FIELDS = ("time", "amount", "direction", "counterparty_account")
_NO_RULES = BuildRules()


class Reader:
    """One subject's evidence, read as the caller of the request may read it."""

    def __init__(self, subject: Any, info: Info, type_name: str) -> None:
        self.subject = subject
        self.raw = info._raw_info
        self.ctx: RequestContext = info.context
        plan = self.ctx.plan
        assert plan is not None, "the execute stage runs only with a plan"
        self.plan = plan
        self.type_name = type_name
        self.settings: SignalSettings = self.ctx.signals or SignalSettings()
        self._path: str | None = None
        self._accounts: asyncio.Future[list[Any]] | None = None
        # the days the subject's accounts start taking fundraising inflows, once the flow
        # patterns are computed (None: withheld)
        self.flows: asyncio.Future[list[str] | None] = asyncio.get_running_loop().create_future()

    @property
    def path(self) -> str:
        if self._path is None:
            self._path = field_path(self.raw)
        return self._path

    # ------------------------------------------------------------------ reading

    def decision(self, type_name: str, field: str) -> FieldDecision | None:
        return self.plan.decisions.get((type_name, field))

    def may_follow(self, obj: Any, type_name: str, field: str) -> bool:
        """Whether the caller may follow this link from ``obj`` (as schema/unified.py guards),
        and the operation decided it."""
        link = (type_name, field)
        return link in self.plan.decisions and not refused(self.plan, link, obj)

    async def follow(self, obj: Any, type_name: str, field: str, **args: Any) -> Any:
        """The link's value from ``obj`` as a direct query gets it; FieldForbidden if refused."""
        if self.decision(type_name, field) is None:
            raise FieldForbidden()  # not decided for this operation: never followed
        gql_type: Any = self.raw.schema.type_map[type_name]
        result = gql_type.fields[field].resolve(obj, self.raw, **args)
        if inspect.isawaitable(result):
            result = await result
        return result

    def rules(self, owner: Any, type_name: str) -> BuildRules:
        """The build rules of ``type_name`` for records belonging to ``owner`` (in or outside a
        team's scope, as ``owner`` was)."""
        return rules_of(self.plan, owner).get(type_name, _NO_RULES)

    def readable(self, owner: Any, type_name: str, names: Iterable[str]) -> BuildRules | None:
        """The build rules of ``type_name`` under ``owner`` if the caller may read every one
        of its values ``names`` (python names) and the operation decided each; else None."""
        rules = self.rules(owner, type_name)
        for name in names:
            if self.decision(type_name, to_camel_case(name)) is None or name in rules.denied:
                return None
        return rules

    def key(self, obj: Any, type_name: str) -> str | None:
        """``obj``'s key as the caller sees it (masked, or None if withheld). None too when
        the operation did not decide the key field: an undecided value is never shown."""
        spec = SPECS_BY_NAME[type_name]
        python = next(n for n, source in spec.plain if source == spec.key)
        if self.decision(type_name, to_camel_case(python)) is None:
            return None
        try:
            value = getattr(obj, python)
        except FieldForbidden:
            return None
        return None if value is None else str(value)

    async def accounts(self) -> list[Any]:
        """The subject's bank accounts the caller may see (the subject itself for an account);
        FieldForbidden if the caller may not follow ``bankAccounts``."""
        if self.type_name == "BankAccount":
            return [self.subject]
        if self._accounts is None:
            self._accounts = asyncio.ensure_future(
                self.follow(self.subject, self.type_name, "bankAccounts")
            )
        found = await asyncio.shield(self._accounts)
        return list(found or ())

    async def fundraising_start(self) -> str | Literal[False]:
        """The day the subject's fundraising inflows start (the first money in on an account
        showing scattered inflows), "" when none show, False when the flows are withheld."""
        found = await asyncio.shield(self.flows)
        if found is None:
            return False
        return min(found, default="")

    # ------------------------------------------------------------------ recording

    def withhold(self, kinds: Iterable[SignalKind]) -> None:
        """These kinds rest on evidence the caller may not read: withheld, and recorded."""
        for kind in kinds:
            self.ctx.audit.withheld_at(f"{self.path}({kind.value})", ())

    def saw(self, type_name: str, key: str | None) -> None:
        if key is not None and not masks.hides(key):
            self.ctx.audit.saw(type_name, key)


def banded(measures: Iterable[Measure], masked: bool) -> tuple[Measure, ...]:
    """``measures`` with each sum of money shown as its band when the caller sees money
    masked (kernel.masks.amount), the others as they are."""
    return tuple(
        Measure(m.name, masks.amount(m.value), m.amount) if m.amount and masked else m
        for m in measures
    )


async def _kind(
    reader: Reader, kinds: Sequence[SignalKind], read: Callable[[], Awaitable[list[Shown]]]
) -> list[Shown]:
    """``read()``'s signals, or none and the kinds withheld when its evidence is refused."""
    try:
        return await read()
    except FieldForbidden:
        reader.withhold(kinds)
        return []


def _signal(
    kind: SignalKind,
    severity: Severity,
    subject: str | None,
    start: str | None,
    end: str | None,
    evidence: Sequence[Evidence],
    summary: str,
    measures: Sequence[Measure] = (),
) -> Shown:
    return Signal(kind, severity, subject or "", start, end, tuple(evidence), tuple(measures),
                  summary), False  # fmt: skip


# ---------------------------------------------------------------------- records


async def record_signals(r: Reader) -> list[Shown]:
    """Signals the agencies' records say outright: listings, the blacklist, the business
    scope, the defaulter list, enforcement, police cases, the banks' reports."""
    t = r.type_name
    parts: list[Awaitable[list[Shown]]] = []
    K = SignalKind
    if t == "Enterprise":
        parts += [
            _kind(r, [K.ABNORMAL_LISTING], lambda: _listing(r)),
            _kind(r, [K.SERIOUS_VIOLATION], lambda: _blacklist(r)),
            _kind(r, [K.KEYWORD_SCOPE], lambda: _keywords(r)),
        ]
    if t in ("Enterprise", "Person"):
        parts += [
            _kind(r, [K.JUDGMENT_DEFAULTER], lambda: _defaulter(r, r.subject, t, own=True)),
            _kind(r, [K.OUTSTANDING_ENFORCEMENT], lambda: _enforcement(r)),
            _kind(r, [K.POLICE_CASE], lambda: _police(r)),
        ]
    if t == "Enterprise":
        parts.append(_kind(r, [K.JUDGMENT_DEFAULTER], lambda: _representative(r)))
    parts.append(_kind(r, [K.SUSPICIOUS_REPORT], lambda: _reports(r)))
    found = await asyncio.gather(*parts)
    return [s for group in found for s in group]


async def _listing(r: Reader) -> list[Shown]:
    key = r.key(r.subject, "Enterprise")
    out = []
    for entry in r.subject.abnormal_operations or ():
        if entry.removed_on is None:
            note = f"listed {entry.listed_on}: {entry.reason}"
            evidence = Evidence("Enterprise", key or "", "Enterprise.abnormalOperations", note)
            out.append(
                _signal(
                    SignalKind.ABNORMAL_LISTING,
                    Severity.MEDIUM,
                    key,
                    entry.listed_on,
                    None,
                    [evidence],
                    f"On the abnormal-operations list (经营异常名录): {entry.reason}",
                )
            )
    return out


async def _blacklist(r: Reader) -> list[Shown]:
    if r.subject.serious_violation is not True:
        return []
    key = r.key(r.subject, "Enterprise")
    evidence = Evidence("Enterprise", key or "", "Enterprise.seriousViolation", "listed")
    return [
        _signal(
            SignalKind.SERIOUS_VIOLATION,
            Severity.HIGH,
            key,
            None,
            None,
            [evidence],
            "On the list of serious violations (严重违法失信名单)",
        )
    ]


async def _keywords(r: Reader) -> list[Shown]:
    scope = r.subject.business_scope or ""
    found = [word for word in r.settings.scope_keywords if word in scope]
    if not found:
        return []
    key = r.key(r.subject, "Enterprise")
    note = "mentions " + "、".join(found)
    evidence = Evidence("Enterprise", key or "", "Enterprise.businessScope", note)
    return [
        _signal(
            SignalKind.KEYWORD_SCOPE,
            Severity.LOW,
            key,
            None,
            None,
            [evidence],
            f"Business scope {note}",
        )
    ]


async def _defaulter(r: Reader, obj: Any, type_name: str, own: bool) -> list[Shown]:
    entry = await r.follow(obj, type_name, "judgmentDefaulter")
    if entry is None:
        return []
    key = r.key(obj, type_name)
    who = "" if own else "legal representative "
    note = f"{who}listed {entry.listed_on}: {entry.obligation or ''}".strip()
    evidence = Evidence(type_name, key or "", f"{type_name}.judgmentDefaulter", note)
    severity = Severity.HIGH if own else Severity.MEDIUM
    summary = (
        "On the judgment-defaulter list (失信被执行人)"
        if own
        else "Its legal representative is on the judgment-defaulter list (失信被执行人)"
    )
    return [
        _signal(
            SignalKind.JUDGMENT_DEFAULTER,
            severity,
            r.key(r.subject, r.type_name),
            entry.listed_on,
            None,
            [evidence],
            summary,
        )
    ]


async def _representative(r: Reader) -> list[Shown]:
    person = await r.follow(r.subject, "Enterprise", "legalRepresentative")
    if person is None:
        return []
    return await _defaulter(r, person, "Person", own=False)


async def _enforcement(r: Reader) -> list[Shown]:
    cases = await r.follow(r.subject, r.type_name, "courtCases") or ()
    out = []
    seen: set[str | None] = set()  # an enforcement shows under its judgment's case and its own
    for case in cases:
        # the amounts come as the caller sees them: a band where masked, and marked so
        masked = "amount_owed" in r.rules(case, "EnforcementRecord").masks
        for record in case.enforcement or ():
            number = record.case_number
            if record.status == "执行完毕" or number in seen:
                continue
            seen.add(number)
            owed, paid = record.amount_owed, record.amount_paid
            note = f"{record.status}: owed {owed}, paid {paid}"
            evidence = Evidence("CourtCase", number or "", "CourtCase.enforcement", note)
            signal, _ = _signal(
                SignalKind.OUTSTANDING_ENFORCEMENT,
                Severity.MEDIUM,
                r.key(r.subject, r.type_name),
                None,
                None,
                [evidence],
                f"Enforcement not concluded ({record.status})",
                [Measure("amount_owed", float(owed), amount=True)] if owed else [],
            )
            out.append((signal, masked))
    return out


async def _police(r: Reader) -> list[Shown]:
    cases = await r.follow(r.subject, r.type_name, "policeCases") or ()
    out = []
    for case in cases:
        number = r.key(case, "PoliceCase")
        severity = Severity.HIGH if case.charge in FUNDRAISING_CHARGES else Severity.MEDIUM
        note = f"{case.charge}, {case.status}, filed {case.filed_on}"
        evidence = Evidence("PoliceCase", number or "", f"{r.type_name}.policeCases", note)
        out.append(
            _signal(
                SignalKind.POLICE_CASE,
                severity,
                r.key(r.subject, r.type_name),
                case.filed_on,
                None,
                [evidence],
                f"Named in a police case: {case.charge} ({case.status})",
            )
        )
    return out


async def _reports(r: Reader) -> list[Shown]:
    out = []
    for account in await r.accounts():
        for report in await r.follow(account, "BankAccount", "suspiciousReports") or ():
            number = r.key(account, "BankAccount")
            note = f"report {report.id} on {report.reported_on}: {report.pattern}"
            evidence = Evidence("BankAccount", number or "", "BankAccount.suspiciousReports", note)
            out.append(
                _signal(
                    SignalKind.SUSPICIOUS_REPORT,
                    Severity.MEDIUM,
                    number,
                    report.reported_on,
                    None,
                    [evidence],
                    f"The bank reported the account: {report.pattern}",
                )
            )
    return out


# ---------------------------------------------------------------------- flows


def _flows_readable(r: Reader, account: Any) -> BuildRules | None:
    """The Transaction build rules for ``account``'s transactions if the caller may read its
    flows (the transactions link and every field a pattern is computed from), else None."""
    if not r.may_follow(account, "BankAccount", "transactions"):
        return None
    return r.readable(account, "Transaction", _FLOW_FIELDS)


async def flow_signals(r: Reader) -> list[Shown]:
    """The flow patterns of the subject's accounts the caller may read the transactions of
    (signals/flows.py), with the collector accounts of a pool read the same way; the signals
    found are also left on ``r.flows`` (None: withheld) for the credit rules."""
    raw: list[str] | None = None
    try:
        shown, raw = await _flows(r)
        return shown
    finally:
        if not r.flows.done():
            r.flows.set_result(raw)


async def _flows(r: Reader) -> tuple[list[Shown], list[str] | None]:
    try:
        accounts = await r.accounts()
    except FieldForbidden:
        r.withhold(sorted(FLOW_KINDS))
        return [], None
    readable = [(a, rules) for a in accounts if (rules := _flows_readable(r, a)) is not None]
    if len(readable) < len(accounts):
        r.withhold(sorted(FLOW_KINDS))  # some of the subject's flows are not the caller's
    if not readable:
        return [], (None if accounts else [])
    settings = r.settings
    numbers = [entity_key(a) for a, _ in readable]
    ledgers = await _ledgers(r, numbers)
    wanted = {
        n: flows.pool_feeder_candidates(ledger, settings)
        for n, ledger in zip(numbers, ledgers, strict=True)
    }
    feeders = await _feeders(r, sorted({c for cs in wanted.values() for c in cs}))
    out: list[Shown] = []
    starts: list[str] = []
    for (account, rules), number, ledger in zip(readable, numbers, ledgers, strict=True):
        mine = {c: feeders[c] for c in wanted[number] if c in feeders}
        for signal in flows.detect(ledger, settings, mine):
            if signal.kind is SignalKind.SCATTERED_IN_CONCENTRATED_OUT and signal.period_from:
                starts += _first_in(ledger, signal.period_from, settings.flow_window_days)
            out.append(_shown_flow(r, signal, account, number, rules))
    return out, starts


def _first_in(ledger: Ledger, period_from: str, window_days: int) -> list[str]:
    """The day of the first transfer in on ``ledger`` in the window before the pattern's
    period begins and after: where the scattered inflows start (ISO day, UTC+8)."""
    since = dt.date.fromisoformat(period_from) - dt.timedelta(days=window_days)
    floor = int(dt.datetime.combine(since, dt.time(), _LOCAL).timestamp())
    for at, out, party in zip(ledger.time, ledger.out, ledger.counterparty, strict=True):
        if at >= floor and not out and party is not None:
            return [dt.datetime.fromtimestamp(at, _LOCAL).date().isoformat()]
    return []


_LOCAL = dt.timezone(dt.timedelta(hours=8))


async def _feeders(r: Reader, candidates: Sequence[str]) -> dict[str, Ledger]:
    """The ledgers of the accounts that may feed a pool, those the caller may read the flows
    of: their records through the loaders (the record rules and a team's scope apply)."""
    if not candidates:
        return {}
    found = await r.ctx.loaders.each("BankAccount", candidates)
    numbers = [entity_key(a) for a in found if _flows_readable(r, a) is not None]
    if not numbers:
        return {}
    ledgers = await _ledgers(r, numbers)
    return dict(zip(numbers, ledgers, strict=True))


async def _ledgers(r: Reader, numbers: Sequence[str]) -> list[Ledger]:
    """The accounts' transactions in columns: the numbers asked in one tick (by every
    subject's signals) become one banking call, each number asked once per request."""
    loaders = r.ctx.loaders
    max_rows = r.settings.ledger_max_rows
    banking = loaders.connector("banking")

    async def fetch(keys: list[str]) -> list[Ledger | BaseException]:
        call = banking.ledgers(keys, start=None, end=None, max_rows=max_rows)
        try:
            rows = await loaders.call("banking", "ledgers", len(keys), call)
        except ConnectorError as exc:
            return [exc] * len(keys)
        found = {row["account_number"]: Ledger.from_wire(row) for row in rows}
        return [found.get(k) or Ledger(k) for k in keys]

    found: list[Ledger] = await loaders.batch(("ledgers", max_rows), fetch).load_many(numbers)
    return found


def _shown_flow(r: Reader, signal: Signal, account: Any, number: str, rules: BuildRules) -> Shown:
    """A flow signal as the caller may see it: the account's number as shown, the other
    accounts as ``Transaction.counterpartyAccount`` is (clear ones recorded as seen), money
    as ``Transaction.amount`` is. Notes and summary carry no numbers then."""
    shown = r.key(account, "BankAccount")
    mask = rules.masks.get("counterparty_account")
    masked_amounts = "amount" in rules.masks
    evidence = []
    for e in signal.evidence:
        key: str | None = e.key
        if e.type_name == "BankAccount" and e.key == number:
            key = shown
        elif e.type_name == "BankAccount" and mask is not None:
            key = masks.apply(mask, e.key)
        elif e.type_name == "BankAccount":
            r.saw("BankAccount", e.key)
        note = e.note if mask is None and not masked_amounts else ""
        evidence.append(Evidence(e.type_name, key or "", e.field, note))
    measures = banded(signal.measures, masked_amounts)
    summary = signal.summary if mask is None and not masked_amounts else _GENERIC[signal.kind]
    changed = dataclasses.replace(
        signal, subject=shown or "", evidence=tuple(evidence), measures=measures, summary=summary
    )
    return changed, masked_amounts


_GENERIC = {
    SignalKind.SCATTERED_IN_CONCENTRATED_OUT: "Money comes in scattered and leaves concentrated",
    SignalKind.REGULAR_SMALL_BATCHES_OUT: "Money leaves in regular batches of small transfers",
    SignalKind.FUND_POOLING: "Collector accounts pool their money into this account",
    SignalKind.RAPID_PASS_THROUGH: "Money passes through the account within hours",
}
