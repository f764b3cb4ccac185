"""Which comparison an annotator rates next, and the lease that reserves it.

A comparison is open to an annotator while it is short of its project's labels per
comparison, the annotator has neither labelled nor skipped it, and the labels it has plus
the live leases of other annotators leave a slot. Taking it writes a lease (an assignment
in status ``leased`` with an expiry); an expired lease simply stops counting.

Order: highest priority first, and within one priority the newest first. Newest first lets
one backward walk of the ``(project_id, priority, id)`` index serve the order, and the
newest pairs are the ones from the latest policy, the most useful to label next.

Concurrency: on PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP LOCKED`` (two
annotators never wait on each other; the second takes the next row), and the slot is then
re-checked in a second statement whose fresh snapshot sees every lease committed before
the lock was granted; both run inside the `rlhf_take_next` function (`postgres`). On SQLite
every write transaction is ``BEGIN IMMEDIATE``, so the whole pick is serialised
(`serialised`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.models import utcnow
from app.queries.queue import postgres, serialised
from app.queries.queue.common import (
    CLOSED,
    LEASED,
    MAX_PICK_ATTEMPTS,
    ComparisonContent,
    Lease,
    LeasedComparison,
    ProjectWork,
    QueueBusy,
    Suspended,
    comparison_content,
    comparisons_left,
    held_lease,
    is_postgres,
    labels_since,
    open_comparisons,
    project_settings,
    projects_with_work,
    skip_comparison,
)

__all__ = [
    "CLOSED",
    "LEASED",
    "MAX_PICK_ATTEMPTS",
    "ComparisonContent",
    "Lease",
    "LeasedComparison",
    "ProjectWork",
    "QueueBusy",
    "Suspended",
    "comparison_content",
    "comparisons_left",
    "held_lease",
    "labels_since",
    "open_comparisons",
    "project_settings",
    "projects_with_work",
    "skip_comparison",
    "take_next",
]


def take_next(
    session: Session,
    *,
    project_id: int,
    user_id: int,
    lease_for: timedelta,
    gold_key: str,
    now: datetime | None = None,
) -> LeasedComparison | None:
    """Leases the comparison this annotator should rate now and returns it with its content.

    A live lease of theirs in the project is returned again (and renewed), so a reload or a
    second tab shows the same pair instead of taking another slot. None when nothing is open
    to this annotator, or when the project does not exist; QueueBusy when the pick kept
    losing races to other annotators (PostgreSQL under heavy load); Suspended when the
    annotator is suspended from the project. When the project mixes gold in (`gold_rate`),
    a draw keyed by `gold_key` (`app.rating.gold_key`) makes that share of picks gold.
    """
    now = now or utcnow()
    if is_postgres(session):
        return postgres.take_next(session, project_id, user_id, lease_for, now, gold_key)
    return serialised.take_next(session, project_id, user_id, lease_for, now, gold_key)
