"""The ``[office]`` table (docs/workflows.md, "Major events"): when a lead is a major event and
how long the joint office has to receive its report."""

from __future__ import annotations

from typing import Annotated

from pydantic.dataclasses import dataclass

from kernel.settings import TABLE, Positive, PositiveInt, Table, setting


@dataclass(frozen=True, slots=True, config=TABLE)
class OfficeSettings(Table):
    """Major-event rules: a lead meeting any of them is flagged major (``office/major.py``)."""

    NAME = "office"

    major_amount: Annotated[float, Positive] = setting(
        10_000_000.0,
        "a lead reporting at least this amount (CNY) is a major event"
        " ([workflows.md](workflows.md#major-events))",
    )
    major_victims: Annotated[int, PositiveInt] = setting(
        100, "a lead reporting at least this many victims is a major event"
    )
    major_growth: Annotated[float, Positive] = setting(
        1.0,
        "a lead is a major event when the amount it reports grew by at least this share (1.0:"
        " doubled) against what earlier leads on any of its subjects reported within"
        " `major_growth_window_days`",
    )
    major_growth_window_days: Annotated[float, Positive] = setting(
        30.0, "days back the growth rule compares a lead's amount with earlier leads'"
    )
    major_deadline_h: Annotated[float, Positive] = setting(
        24.0,
        "hours after submission within which the joint office must acknowledge a major event;"
        " later it is overdue (`leads(overdue: true)`, the `MAJOR_OVERDUE` event)",
    )
