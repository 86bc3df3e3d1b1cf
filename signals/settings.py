"""The ``[signals]`` table (docs/signals.md): the flow detectors' windows and thresholds, the
business-scope keywords, the credit rules' thresholds and the caps on fund tracing."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic.dataclasses import dataclass

from kernel.settings import TABLE, Positive, PositiveInt, Refused, Table, check, setting, share


def _share(value: Any) -> float:
    return share(value, zero=False)


def _keywords(value: Any) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise Refused(f"must be a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


Share = check(_share)

DEFAULT_KEYWORDS = (
    "投资",
    "理财",
    "资产管理",
    "财富管理",
    "众筹",
    "养老",
    "融资",
    "担保",
    "区块链",
    "虚拟货币",
    "私募",
)


@dataclass(frozen=True, slots=True, config=TABLE)
class SignalSettings(Table):
    """Windows and thresholds of the signals, and the caps on ``traceFunds``."""

    NAME = "signals"

    # ------------------------------------------------------------------ flow patterns
    flow_window_days: Annotated[int, PositiveInt] = setting(
        180, "length of the sliding window the flow patterns are computed over (days)"
    )
    flow_history_days: Annotated[int, PositiveInt] = setting(
        730, "how far back from the newest transaction the flow patterns look (days)"
    )
    ledger_max_rows: Annotated[int, PositiveInt] = setting(
        200_000, "most transactions of one account read for its flow patterns"
    )
    scatter_min_senders: Annotated[int, PositiveInt] = setting(
        50, "scattered in: at least this many distinct accounts sending money in one window"
    )
    scatter_max_median_in: Annotated[float, Positive] = setting(
        50_000.0, "scattered in: the median incoming transfer is at most this (CNY)"
    )
    concentrate_max_receivers: Annotated[int, PositiveInt] = setting(
        5, "concentrated out: the money leaves to at most this many accounts ..."
    )
    concentrate_min_share: Annotated[float, Share] = setting(
        0.6, "... which receive at least this share of what came in during the window"
    )
    concentrate_min_out_share: Annotated[float, Share] = setting(
        0.9, "... and at least this share of all it paid out to accounts in the window"
    )
    batch_max_amount: Annotated[float, Positive] = setting(
        5_000.0, "small batches: a transfer out of at most this (CNY) is small"
    )
    batch_min_transfers: Annotated[int, PositiveInt] = setting(
        10, "small batches: at least this many small transfers out on one day make a batch"
    )
    batch_min_days: Annotated[int, PositiveInt] = setting(
        4, "small batches: at least this many batch days in the window"
    )
    batch_max_interval_cv: Annotated[float, Positive] = setting(
        0.35,
        "small batches: the intervals between batch days vary by at most this coefficient of"
        " variation (regular)",
    )
    pool_min_feeders: Annotated[int, PositiveInt] = setting(
        4, "fund pooling: at least this many collector accounts feed the account ..."
    )
    pool_min_feeder_share: Annotated[float, Share] = setting(
        0.7, "... each sending it at least this share of what it sends out in the window"
    )
    pool_min_feeder_senders: Annotated[int, PositiveInt] = setting(
        10,
        "... and each itself takes money from at least this many distinct accounts in the window"
        " (a collector)",
    )
    passthrough_max_hours: Annotated[float, Positive] = setting(
        48.0, "rapid pass-through: money leaves within this many hours of arriving ..."
    )
    passthrough_min_ratio: Annotated[float, Share] = setting(
        0.9, "... at least this share of it ..."
    )
    passthrough_min_amount: Annotated[float, Positive] = setting(
        100_000.0, "... and at least this much in the window (CNY)"
    )
    # ------------------------------------------------------------------ registry
    scope_keywords: Annotated[tuple[str, ...], check(_keywords)] = setting(
        DEFAULT_KEYWORDS, "words in a business scope that raise the keyword signal"
    )
    # ------------------------------------------------------------------ credit reference
    guarantee_chain_min_length: Annotated[int, PositiveInt] = setting(
        3, "guarantee chain: at least this many parties linked by guarantees"
    )
    overdue_clean_months: Annotated[int, PositiveInt] = setting(
        12, "sudden overdue: overdue after at least this many months without any"
    )
    borrowing_before_days: Annotated[int, PositiveInt] = setting(
        180, "borrowing before fundraising: new loans within this many days before ..."
    )
    borrowing_min_amount: Annotated[float, Positive] = setting(
        5_000_000.0, "... adding up to at least this (CNY)"
    )
    # ------------------------------------------------------------------ fund tracing
    trace_max_hops: Annotated[int, PositiveInt] = setting(
        6, "the most hops `traceFunds` follows (a larger `hops` is refused)"
    )
    trace_max_nodes: Annotated[int, PositiveInt] = setting(
        300, "the most accounts one trace shows; the rest of the frontier is marked capped"
    )
    trace_max_edges_per_node: Annotated[int, PositiveInt] = setting(
        20, "from each account, the largest this many counterparties are followed"
    )
