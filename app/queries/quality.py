"""Quality control's SQL: the labels the reliability computation reads, the stored snapshot,
annotators' statuses with their history, suspension, and gold answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import (
    AnnotatorQuality,
    AnnotatorStatus,
    AnnotatorStatusEvent,
    Comparison,
    Label,
    Project,
    ReliabilitySnapshot,
    User,
    utcnow,
)
from app.rating import suspended_message

SUSPENDED = AnnotatorStatus.suspended.value
# Statuses whose labels are left out of training and trl exports unless asked for.
UNTRUSTED = (AnnotatorStatus.flagged.value, AnnotatorStatus.suspended.value)
# A computation that has not finished after this long is assumed dead and may be redone.
CLAIM_TIMEOUT = timedelta(minutes=10)


class NotAnnotator(Exception):
    """No such user, or not one who may rate."""


@dataclass(frozen=True)
class StatusChange:
    user_id: int
    old: str | None
    new: str


# Everything the computation needs as integers, so that a million rows come back as plain
# tuples without per-value conversion: choices as codes (0 worse, 1 same, 2 better), -1 for
# "none", imported labels (no annotator) as one pseudo-annotator, -1.
_CHOICE_CODE = "CASE {col} WHEN 'worse' THEN 0 WHEN 'same' THEN 1 WHEN 'better' THEN 2 ELSE -1 END"
_LABEL_ROWS = f"""
SELECT l.id, l.comparison_id, COALESCE(l.annotator_id, -1),
       {_CHOICE_CODE.format(col="l.choice")},
       CASE WHEN l.shown_swapped THEN 1 ELSE 0 END,
       COALESCE(l.time_spent_ms, -1),
       {_CHOICE_CODE.format(col="c.gold_choice")}
FROM labels l JOIN comparisons c ON c.id = l.comparison_id
WHERE c.project_id = :project
"""


def label_rows(session: Session, project_id: int) -> list[tuple[int, ...]]:
    """(id, comparison, annotator, choice, swapped, time ms, gold) per label, as integers,
    read from the driver's cursor without SQLAlchemy's row processing (1M rows: seconds)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    sql = _LABEL_ROWS.replace(":project", "%(project)s" if postgres else "?")
    params: Any = {"project": project_id} if postgres else (project_id,)
    cursor = session.connection().exec_driver_sql(sql, params).cursor
    assert cursor is not None
    return [tuple(row) for row in cursor.fetchall()]


def pace(session: Session, project_id: int) -> dict[int, tuple[int, datetime, datetime]]:
    """Per annotator: labels, first and last label time."""
    rows = session.execute(
        select(
            Label.annotator_id, func.count(), func.min(Label.created_at), func.max(Label.created_at)
        )
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(Comparison.project_id == project_id, Label.annotator_id.is_not(None))
        .group_by(Label.annotator_id)
    )
    return {int(u): (int(n), first, last) for u, n, first, last in rows if u is not None}


def feedback_repeats(session: Session, project_id: int) -> dict[int, tuple[int, int]]:
    """Per annotator: how often their most repeated non-empty feedback was written, and how
    many labels had feedback at all."""
    per_text = (
        select(Label.annotator_id.label("uid"), func.count().label("n"))
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(
            Comparison.project_id == project_id,
            Label.annotator_id.is_not(None),
            Label.feedback != "",
        )
        .group_by(Label.annotator_id, Label.feedback)
        .subquery()
    )
    rows = session.execute(
        select(per_text.c.uid, func.max(per_text.c.n), func.sum(per_text.c.n)).group_by(
            per_text.c.uid
        )
    )
    return {int(u): (int(top), int(total)) for u, top, total in rows}


