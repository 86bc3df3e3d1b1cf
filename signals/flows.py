"""The flow patterns: what one account's transactions show (docs/signals.md, "Flow patterns").

:func:`detect` reads one :class:`~signals.model.Ledger` and returns a signal for each stretch of
time in which a pattern holds:

- ``SCATTERED_IN_CONCENTRATED_OUT`` (分散转入、集中转出): many distinct accounts send small
  sums in; a handful of accounts receive most of it;
- ``REGULAR_SMALL_BATCHES_OUT`` (定期批量小额转出): on *batch days* the account pays small sums to
  many accounts, and the batch days come at regular intervals;
- ``RAPID_PASS_THROUGH`` (快进快出): what comes in leaves within hours (matched last in, first
  out), nearly all of it;
- ``FUND_POOLING`` (资金归集): several *collector* accounts, each taking money from many accounts,
  send this account most of what they pay out. It needs the collectors' ledgers: ``feeders``,
  for the accounts :func:`pool_feeder_candidates` names.

Windows: the last ``flow_history_days`` before the ledger's newest transaction are scanned by
windows of ``flow_window_days`` ending every :data:`STEP_DAYS` days (the earliest starts on the
first day of the history); consecutive windows where a pattern holds merge into one signal whose
period is their union, and whose measures are those of the window where it is strongest. Days
are the account's local days (UTC+8). Amounts are handled in integer cents, so sums that slide
in and out of a window never drift.

Speed: every rule reads the columns once per pass; per window it does O(1) work (prefix sums,
two pointers, counters) except where a pattern's cheap preconditions already hold (the top
receivers of a scattered-in window, a sort for a signal's median). An account with 100,000
transactions takes well under a second (bench/signals.py). A summary never states an amount:
amounts are in ``measures`` (``amount=True``), which the gateway masks like any other amount.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from signals.model import Evidence, Ledger, Measure, Severity, Signal, SignalKind
from signals.settings import SignalSettings

__all__ = ["POOL_CANDIDATES", "STEP_DAYS", "detect", "pool_feeder_candidates"]

STEP_DAYS = 7
"""Windows end every this many days (or every ``flow_window_days``, if shorter)."""
POOL_MIN_FORWARDS = 3  # transfers in from an account before it may be a pool's collector
POOL_CANDIDATES = 20
"""At most this many feeders are asked for (the largest senders), whatever the settings."""
_LOCAL = 8 * 3600  # the banks' local time, UTC+8
_DAY = 86_400
_EPOCH = dt.date(1970, 1, 1).toordinal()
_ACCOUNT_FIELD = "BankAccount.transactions"
_PARTY_FIELD = "Transaction.counterpartyAccount"


def detect(
    ledger: Ledger, settings: SignalSettings, feeders: Mapping[str, Ledger] | None = None
) -> list[Signal]:
    """The flow-pattern signals of one account. ``feeders``: the ledgers of (some of) the
    accounts :func:`pool_feeder_candidates` names; None: fund pooling is not evaluated."""
    cols = _Columns.of(ledger, settings)
    windows = cols.windows(settings)
    if not windows:
        return []
    found = [
        *_scattered(cols, windows, settings),
        *_batches(cols, windows, settings),
        *_pass_through(cols, windows, settings),
    ]
    if feeders is not None:
        found += _pooling(cols, windows, settings, feeders)
    return found


def pool_feeder_candidates(ledger: Ledger, settings: SignalSettings) -> list[str]:
    """The accounts whose ledgers fund pooling needs: those that sent this account money at
    least ``POOL_MIN_FORWARDS`` times in the history (a collector forwards again and again),
    the largest senders first, at most ``max(POOL_CANDIDATES, 2 * pool_min_feeders)``; none
    when fewer than ``pool_min_feeders`` did (no pool can hold: no other ledger is read)."""
    cols = _Columns.of(ledger, settings)
    sent: dict[str, int] = {}
    times: dict[str, int] = {}
    for i in range(cols.start, len(cols.day)):
        party = cols.party[i]
        if not cols.out[i] and party is not None and party != cols.account:
            sent[party] = sent.get(party, 0) + cols.cents[i]
            times[party] = times.get(party, 0) + 1
    repeated = {p: c for p, c in sent.items() if times[p] >= POOL_MIN_FORWARDS}
    if len(repeated) < settings.pool_min_feeders:
        return []
    limit = max(POOL_CANDIDATES, 2 * settings.pool_min_feeders)
    return [p for p, _ in sorted(repeated.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


# ------------------------------------------------------------------------------ columns


@dataclass(slots=True)
class _Columns:
    """A ledger in the detectors' terms: local day numbers, integer cents, oldest first;
    ``start`` is the first row inside the history."""

    account: str
    day: list[int]
    time: list[int]
    cents: list[int]
    out: list[bool]
    party: list[str | None]
    bank: list[str | None]
    truncated: bool
    start: int

    @classmethod
    def of(cls, ledger: Ledger, settings: SignalSettings) -> _Columns:
        time, amount, out = ledger.time, ledger.amount, ledger.out
        party, bank = ledger.counterparty, ledger.counterparty_bank
        if len({len(time), len(amount), len(out), len(party), len(bank)}) > 1:
            raise ValueError("ledger columns differ in length")
        if not all(map(operator.le, time, itertools.islice(time, 1, None))):  # not oldest first
            order = sorted(range(len(time)), key=time.__getitem__)
            time = [time[i] for i in order]
            amount, out = [amount[i] for i in order], [out[i] for i in order]
            party, bank = [party[i] for i in order], [bank[i] for i in order]
        day = [(t + _LOCAL) // _DAY for t in time]
        start = bisect.bisect_left(day, day[-1] - settings.flow_history_days + 1) if day else 0
        cents = [int(a * 100 + 0.5) if a >= 0 else round(a * 100) for a in amount]
        return cls(ledger.account, day, time, cents, out, party, bank, ledger.truncated, start)

    def windows(self, settings: SignalSettings) -> list[tuple[int, int]]:
        """(first day, last day) of each window, oldest first; none for an empty history."""
        if self.start >= len(self.day):
            return []
        width, first, end = settings.flow_window_days, self.day[self.start], self.day[-1]
        step = min(STEP_DAYS, width)
        ends = [end]
        while end - width + 1 > first:
            end = max(end - step, first + width - 1)
            ends.append(end)
        return [(e - width + 1, e) for e in reversed(ends)]

    def rows(self, window: tuple[int, int]) -> range:
        """The rows of one window (within the history)."""
        lo = max(self.start, bisect.bisect_left(self.day, window[0]))
        return range(lo, bisect.bisect_right(self.day, window[1]))


def _iso(day: int) -> str:
    return dt.date.fromordinal(day + _EPOCH).isoformat()


def _severity(ratio: float) -> Severity:
    """How far past its threshold the pattern's main measure is: twice: HIGH, half as much
    again: MEDIUM, else LOW."""
    return Severity.HIGH if ratio >= 2 else Severity.MEDIUM if ratio >= 1.5 else Severity.LOW


def _runs(flagged: dict[int, float], windows: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Flagged windows that overlap or touch, merged, as (first, last, strongest) window
    indexes."""
    runs: list[tuple[int, int, int]] = []
    for k in sorted(flagged):
        if runs and windows[k][0] <= windows[runs[-1][1]][1] + 1:
            first, _, best = runs[-1]
            runs[-1] = (first, k, k if flagged[k] > flagged[best] else best)
        else:
            runs.append((k, k, k))
    return runs


