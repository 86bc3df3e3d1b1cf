"""One page of a search as the caller may see it, whatever the agency's own pages hold.

An agency pages through every match; the record filter then hides what the caller may not see
(labels, policies/40-records.cedar). Handing the agency's page on would tell the caller what was
hidden: a page shorter than asked, ``hasNextPage`` over matches it will never be shown, the
agency's count of every match, and the agency's cursor (the key of the last record read, maybe
a hidden one). So :func:`scan` reads on until the page holds ``first`` visible records and one
more visible record is found (there is a next page) or the agency has no more (there is none).
Where to go on from, the agency's cursor of a page and how many of its records were passed, is
sealed into the client's cursor (schema/paging.py); the agency's cursor never leaves.

A scan makes at most SCAN_CALLS agency calls. The first asks for the page and one more record,
which is all it takes when nothing is hidden; later ones, needed only past hidden records, ask
for SCAN_LIMIT. Past that budget (about 400 hidden matches in a row) the page is answered as it
stands, possibly short, with a next page to go on from: the one case where a caller can tell
that something was hidden, and then not what or how much.

``totalCount`` is the number of matches the caller may see, or null when the gateway does not
know it:

- counted, when a scan reads to the end of the matches: a single page, the last one, or any
  page when the operation asks for ``totalCount`` and the rest fits in one call of COUNT_LIMIT
  records. Once known it rides in the cursor to the later pages;
- the agency's count, when the caller's record rules show every record of that agency whatever
  its labels (decided on every label set a connector can attach), so nothing can be hidden.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from connectors.base import HANDLING_CODES, SENSITIVITIES, Labels, Page, Record
from schema.paging import NOT_A_CURSOR, InvalidArgument

__all__ = ["COUNT_LIMIT", "SCAN_CALLS", "SCAN_LIMIT", "Position", "Scan", "scan", "sees_everything"]

SCAN_CALLS = 5  # agency calls for one page at most
SCAN_LIMIT = 100  # records asked of the agency by each call after the first
COUNT_LIMIT = 200  # records the first call asks for when totalCount is wanted and unknown

Fetch = Callable[[str | None, int], Awaitable[Page]]  # (agency cursor, limit) -> the page
Visible = Callable[[Sequence[Record]], Sequence[bool]]  # the record filter, record by record
Decide = Callable[[Sequence[Labels]], Sequence[Any]]  # RequestContext.records_visible


class Position(NamedTuple):
    """Where a page starts, and what the pages before it established."""

    cursor: str | None  # the agency's cursor of the page to read (None: its first page)
    skip: int  # records of that page passed already
    shown: int  # visible records shown before this point
    total: int | None  # the caller's total, once known

    @classmethod
    def opened(cls, state: Any) -> Position:
        """The position sealed in a cursor (``Cursors.open``)."""
        try:
            cursor, skip, shown, total = state
        except (TypeError, ValueError):
            raise InvalidArgument("after", NOT_A_CURSOR) from None
        if not (
            (cursor is None or isinstance(cursor, str))
            and all(isinstance(n, int) and n >= 0 for n in (skip, shown))
            and (total is None or isinstance(total, int))
        ):
            raise InvalidArgument("after", NOT_A_CURSOR)
        return cls(cursor, skip, shown, total)


START = Position(None, 0, 0, None)


@dataclass(frozen=True, slots=True)
class Scan:
    passed: list[Record]  # the page's visible records, with the hidden ones among and after them
    next: Position | None  # where the next page starts; None: there is no next page
    total: int | None  # visible matches in all, when known
    agency_total: int | None  # the agency's count of every match


async def scan(fetch: Fetch, visible: Visible, first: int, start: Position, count: bool) -> Scan:
    """Up to ``first`` visible records from ``start``, and where the next page starts."""
    passed: list[Record] = []
    shown = beyond = 0  # visible records on the page; read past it (they count for the total)
    resume: Position | None = None
    at, skip = start.cursor, start.skip
    limit = max(skip + first + 1, COUNT_LIMIT if count and start.total is None else 0)
    agency_total = None
    for _ in range(SCAN_CALLS):
        page = await fetch(at, limit)
        agency_total = page.total
        rest = page.records[skip:]
        for i, (record, seen) in enumerate(zip(rest, visible(rest), strict=True)):
            if resume is not None:
                beyond += seen
            elif seen and shown == first:  # the next page's first record: leave it there
                resume = Position(at, skip + i, start.shown + shown, None)
                beyond = 1
            else:
                shown += seen
                passed.append(record)
        if page.next_cursor is None:  # read to the end: the total is known
            total = start.shown + shown + beyond
            following = resume._replace(total=total) if resume is not None else None
            return Scan(passed, following, total, agency_total)
        if resume is not None:
            return Scan(passed, resume._replace(total=start.total), start.total, agency_total)
        at, skip, limit = page.next_cursor, 0, SCAN_LIMIT
    following = Position(at, 0, start.shown + shown, start.total)  # budget spent: go on from here
    return Scan(passed, following, start.total, agency_total)


def sees_everything(decide: Decide, agency: str, case_id: str | None) -> bool:
    """Whether the record rules show this caller every record of ``agency``, whatever labels it
    carries (handling code, sensitivity, linked to the declared case or not)."""
    cases: tuple[tuple[str, ...], ...] = ((), (case_id,)) if case_id else ((),)
    labels = [
        Labels(agency, handling, sensitivity, linked)
        for handling in HANDLING_CODES
        for sensitivity in SENSITIVITIES
        for linked in cases
    ]
    return all(decision.visible for decision in decide(labels))