def usernames(session: Session, user_ids: Sequence[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
    return {int(i): str(name) for i, name in rows}


def projects_with_labels(session: Session) -> list[int]:
    """Projects with at least one human label."""
    has_labels = (
        select(Label.id)
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(Comparison.project_id == Project.id, Label.annotator_id.is_not(None))
        .exists()
    )
    return list(session.scalars(select(Project.id).where(has_labels).order_by(Project.id)))


def snapshot(session: Session, project_id: int) -> ReliabilitySnapshot | None:
    return session.get(ReliabilitySnapshot, project_id)


def labels_since(session: Session, project_id: int, after_label_id: int, cap: int) -> int:
    """Labels of the project with an id above `after_label_id`, counted up to `cap`."""
    newer = (
        select(Label.id)
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(Comparison.project_id == project_id, Label.id > after_label_id)
        .limit(cap)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(newer)) or 0)


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def claim_computation(session: Session, project_id: int, now: datetime | None = None) -> bool:
    """Marks the project's reliability as being computed; False if another process is at it."""
    now = now or utcnow()
    session.execute(
        _insert(session)(ReliabilitySnapshot)
        .values(project_id=project_id, labels=0, max_label_id=0, duration_s=0.0, body={})
        .on_conflict_do_nothing()
    )
    claimed = session.execute(
        update(ReliabilitySnapshot)
        .where(
            ReliabilitySnapshot.project_id == project_id,
            (ReliabilitySnapshot.computing_since.is_(None))
            | (ReliabilitySnapshot.computing_since < now - CLAIM_TIMEOUT),
        )
        .values(computing_since=now)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def store_snapshot(
    session: Session,
    project_id: int,
    *,
    computed_at: datetime,
    labels: int,
    max_label_id: int,
    duration_s: float,
    body: dict[str, Any],
) -> None:
    session.execute(
        update(ReliabilitySnapshot)
        .where(ReliabilitySnapshot.project_id == project_id)
        .values(
            computed_at=computed_at,
            labels=labels,
            max_label_id=max_label_id,
            duration_s=duration_s,
            body=body,
            computing_since=None,
        )
    )


def release_claim(session: Session, project_id: int) -> None:
    session.execute(
        update(ReliabilitySnapshot)
        .where(ReliabilitySnapshot.project_id == project_id)
        .values(computing_since=None)
    )


def qualities(session: Session, project_id: int) -> dict[int, AnnotatorQuality]:
    rows = session.scalars(
        select(AnnotatorQuality).where(AnnotatorQuality.project_id == project_id)
    )
    return {row.user_id: row for row in rows}


def set_status(
    session: Session,
    project_id: int,
    user_id: int,
    status: AnnotatorStatus,
    *,
    reasons: Sequence[str],
    actor: str,
    actor_id: int | None = None,
    reason: str = "",
    manual: bool | None = None,
    vote_weight: float | None = None,
) -> StatusChange | None:
    """Sets an annotator's status in a project and records the change (if it is one)."""
    row = session.get(AnnotatorQuality, (project_id, user_id))
    old = row.status if row is not None else None
    if row is None:
        row = AnnotatorQuality(
            project_id=project_id,
            user_id=user_id,
            status=status.value,
            reasons=list(reasons),
            manual=bool(manual),
            vote_weight=1.0 if vote_weight is None else vote_weight,
            updated_at=utcnow(),
        )
        session.add(row)
    else:
        row.status = status.value
        row.reasons = list(reasons)
        row.updated_at = utcnow()
        if manual is not None:
            row.manual = manual
        if vote_weight is not None:
            row.vote_weight = vote_weight
    if old == status.value:
        session.flush()
        return None
    session.add(
        AnnotatorStatusEvent(
            project_id=project_id,
            user_id=user_id,
            old_status=old,
            new_status=status.value,
            actor_id=actor_id,
            actor=actor,
            reason=reason or "; ".join(reasons),
            created_at=utcnow(),
        )
    )
    session.flush()
    return StatusChange(user_id, old, status.value)


def apply_statuses(
    session: Session,
    project_id: int,
    decisions: Sequence[tuple[int, AnnotatorStatus, Sequence[str], float]],
    *,
    actor: str,
) -> list[StatusChange]:
    """Many annotators' statuses (user, status, reasons, vote weight) in one flush, with an
    event for each change: what a reliability computation writes."""
    current = qualities(session, project_id)
    now = utcnow()
    changes = []
    for user_id, status, reasons, weight in decisions:
        row = current.get(user_id)
        old = row.status if row is not None else None
        if row is None:
            session.add(
                AnnotatorQuality(
                    project_id=project_id,
                    user_id=user_id,
                    status=status.value,
                    reasons=list(reasons),
                    manual=False,
                    vote_weight=weight,
                    updated_at=now,
                )
            )
        else:
            row.status, row.reasons, row.vote_weight, row.updated_at = (
                status.value,
                list(reasons),
                weight,
                now,
            )
        if old != status.value:
            session.add(
                AnnotatorStatusEvent(
                    project_id=project_id,
                    user_id=user_id,
                    old_status=old,
                    new_status=status.value,
                    actor_id=None,
                    actor=actor,
                    reason="; ".join(reasons),
                    created_at=now,
                )
            )
            changes.append(StatusChange(user_id, old, status.value))
    session.flush()
    return changes


def status_history(session: Session, project_id: int, user_id: int) -> list[AnnotatorStatusEvent]:
    return list(
        session.scalars(
            select(AnnotatorStatusEvent)
            .where(
                AnnotatorStatusEvent.project_id == project_id,
                AnnotatorStatusEvent.user_id == user_id,
            )
            .order_by(AnnotatorStatusEvent.id)
        )
    )


def status_histories(session: Session, project_id: int) -> dict[int, list[AnnotatorStatusEvent]]:
    """Every annotator's status changes in the project, oldest first, in one query."""
    events = session.scalars(
        select(AnnotatorStatusEvent)
        .where(AnnotatorStatusEvent.project_id == project_id)
        .order_by(AnnotatorStatusEvent.id)
    )
    found: dict[int, list[AnnotatorStatusEvent]] = {}
    for event in events:
        found.setdefault(event.user_id, []).append(event)
    return found


def is_suspended(session: Session, project_id: int, user_id: int) -> bool:
    """Whether this annotator is suspended from this project (the queue gives them nothing)."""
    status = session.scalar(
        select(AnnotatorQuality.status).where(
            AnnotatorQuality.project_id == project_id, AnnotatorQuality.user_id == user_id
        )
    )
    return status == SUSPENDED


def refusal_to_rate(session: Session, project_id: int) -> str:
    """What a suspended annotator is told (the API's 403, the rating page)."""
    name = session.scalar(select(Project.name).where(Project.id == project_id))
    return suspended_message(str(name))


def suspended_project(session: Session, comparison_id: int, user_id: int) -> int | None:
    """The comparison's project if this annotator is suspended from it, else None."""
    return session.scalar(
        select(Comparison.project_id)
        .join(
            AnnotatorQuality,
            (AnnotatorQuality.project_id == Comparison.project_id)
            & (AnnotatorQuality.user_id == user_id),
        )
        .where(Comparison.id == comparison_id, AnnotatorQuality.status == SUSPENDED)
    )


def comparison_project(session: Session, comparison_id: int) -> int | None:
    return session.scalar(select(Comparison.project_id).where(Comparison.id == comparison_id))


def set_gold(session: Session, comparison_id: int, gold: str | None) -> Comparison | None:
    """Sets or clears the gold answer of a comparison; None if there is no such comparison."""
    comparison = session.get(Comparison, comparison_id)
    if comparison is None:
        return None
    comparison.gold_choice = gold
    session.flush()
    return comparison