def _signal(
    cols: _Columns,
    kind: SignalKind,
    period: tuple[int, int],
    ratio: float,
    measures: list[Measure],
    parties: list[tuple[str, str]],
    summary: str,
) -> Signal:
    """One signal: the account's own evidence first, then its counterparties'."""
    note = f"{len(cols.day) - cols.start} transactions in the history"
    if cols.truncated:
        note += " (ledger truncated: later transactions not read)"
        measures = [*measures, Measure("truncated", 1.0)]
    evidence = [Evidence("BankAccount", cols.account, _ACCOUNT_FIELD, note)]
    evidence += [Evidence("BankAccount", p, _PARTY_FIELD, why) for p, why in parties]
    first = max(period[0], cols.day[cols.start])
    return Signal(kind, _severity(ratio), cols.account, _iso(first), _iso(period[1]),
                  tuple(evidence), tuple(measures), summary)  # fmt: skip


def _emit(
    cols: _Columns,
    windows: list[tuple[int, int]],
    flagged: dict[int, float],
    build: Callable[[tuple[int, int], tuple[int, int], float], Signal],
) -> list[Signal]:
    out: list[Signal] = []
    for first, last, best in _runs(flagged, windows):
        period = (windows[first][0], windows[last][1])
        out.append(build(period, windows[best], flagged[best]))
    return out


