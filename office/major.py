"""Major events (重大事件): which leads the joint office must hear of within a deadline.

A lead is flagged major at submission if any rule of ``[office]`` (office/settings.py) holds:

- ``amount``: it reports at least ``major_amount`` CNY;
- ``victims``: it reports at least ``major_victims`` victims;
- ``growth``: the amount it reports grew by at least ``major_growth`` (1.0: doubled) against
  the largest amount earlier leads naming any of its subjects reported, submitted within
  ``major_growth_window_days`` before it (no earlier amount: no growth to measure). Only the
  earlier leads the submitter may read count: a lead one may not read does not exist for them,
  and ``majorReasons`` would otherwise tell that one names these subjects, and its amount.

Its ``major_reasons`` name the rules that held; its ``major_deadline`` is the submission time
plus ``major_deadline_h``. The joint office's ``acknowledgeMajorEvent`` records the receipt of
its report; a major lead not acknowledged by its deadline is *overdue*.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from office.settings import OfficeSettings
from office.store import OfficeStore

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Assessment:
    reasons: tuple[str, ...]  # "amount", "victims", "growth"
    deadline: float | None

    @property
    def major(self) -> bool:
        return bool(self.reasons)


def assess(
    store: OfficeStore,
    settings: OfficeSettings,
    *,
    amount: float | None,
    victims: int | None,
    identifiers: Sequence[str],
    at: float,
    readable: Callable[[Collection[str]], Collection[str]],
) -> Assessment:
    """Which major-event rules a lead submitted at ``at`` meets, and its deadline if any;
    ``readable`` tells which of the earlier leads' ids the submitter may read."""
    reasons = []
    if amount is not None and amount >= settings.major_amount:
        reasons.append("amount")
    if victims is not None and victims >= settings.major_victims:
        reasons.append("victims")
    if amount is not None and amount > 0 and identifiers:
        since = at - settings.major_growth_window_days * DAY_S
        amounts = store.earlier_amounts(identifiers, since, at)
        earlier = max((amounts[i] for i in readable(list(amounts)) if i in amounts), default=0.0)
        if earlier > 0 and amount >= earlier * (1.0 + settings.major_growth):
            reasons.append("growth")
    deadline = at + settings.major_deadline_h * 3600.0 if reasons else None
    return Assessment(tuple(reasons), deadline)
