"""Break-glass reviews (policies/review.py): a sign-off that loses a race changes nothing."""

from __future__ import annotations

import pytest

from policies.db import Database
from policies.review import BreakGlassAccess, ReviewError, ReviewQueue


def test_a_sign_off_that_loses_the_race_changes_nothing(database: Database) -> None:
    """Two reviewers signing the same access off at once: both were told it was done and both
    recorded, one note lost (a review of the console found it)."""
    queue = ReviewQueue(database)
    access = queue.record(
        request_id="r1", subject="duty.officer", agency="police", purpose="investigation",
        case_id=None, reason="suspect fleeing", fields=["Person.phone"],
    )  # fmt: skip

    class Slow(ReviewQueue):
        checked = False

        def _select(self, where: str, params: tuple[object, ...] = ()) -> list[BreakGlassAccess]:
            found = super()._select(where, params)
            if not Slow.checked:  # the other reviewer signs off between the check and the write
                Slow.checked = True
                ReviewQueue(database).sign_off(access, "reviewer.one", "one")
            return found

    with pytest.raises(ReviewError, match=r"signed off by reviewer\.one meanwhile"):
        Slow(database).sign_off(access, "reviewer.two", "two")
    [done] = [a for a in queue._select("WHERE id = ?", (access,))]
    assert (done.reviewed_by, done.note) == ("reviewer.one", "one")