def _top(totals: Mapping[str, int], k: int) -> list[tuple[str, int]]:
    return heapq.nlargest(k, sorted(totals.items()), key=lambda kv: kv[1])


def _share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


# ------------------------------------------------------------------------------ scattered in


def _scattered(cols: _Columns, windows: list[tuple[int, int]], st: SignalSettings) -> list[Signal]:
    day, cents, out, party = cols.day, cols.cents, cols.out, cols.party
    small = round(st.scatter_max_median_in * 100)
    k, min_senders = st.concentrate_max_receivers, st.scatter_min_senders
    share, out_share = st.concentrate_min_share, st.concentrate_min_out_share
    senders: dict[str, int] = {}  # sender -> transfers in the window
    received: dict[str, int] = {}  # receiver -> cents in the window
    receipts: dict[str, int] = {}  # receiver -> transfers in the window
    n_in = n_small = in_total = out_total = 0
    flagged: dict[int, float] = {}
    lo = hi = cols.start
    for w, (first, last) in enumerate(windows):
        while hi < len(day) and day[hi] <= last:
            c, p = cents[hi], party[hi]
            if out[hi]:
                if p is not None:
                    received[p] = received.get(p, 0) + c
                    receipts[p] = receipts.get(p, 0) + 1
                    out_total += c
            else:
                in_total += c
                if p is not None:
                    senders[p] = senders.get(p, 0) + 1
                    n_in += 1
                    n_small += c <= small
            hi += 1
        while lo < hi and day[lo] < first:
            c, p = cents[lo], party[lo]
            if out[lo]:
                if p is not None:
                    out_total -= c
                    received[p] -= c
                    receipts[p] -= 1
                    if not receipts[p]:
                        del received[p], receipts[p]
            else:
                in_total -= c
                if p is not None:
                    n_in -= 1
                    n_small -= c <= small
                    senders[p] -= 1
                    if not senders[p]:
                        del senders[p]
            lo += 1
        # cheap conditions first; the top receivers only when all of them hold
        if len(senders) < min_senders or 2 * n_small < n_in or out_total < share * in_total:
            continue
        top = sum(heapq.nlargest(k, received.values()))
        if top >= share * in_total and top >= out_share * out_total:
            flagged[w] = len(senders) / min_senders

    def build(period: tuple[int, int], window: tuple[int, int], ratio: float) -> Signal:
        inflow: dict[str, int] = {}
        outflow: dict[str, int] = {}
        amounts: list[int] = []
        total = 0
        for i in cols.rows(window):
            p = party[i]
            if out[i]:
                if p is not None:
                    outflow[p] = outflow.get(p, 0) + cents[i]
            else:
                total += cents[i]
                if p is not None:
                    inflow[p] = inflow.get(p, 0) + cents[i]
                    amounts.append(cents[i])
        amounts.sort()
        top = _top(outflow, k)
        top_paid = sum(c for _, c in top)
        top_share = _share(top_paid, total)
        measures = [
            Measure("distinct_senders", len(inflow)),
            Measure("incoming_transfers", len(amounts)),
            Measure("median_in", amounts[(len(amounts) - 1) // 2] / 100, amount=True),
            Measure("in_total", total / 100, amount=True),
            Measure("top_receivers", len(top)),
            Measure("top_receivers_share", top_share),
            Measure("top_receivers_out_share", _share(top_paid, sum(outflow.values()))),
            Measure("window_days", st.flow_window_days),
        ]
        parties = [(p, f"receiver, {_share(c, total):.0%} of the inflow") for p, c in top]
        parties += [(p, "one of the largest senders") for p, _ in _top(inflow, 3)]
        summary = (
            f"{len(inflow)} accounts sent money in ({len(amounts)} transfers, half of them at"
            f" most the small-transfer limit); {len(top)} accounts received {top_share:.0%} of"
            f" what came in, within {st.flow_window_days} days"
        )
        return _signal(cols, SignalKind.SCATTERED_IN_CONCENTRATED_OUT, period, ratio, measures,
                       parties, summary)  # fmt: skip

    return _emit(cols, windows, flagged, build)


# ------------------------------------------------------------------------------ small batches


def _batches(cols: _Columns, windows: list[tuple[int, int]], st: SignalSettings) -> list[Signal]:
    day, cents, out, party = cols.day, cols.cents, cols.out, cols.party
    small = round(st.batch_max_amount * 100)
    paid: dict[int, set[str]] = {}  # day -> accounts paid a small sum that day
    for i in range(cols.start, len(day)):
        p = party[i]
        if out[i] and p is not None and cents[i] <= small:
            paid.setdefault(day[i], set()).add(p)
    batch_days = sorted(d for d, s in paid.items() if len(s) >= st.batch_min_transfers)
    # prefix sums of the intervals between batch days and of their squares
    s1, s2 = [0], [0]
    for a, b in itertools.pairwise(batch_days):
        s1.append(s1[-1] + (b - a))
        s2.append(s2[-1] + (b - a) ** 2)

    def shape(j0: int, j1: int) -> tuple[float, float]:
        """Mean and coefficient of variation of the intervals between batch days j0..j1-1."""
        m = j1 - j0 - 1
        if m < 1:
            return 0.0, 0.0
        total, squares = s1[j1 - 1] - s1[j0], s2[j1 - 1] - s2[j0]
        mean = total / m
        return mean, math.sqrt(max(squares / m - mean * mean, 0.0)) / mean

    flagged: dict[int, float] = {}
    for w, (first, last) in enumerate(windows):
        j0 = bisect.bisect_left(batch_days, first)
        j1 = bisect.bisect_right(batch_days, last)
        if j1 - j0 >= st.batch_min_days and shape(j0, j1)[1] <= st.batch_max_interval_cv:
            flagged[w] = (j1 - j0) / st.batch_min_days

    def build(period: tuple[int, int], window: tuple[int, int], ratio: float) -> Signal:
        j0 = bisect.bisect_left(batch_days, window[0])
        j1 = bisect.bisect_right(batch_days, window[1])
        chosen = set(batch_days[j0:j1])
        count, total = 0, 0
        times: dict[str, int] = {}
        for i in cols.rows(window):
            p = party[i]
            if out[i] and p is not None and cents[i] <= small and day[i] in chosen:
                count += 1
                total += cents[i]
                times[p] = times.get(p, 0) + 1
        mean, cv = shape(j0, j1)
        measures = [
            Measure("batch_days", j1 - j0),
            Measure("small_transfers", count),
            Measure("distinct_receivers", len(times)),
            Measure("batch_total", total / 100, amount=True),
            Measure("interval_mean_days", round(mean, 2)),
            Measure("interval_cv", round(cv, 4)),
            Measure("window_days", st.flow_window_days),
        ]
        parties = [(p, f"paid in {n} batches") for p, n in _top(times, 5)]
        summary = (
            f"{j1 - j0} batch days about every {mean:.0f} days (variation {cv:.2f}), paying"
            f" {count} small transfers to {len(times)} accounts, within {st.flow_window_days}"
            " days"
        )
        return _signal(cols, SignalKind.REGULAR_SMALL_BATCHES_OUT, period, ratio, measures,
                       parties, summary)  # fmt: skip

    return _emit(cols, windows, flagged, build)


# ------------------------------------------------------------------------------ pass-through


def _pass_through(
    cols: _Columns, windows: list[tuple[int, int]], st: SignalSettings
) -> list[Signal]:
    day, time, cents, out = cols.day, cols.time, cols.cents, cols.out
    limit = st.passthrough_max_hours * 3600
    in_day: list[int] = []  # per incoming transaction
    in_cents: list[int] = []
    quick: list[int] = []  # per incoming transaction: cents of it that left within the limit
    stack: list[list[int]] = []  # [time, cents not yet gone, incoming index], newest last
    start = cols.start
    rows = zip(day[start:], time[start:], cents[start:], out[start:], strict=True)
    for d, now, need, leaving in rows:
        if not leaving:
            stack.append([now, need, len(in_day)])
            in_day.append(d)
            in_cents.append(need)
            quick.append(0)
            continue
        while need and stack:  # last in, first out: what leaves is what came last
            top = stack[-1]
            take = need if need < top[1] else top[1]
            if now - top[0] <= limit:
                quick[top[2]] += take
            need -= take
            top[1] -= take
            if not top[1]:
                stack.pop()
    in_total, quick_total = [0], [0]  # prefix sums per incoming transaction
    for c, q in zip(in_cents, quick, strict=True):
        in_total.append(in_total[-1] + c)
        quick_total.append(quick_total[-1] + q)
    least = round(st.passthrough_min_amount * 100)
    flagged: dict[int, float] = {}
    for w, (first, last) in enumerate(windows):
        j0, j1 = bisect.bisect_left(in_day, first), bisect.bisect_right(in_day, last)
        passed, total = quick_total[j1] - quick_total[j0], in_total[j1] - in_total[j0]
        if passed >= least and passed >= st.passthrough_min_ratio * total:
            flagged[w] = passed / least

    def build(period: tuple[int, int], window: tuple[int, int], ratio: float) -> Signal:
        j0, j1 = bisect.bisect_left(in_day, window[0]), bisect.bisect_right(in_day, window[1])
        passed, total = quick_total[j1] - quick_total[j0], in_total[j1] - in_total[j0]
        inflow: dict[str, int] = {}
        outflow: dict[str, int] = {}
        banks: set[str] = set()
        for i in cols.rows(window):
            p, b = cols.party[i], cols.bank[i]
            if p is not None:
                side = outflow if out[i] else inflow
                side[p] = side.get(p, 0) + cents[i]
            if b is not None:
                banks.add(b)
        measures = [
            Measure("in_total", total / 100, amount=True),
            Measure("passed_quickly", passed / 100, amount=True),
            Measure("passed_share", _share(passed, total)),
            Measure("max_hours", st.passthrough_max_hours),
            Measure("counterparty_banks", len(banks)),
            Measure("window_days", st.flow_window_days),
        ]
        parties = [(p, "one of the largest senders") for p, _ in _top(inflow, 3)]
        parties += [(p, "one of the largest receivers") for p, _ in _top(outflow, 3)]
        summary = (
            f"{_share(passed, total):.0%} of what came in left within"
            f" {st.passthrough_max_hours:g} hours of arriving, through counterparties at"
            f" {len(banks)} banks, within {st.flow_window_days} days"
        )
        return _signal(cols, SignalKind.RAPID_PASS_THROUGH, period, ratio, measures, parties,
                       summary)  # fmt: skip

    return _emit(cols, windows, flagged, build)


# ------------------------------------------------------------------------------ fund pooling


@dataclass(slots=True)
class _Feeder:
    """What one feeder did in each of the pool's windows."""

    account: str
    net: list[int]  # cents sent to the pool less cents received from it
    paid: list[int]  # cents it paid out, to anyone
    senders: list[int]  # distinct accounts that sent it money


def _feeder(pool: str, ledger: Ledger, windows: list[tuple[int, int]]) -> _Feeder:
    day = [(t + _LOCAL) // _DAY for t in ledger.time]
    if any(a > b for a, b in itertools.pairwise(day)):
        order = sorted(range(len(day)), key=day.__getitem__)
    else:
        order = list(range(len(day)))
    days = [day[i] for i in order]
    cents = [round(ledger.amount[i] * 100) for i in order]
    out = [ledger.out[i] for i in order]
    party = [ledger.counterparty[i] for i in order]
    net, paid = [0], [0]  # prefix sums
    for c, o, p in zip(cents, out, party, strict=True):
        net.append(net[-1] + (c if o else -c) * (p == pool))
        paid.append(paid[-1] + c * o)
    feeder = _Feeder(ledger.account, [], [], [])
    senders: dict[str, int] = {}
    lo = hi = 0
    for first, last in windows:
        j0, j1 = bisect.bisect_left(days, first), bisect.bisect_right(days, last)
        feeder.net.append(net[j1] - net[j0])
        feeder.paid.append(paid[j1] - paid[j0])
        while hi < j1:
            p = party[hi]
            if not out[hi] and p is not None and p != pool:
                senders[p] = senders.get(p, 0) + 1
            hi += 1
        while lo < j0:
            p = party[lo]
            if not out[lo] and p is not None and p != pool:
                senders[p] -= 1
                if not senders[p]:
                    del senders[p]
            lo += 1
        feeder.senders.append(len(senders))
    return feeder


def _pooling(
    cols: _Columns,
    windows: list[tuple[int, int]],
    st: SignalSettings,
    ledgers: Mapping[str, Ledger],
) -> list[Signal]:
    feeders = [
        _feeder(cols.account, ledgers[a], windows) for a in sorted(ledgers) if a != cols.account
    ]

    def collectors(w: int) -> list[_Feeder]:
        """The feeders that, in window ``w``, collect from many and pass most of it on here."""
        return [
            f
            for f in feeders
            if f.paid[w] > 0
            and f.net[w] >= st.pool_min_feeder_share * f.paid[w]
            and f.senders[w] >= st.pool_min_feeder_senders
        ]

    flagged: dict[int, float] = {}
    for w in range(len(windows)):
        n = len(collectors(w))
        if n >= st.pool_min_feeders:
            flagged[w] = n / st.pool_min_feeders

    def build(period: tuple[int, int], window: tuple[int, int], ratio: float) -> Signal:
        w = windows.index(window)
        chosen = collectors(w)
        pooled = sum(f.net[w] for f in chosen)
        total = sum(cols.cents[i] for i in cols.rows(window) if not cols.out[i])
        shares = [f.net[w] / f.paid[w] for f in chosen]
        measures = [
            Measure("feeders", len(chosen)),
            Measure("pooled_total", pooled / 100, amount=True),
            Measure("in_total", total / 100, amount=True),
            Measure("pooled_share", _share(pooled, total)),
            Measure("min_feeder_share", round(min(shares), 4)),
            Measure("feeder_senders", sum(f.senders[w] for f in chosen)),
            Measure("window_days", st.flow_window_days),
        ]
        parties = [
            (f.account, f"collector: {f.senders[w]} senders, {s:.0%} of its outflow sent here")
            for f, s in zip(chosen, shares, strict=True)
        ]
        summary = (
            f"{len(chosen)} collector accounts, taking money from"
            f" {sum(f.senders[w] for f in chosen)} senders in all, sent this account"
            f" at least {min(shares):.0%} of what each paid out, within {st.flow_window_days}"
            " days"
        )
        return _signal(cols, SignalKind.FUND_POOLING, period, ratio, measures, parties,
                       summary)  # fmt: skip

    return _emit(cols, windows, flagged, build)
