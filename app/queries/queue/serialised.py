"""The pick for SQLite, whose BEGIN IMMEDIATE transactions never run side by side, so a plain
read-then-write cannot race. PostgreSQL takes `postgres.take_next`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AnnotatorQuality, AnnotatorStatus, Project
from app.queries.queue.common import (
    LEASED,
    Lease,
    LeasedComparison,
    Suspended,
    closed_count,
    comparison_content,
    held_lease,
    open_comparisons,
    open_gold,
    upsert_assignment,
)
from app.rating import gold_draw


def take_next(
    session: Session,
    project_id: int,
    user_id: int,
    lease_for: timedelta,
    now: datetime,
    gold_key: str,
) -> LeasedComparison | None:
    settings = session.execute(
        select(Project.labels_per_comparison, Project.gold_rate).where(Project.id == project_id)
    ).first()
    if settings is None:
        return None
    wanted, gold_rate = settings
    status = session.scalar(
        select(AnnotatorQuality.status).where(
            AnnotatorQuality.project_id == project_id, AnnotatorQuality.user_id == user_id
        )
    )
    if status == AnnotatorStatus.suspended.value:
        raise Suspended(project_id, user_id)
    lease = _lease_next(
        session,
        project_id=project_id,
        labels_wanted=wanted,
        gold_rate=gold_rate,
        gold_key=gold_key,
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
    gold_rate: float,
    gold_key: str,
    user_id: int,
    lease_for: timedelta,
    now: datetime,
) -> Lease | None:
    """The caller's held lease, else a gold pair when the draw says so, else the first open
    comparison; then the (renewed) lease. The same rules as `rlhf_take_next`."""
    expires_at = now + lease_for
    comparison_id = held_lease(session, project_id, user_id, now)
    gold_turn = (
        comparison_id is None
        and gold_rate > 0
        and gold_draw(gold_key, user_id, closed_count(session, user_id)) < gold_rate
    )
    if gold_turn:
        comparison_id = session.scalar(open_gold(project_id, user_id).limit(1))
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
