"""The pick for SQLite, whose BEGIN IMMEDIATE transactions never run side by side, so a plain
read-then-write cannot race. PostgreSQL takes `postgres.take_next`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Project
from app.queries.queue.common import (
    LEASED,
    Lease,
    LeasedComparison,
    comparison_content,
    held_lease,
    open_comparisons,
    upsert_assignment,
)


def take_next(
    session: Session, project_id: int, user_id: int, lease_for: timedelta, now: datetime
) -> LeasedComparison | None:
    wanted = session.scalar(select(Project.labels_per_comparison).where(Project.id == project_id))
    if wanted is None:
        return None
    lease = _lease_next(
        session,
        project_id=project_id,
        labels_wanted=wanted,
        user_id=user_id,
        lease_for=lease_for,
        now=now,
    )
    if lease is None:
        return None
    content = comparison_content(session, lease.comparison_id)
    assert content is not None  # leased in this transaction
    return LeasedComparison(content=content, expires_at=lease.expires_at)


def _lease_next(
    session: Session,
    *,
    project_id: int,
    labels_wanted: int,
    user_id: int,
    lease_for: timedelta,
    now: datetime,
) -> Lease | None:
    """The caller's held lease, else the first open comparison; then the (renewed) lease."""
    expires_at = now + lease_for
    comparison_id = held_lease(session, project_id, user_id, now)
    if comparison_id is None:
        stmt = open_comparisons(project_id, labels_wanted, user_id, now).limit(1)
        comparison_id = session.scalar(stmt)
    if comparison_id is None:
        return None
    session.execute(
        upsert_assignment(
            session,
            {
                "comparison_id": comparison_id,
                "user_id": user_id,
                "status": LEASED,
                "expires_at": expires_at,
                "created_at": now,
            },
            only_if_leased=True,
        )
    )
    return Lease(comparison_id=comparison_id, expires_at=expires_at)
