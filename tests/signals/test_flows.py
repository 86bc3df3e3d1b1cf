"""The flow detectors (signals/flows.py): each rule at its thresholds and just below, windows,
periods, evidence, empty, one-row, unsorted and truncated ledgers."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from signals.flows import POOL_CANDIDATES, POOL_MIN_FORWARDS, detect, pool_feeder_candidates
from signals.model import Ledger, Severity, Signal, SignalKind
from signals.settings import SignalSettings

ST = SignalSettings()
TZ = dt.timezone(dt.timedelta(hours=8))
DAY0 = dt.datetime(2026, 1, 1, tzinfo=TZ)
ACCOUNT = "6222000000000000001"


def at(day: float, hour: float = 10.0) -> int:
    return int((DAY0 + dt.timedelta(days=day, hours=hour)).timestamp())


Row = tuple[int, float, bool, str | None]  # time, amount, out, counterparty


def ledger(rows: list[Row], account: str = ACCOUNT, truncated: bool = False) -> Ledger:
    rows = sorted(rows, key=lambda r: r[0])
    return Ledger(
        account,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        ["中国银行" if r[3] else None for r in rows],
        truncated,
    )


def kinds(signals: list[Signal]) -> list[SignalKind]:
    return [s.kind for s in signals]


def of(signals: list[Signal], kind: SignalKind) -> list[Signal]:
    return [s for s in signals if s.kind is kind]


def measure(signal: Signal, name: str) -> float:
    return next(m.value for m in signal.measures if m.name == name)


# ------------------------------------------------------------------------------ basics


def test_empty_and_one_row_ledgers_give_nothing() -> None:
    assert detect(ledger([]), ST, {}) == []
    assert detect(ledger([(at(0), 1_000_000.0, False, "x")]), ST, {}) == []
    assert pool_feeder_candidates(ledger([]), ST) == []


def test_columns_of_unequal_length_are_refused() -> None:
    bad = Ledger(ACCOUNT, [1, 2], [1.0], [True, False], [None, None], [None, None])
    with pytest.raises(ValueError, match="differ in length"):
        detect(bad, ST)


# ------------------------------------------------------------------------------ scattered in


def scattered(
    senders: int = 50, share: float = 0.6, amount: float = 1_000.0, extra_out: float = 0.0
) -> list[Row]:
    """``senders`` accounts send ``amount`` each; three receivers get ``share`` of it all;
    ``extra_out``: paid to ten other accounts besides."""
    rows: list[Row] = [(at(i % 60), amount, False, f"S{i:04d}") for i in range(senders)]
    total = senders * amount
    rows += [(at(70 + r), round(total * share / 3, 2) + 0.01, True, f"R{r}") for r in range(3)]
    rows += [(at(80), extra_out / 10, True, f"E{e}") for e in range(10) if extra_out]
    return rows


def test_scattered_in_concentrated_out_fires_at_its_thresholds() -> None:
    [signal] = detect(ledger(scattered()), ST)
    assert signal.kind is SignalKind.SCATTERED_IN_CONCENTRATED_OUT
    assert measure(signal, "distinct_senders") == 50
    assert measure(signal, "top_receivers") == 3
    assert measure(signal, "top_receivers_share") == pytest.approx(0.6, abs=1e-3)
    assert measure(signal, "in_total") == 50_000.0
    assert signal.severity is Severity.LOW  # just at the threshold
    assert signal.period_from == "2026-01-01"
    assert signal.period_to == "2026-03-14"  # the day of the last transaction


def test_scattered_in_not_just_below_its_thresholds() -> None:
    assert detect(ledger(scattered(senders=49)), ST) == []  # too few senders
    assert detect(ledger(scattered(share=0.59)), ST) == []  # too little of the inflow
    assert detect(ledger(scattered(amount=50_000.01)), ST) == []  # not small
    # the top receivers take 60 % of the inflow but not 90 % of what is paid out
    assert detect(ledger(scattered(extra_out=0.12 * 50_000)), ST) == []
    assert kinds(detect(ledger(scattered(extra_out=0.06 * 50_000)), ST)) == [
        SignalKind.SCATTERED_IN_CONCENTRATED_OUT
    ]


def test_scattered_in_senders_spread_wider_than_a_window_do_not_count() -> None:
    spread = [(at(i * 8), 1_000.0, False, f"S{i}") for i in range(50)]  # over 400 days
    spread += [(at(400 + r), 20_000.0, True, f"R{r}") for r in range(3)]
    assert detect(ledger(spread), ST) == []
    wide = dataclasses.replace(ST, flow_window_days=410)
    assert kinds(detect(ledger(spread), wide)) == [SignalKind.SCATTERED_IN_CONCENTRATED_OUT]


def test_severity_grows_with_the_excess() -> None:
    [medium] = detect(ledger(scattered(senders=75)), ST)
    [high] = detect(ledger(scattered(senders=100)), ST)
    assert (medium.severity, high.severity) == (Severity.MEDIUM, Severity.HIGH)


def test_two_episodes_far_apart_are_two_signals() -> None:
    later = [(t + 600 * 86_400, a, o, p) for t, a, o, p in scattered()]
    signals = detect(ledger(scattered() + later), ST)
    assert kinds(signals) == [SignalKind.SCATTERED_IN_CONCENTRATED_OUT] * 2
    assert signals[0].period_to is not None and signals[1].period_from is not None
    assert signals[0].period_to < signals[1].period_from


def test_history_ends_at_the_newest_transaction() -> None:
    old = scattered()
    recent = [(at(800), 10.0, True, None)]  # 800 days later: the pattern is out of history
    assert detect(ledger(old + recent), ST) == []
    longer = dataclasses.replace(ST, flow_history_days=900)
    assert len(detect(ledger(old + recent), longer)) == 1


def test_evidence_names_the_account_and_its_counterparties() -> None:
    [signal] = detect(ledger(scattered()), ST)
    first, *parties = signal.evidence
    assert (first.type_name, first.key, first.field) == (
        "BankAccount",
        ACCOUNT,
        "BankAccount.transactions",
    )
    assert {p.field for p in parties} == {"Transaction.counterpartyAccount"}
    assert {"R0", "R1", "R2"} <= {p.key for p in parties}
    amounts = [m for m in signal.measures if m.amount]
    assert {m.name for m in amounts} == {"median_in", "in_total"}
    # the summary states no amount: amounts are masked through the measures only
    assert "50,000" not in signal.summary and "50000" not in signal.summary
    assert "1,000" not in signal.summary and "1000" not in signal.summary


def test_unsorted_ledger_gives_the_same_signals() -> None:
    rows = scattered()
    good = ledger(rows)
    shuffled = Ledger(
        ACCOUNT,
        good.time[::-1],
        good.amount[::-1],
        good.out[::-1],
        good.counterparty[::-1],
        good.counterparty_bank[::-1],
    )
    assert detect(shuffled, ST) == detect(good, ST)


def test_a_truncated_ledger_is_read_and_says_so() -> None:
    [signal] = detect(ledger(scattered(), truncated=True), ST)
    assert measure(signal, "truncated") == 1.0
    assert "truncated" in signal.evidence[0].note
    [whole] = detect(ledger(scattered()), ST)
    assert all(m.name != "truncated" for m in whole.measures)


# ------------------------------------------------------------------------------ small batches


def batches(
    days: int = 4, receivers: int = 10, amount: float = 5_000.0, gaps: list[int] | None = None
) -> list[Row]:
    rows: list[Row] = []
    day = 0
    for b in range(days):
        day += (gaps or [30] * days)[b]
        rows += [(at(day, 11), amount, True, f"I{r:03d}") for r in range(receivers)]
    return rows


def test_regular_small_batches_fire_at_their_thresholds() -> None:
    [signal] = detect(ledger(batches()), ST)
    assert signal.kind is SignalKind.REGULAR_SMALL_BATCHES_OUT
    assert measure(signal, "batch_days") == 4
    assert measure(signal, "small_transfers") == 40
    assert measure(signal, "distinct_receivers") == 10
    assert measure(signal, "interval_mean_days") == 30
    assert measure(signal, "interval_cv") == 0
    assert signal.period_from == "2026-01-31"


def test_regular_small_batches_not_just_below_their_thresholds() -> None:
    assert detect(ledger(batches(days=3)), ST) == []
    assert detect(ledger(batches(receivers=9)), ST) == []
    assert detect(ledger(batches(amount=5_000.01)), ST) == []
    # intervals 10, 30, 10: coefficient of variation 0.4 > 0.35
    assert detect(ledger(batches(gaps=[30, 10, 30, 10])), ST) == []
    # 25, 35, 25: 0.16
    assert len(detect(ledger(batches(gaps=[30, 25, 35, 25])), ST)) == 1


def test_batches_more_than_a_window_apart_are_not_a_pattern() -> None:
    assert detect(ledger(batches(gaps=[30, 60, 60, 60])), ST) == []  # 180 days: 3 per window
    wider = dataclasses.replace(ST, flow_window_days=181)
    assert len(detect(ledger(batches(gaps=[30, 60, 60, 60])), wider)) == 1


# ------------------------------------------------------------------------------ pass-through


def passing(amount_in: float, amount_out: float, hours: float, times: int = 1) -> list[Row]:
    rows: list[Row] = []
    for k in range(times):
        rows.append((at(k * 20), amount_in, False, f"A{k}"))
        rows.append((at(k * 20) + round(hours * 3600), amount_out, True, f"B{k}"))
    return rows


def test_rapid_pass_through_fires_at_its_thresholds() -> None:
    [signal] = detect(ledger(passing(200_000.0, 180_000.0, 48)), ST)  # 90 % within 48 h
    assert signal.kind is SignalKind.RAPID_PASS_THROUGH
    assert measure(signal, "passed_share") == pytest.approx(0.9)
    assert measure(signal, "passed_quickly") == 180_000.0
    [small] = detect(ledger(passing(100_000.0, 100_000.0, 1)), ST)  # the least amount
    assert measure(small, "passed_share") == 1.0


def test_rapid_pass_through_not_just_below_its_thresholds() -> None:
    assert detect(ledger(passing(200_000.0, 180_000.0, 48 + 1 / 3600)), ST) == []
    assert detect(ledger(passing(200_000.0, 179_999.99, 1)), ST) == []
    assert detect(ledger(passing(99_999.99, 99_999.99, 1)), ST) == []


def test_pass_through_is_matched_last_in_first_out() -> None:
    # a standing balance from long ago does not hide money that arrives and leaves at once
    rows: list[Row] = [(at(0), 1_000_000.0, False, "OLD")]
    rows += passing(150_000.0, 150_000.0, 2)
    rows = [(t + (40 * 86_400 if p != "OLD" else 0), a, o, p) for t, a, o, p in rows]
    [signal] = detect(ledger(rows), dataclasses.replace(ST, flow_window_days=10))
    assert measure(signal, "passed_quickly") == 150_000.0
    # money passed on days later is not rapid
    assert detect(ledger(passing(500_000.0, 500_000.0, 72, times=5)), ST) == []


# ------------------------------------------------------------------------------ fund pooling

POOL = "6222000000000000999"


def collector(n: int, senders: int = 10, share: float = 0.7, returned: float = 0.0) -> Ledger:
    """A collector taking 1,000 from each of ``senders`` accounts, sending ``share`` of its
    outflow to the pool (the rest to a shop) and receiving ``returned`` back from it."""
    rows: list[Row] = [(at(i), 1_000.0, False, f"C{n}S{i}") for i in range(senders)]
    total = senders * 1_000.0
    rows.append((at(20), total * share, True, POOL))
    rows.append((at(19), round(total * (1 - share), 2), True, "SHOP"))
    if returned:
        rows.append((at(19, 15), returned, False, POOL))
    return ledger(rows, account=f"F{n}")


def pool_of(feeders: dict[str, Ledger]) -> Ledger:
    rows: list[Row] = []
    for number, feeder in feeders.items():
        for t, a, o, p in zip(
            feeder.time, feeder.amount, feeder.out, feeder.counterparty, strict=True
        ):
            if p == POOL:
                rows.append((t, a, not o, number))
    return ledger(rows, account=POOL)


def test_fund_pooling_fires_at_its_thresholds() -> None:
    feeders = {f"F{n}": collector(n) for n in range(4)}
    [signal] = of(detect(pool_of(feeders), ST, feeders), SignalKind.FUND_POOLING)
    assert measure(signal, "feeders") == 4
    assert measure(signal, "min_feeder_share") == pytest.approx(0.7)
    assert measure(signal, "feeder_senders") == 40
    assert {e.key for e in signal.evidence[1:]} == set(feeders)
    assert detect(pool_of(feeders), ST) == []  # without the feeders' ledgers: not evaluated


@pytest.mark.parametrize(
    "weak",
    [
        {"senders": 9},  # not a collector
        {"share": 0.69},  # keeps too much for itself
        {"returned": 500.0},  # the pool sends some back: net 6,500 of 10,000 paid out
    ],
)
def test_fund_pooling_not_just_below_its_thresholds(weak: dict[str, float]) -> None:
    feeders = {f"F{n}": collector(n) for n in range(3)}
    feeders["F3"] = collector(3, **weak)  # type: ignore[arg-type]
    assert of(detect(pool_of(feeders), ST, feeders), SignalKind.FUND_POOLING) == []


def test_pool_feeder_candidates_are_the_largest_senders_and_bounded() -> None:
    rows: list[Row] = [
        (at(i % 100 + k), 1_000.0 + i, False, f"S{i:03d}")
        for i in range(60)
        for k in range(POOL_MIN_FORWARDS)
    ]
    candidates = pool_feeder_candidates(ledger(sorted(rows)), ST)
    assert len(candidates) == max(POOL_CANDIDATES, 2 * ST.pool_min_feeders)
    assert candidates[:2] == ["S059", "S058"]


def test_only_repeated_senders_are_candidates_and_too_few_mean_none() -> None:
    """A collector forwards again and again: senders of fewer transfers are no candidates,
    and with fewer repeated senders than a pool needs no other ledger is read at all."""
    once = [(at(i), 9_000.0, False, f"O{i:03d}") for i in range(40)]
    repeated = [
        (at(50 + 7 * k + i), 1_000.0, False, f"R{i}")
        for i in range(ST.pool_min_feeders)
        for k in range(POOL_MIN_FORWARDS)
    ]
    assert set(pool_feeder_candidates(ledger(sorted(once + repeated)), ST)) == {
        f"R{i}" for i in range(ST.pool_min_feeders)
    }
    assert pool_feeder_candidates(ledger(sorted(once + repeated[POOL_MIN_FORWARDS:])), ST) == []
