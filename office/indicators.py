"""Period indicators of the joint office's work (docs/workflows.md, "Indicators"): by month or
quarter, optionally by region and/or category, over the leads the caller may read.

Periods are calendar months and quarters in China Standard Time (UTC+8). ``start`` and ``end``
name the first and the last period, both included: ``2026-01`` (a month; for quarters, the
quarter it falls in) or ``2026-Q1``. A lead counts in ``leads``, ``major_leads``, ``amount`` and
``victims`` in the period it was submitted; ``verified``, ``unfounded``, ``referred``,
``cases_opened`` and ``cases_closed`` count transitions in the period they happened (from the
lead's history). Without grouping every period has a row (zeros included); grouped, only the
groups with something to count.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import replace

from kernel.workflow import Action, IndicatorRow, LeadCategory, LeadState, WorkflowError
from office.store import OfficeStore

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
_PERIOD = re.compile(r"(?P<year>[0-9]{4})-(?:(?P<month>[0-9]{2})|Q(?P<quarter>[1-4]))")
MAX_PERIODS = 120
_COUNTED = {
    (Action.VERIFY.value, LeadState.VERIFIED.value): "verified",
    (Action.VERIFY.value, LeadState.UNFOUNDED.value): "unfounded",
    (Action.REFER.value, LeadState.REFERRED.value): "referred",
    (Action.OPEN_CASE.value, LeadState.CASE_OPENED.value): "cases_opened",
    (Action.CLOSE_CASE.value, LeadState.CLOSED.value): "cases_closed",
}


def _bad(message: str, field: str) -> WorkflowError:
    return WorkflowError("BAD_USER_INPUT", message, field=field)


def _index(value: str, period: str, field: str) -> int:
    """A period as a number: months since year 0, or quarters."""
    m = _PERIOD.fullmatch(value.strip().upper()) if isinstance(value, str) else None
    if m is None:
        raise _bad(f"{field} is a month (2026-01) or a quarter (2026-Q1)", field)
    year = int(m["year"])
    if m["month"] is not None:
        month = int(m["month"])
        if not 1 <= month <= 12:
            raise _bad(f"{field}: no month {month}", field)
        return year * 12 + month - 1 if period == "MONTH" else year * 4 + (month - 1) // 3
    quarter = int(m["quarter"])
    if period == "MONTH":
        return year * 12 + (quarter - 1) * 3 if field == "start" else year * 12 + quarter * 3 - 1
    return year * 4 + quarter - 1


def _name(index: int, period: str) -> str:
    if period == "MONTH":
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    return f"{index // 4:04d}-Q{index % 4 + 1}"


def period_of(at: float, period: str) -> int:
    moment = dt.datetime.fromtimestamp(at, tz=CHINA)
    if period == "MONTH":
        return moment.year * 12 + moment.month - 1
    return moment.year * 4 + (moment.month - 1) // 3


def indicators(
    store: OfficeStore,
    lead_ids: Sequence[str],
    period: str,
    start: str,
    end: str,
    by: Sequence[str],
) -> list[IndicatorRow]:
    """The rows for ``lead_ids`` (those the caller may read), period by period."""
    if period not in ("MONTH", "QUARTER"):
        raise _bad("period is MONTH or QUARTER", "period")
    if any(g not in ("REGION", "CATEGORY") for g in by):
        raise _bad("group by REGION and/or CATEGORY", "by")
    first, last = _index(start, period, "start"), _index(end, period, "end")
    if last < first:
        raise _bad("end is before start", "end")
    if last - first >= MAX_PERIODS:
        raise _bad(f"at most {MAX_PERIODS} periods at once", "end")
    by_region, by_category = "REGION" in by, "CATEGORY" in by
    rows: dict[tuple[int, str | None, str | None], IndicatorRow] = {}

    def row(index: int, region: str, category: str) -> tuple[int, str | None, str | None]:
        key = (index, region if by_region else None, category if by_category else None)
        if key not in rows:
            rows[key] = IndicatorRow(
                period=_name(index, period),
                region=key[1],
                category=None if key[2] is None else LeadCategory(key[2]),
            )
        return key

    wanted = set(lead_ids)
    if wanted:
        leads = store.db.query(
            "SELECT id, region, category, submitted_at, major, amount, victims FROM jg_leads"
        )
        about: dict[str, tuple[str, str]] = {}
        for lead_id, region, category, at, major, amount, victims in leads:
            if str(lead_id) not in wanted:
                continue
            about[str(lead_id)] = (str(region), str(category))
            index = period_of(float(at), period)
            if not first <= index <= last:
                continue
            key = row(index, str(region), str(category))
            r = rows[key]
            rows[key] = replace(
                r,
                leads=r.leads + 1,
                major_leads=r.major_leads + (1 if major else 0),
                amount=r.amount + float(amount or 0.0),
                victims=r.victims + int(victims or 0),
            )
        for lead_id, action, after, at in store.db.query(
            "SELECT lead_id, action, after_state, at FROM jg_lead_history"
        ):
            counted = _COUNTED.get((str(action), str(after)))
            if counted is None or str(lead_id) not in about:
                continue
            index = period_of(float(at), period)
            if not first <= index <= last:
                continue
            key = row(index, *about[str(lead_id)])
            rows[key] = replace(rows[key], **{counted: getattr(rows[key], counted) + 1})
    if not by_region and not by_category:
        for index in range(first, last + 1):
            row(index, "", "")
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0], k[1] or "", k[2] or ""))]
