"""What every database shares: the open-queue conditions, leases, skips and reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from app.models import (
    AnnotatorQuality,
    AnnotatorStatus,
    Assignment,
    AssignmentStatus,
    Comparison,
    Label,
    Project,
    Prompt,
    Response,
    utcnow,
)

LEASED = AssignmentStatus.leased.value
CLOSED = (AssignmentStatus.skipped.value, AssignmentStatus.done.value)
# A pick loses its race when another annotator's lease committed between the pick's snapshot
# and its row lock; under heavy load at the head of the queue that is common, so a pick
# tries again (each try with a fresh snapshot) before it gives up with QueueBusy.
MAX_PICK_ATTEMPTS = 25


class QueueBusy(Exception):
    """Every try lost its race to other annotators; the caller should retry shortly."""


class Suspended(Exception):
    """The annotator is suspended from this project: the queue gives them nothing."""

    def __init__(self, project_id: int, user_id: int) -> None:
        super().__init__(f"user {user_id} is suspended from project {project_id}")
        self.project_id = project_id
        self.user_id = user_id


@dataclass(frozen=True)
class Lease:
    comparison_id: int
    expires_at: datetime


@dataclass(frozen=True)
class ComparisonContent:
    comparison_id: int
    project_id: int
    messages: list[dict[str, str]]
    text_a: str
    text_b: str


@dataclass(frozen=True)
class LeasedComparison:
    content: ComparisonContent
    expires_at: datetime


@dataclass(frozen=True)
class ProjectWork:
    project_id: int
    name: str


def closed_count(session: Session, user_id: int) -> int:
    """Pairs this annotator has labelled or skipped, in every project."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.user_id == user_id, Assignment.status.in_(CLOSED))
        )
        or 0
    )


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _live_leases_of_others(user_id: int, now: datetime) -> Any:
    return (
        select(func.count())
        .select_from(Assignment)
        .where(
            Assignment.comparison_id == Comparison.id,
            Assignment.status == LEASED,
            Assignment.expires_at > now,
            Assignment.user_id != user_id,
        )
        .scalar_subquery()
    )


def _closed_by(user_id: int) -> Any:
    return exists().where(
        Assignment.comparison_id == Comparison.id,
        Assignment.user_id == user_id,
        Assignment.status.in_(CLOSED),
    )


def open_comparisons(
    project_id: int, labels_wanted: int, user_id: int, now: datetime
) -> Select[Any]:
    """Comparisons of a project still open to this annotator, in queue order (gold pairs
    come only through `open_gold`)."""
    return (
        select(Comparison.id)
        .where(
            Comparison.project_id == project_id,
            Comparison.label_count < labels_wanted,
            Comparison.gold_choice.is_(None),
            ~_closed_by(user_id),
            Comparison.label_count + _live_leases_of_others(user_id, now) < labels_wanted,
        )
        .order_by(Comparison.priority.desc(), Comparison.id.desc())
    )


def open_gold(project_id: int, user_id: int) -> Select[Any]:
    """Gold pairs of a project this annotator has not closed, in queue order: each is shown
    to one annotator at most once, and any number of annotators may hold it."""
    return (
        select(Comparison.id)
        .where(
            Comparison.project_id == project_id,
            Comparison.gold_choice.is_not(None),
            ~_closed_by(user_id),
        )
        .order_by(Comparison.priority.desc(), Comparison.id.desc())
    )


def held_lease(session: Session, project_id: int, user_id: int, now: datetime) -> int | None:
    """The comparison this annotator already holds a live lease on, if any."""
    return session.scalar(
        select(Assignment.comparison_id)
        .join(Comparison, Comparison.id == Assignment.comparison_id)
        .where(
            Assignment.user_id == user_id,
            Assignment.status == LEASED,
            Assignment.expires_at > now,
            Comparison.project_id == project_id,
        )
        .order_by(Assignment.expires_at.desc())
        .limit(1)
    )


def upsert_assignment(session: Session, values: dict[str, Any], *, only_if_leased: bool) -> Any:
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt = insert(Assignment).values(**values)
    return stmt.on_conflict_do_update(
        index_elements=[Assignment.comparison_id, Assignment.user_id],
        set_={"status": stmt.excluded.status, "expires_at": stmt.excluded.expires_at},
        # A closed assignment (labelled or skipped) is never reopened by a lease.
        where=(Assignment.status == LEASED) if only_if_leased else None,
    )


def skip_comparison(session: Session, comparison_id: int, user_id: int) -> bool:
    """Marks the comparison skipped for this annotator (their lease ends); False if unknown."""
    if session.scalar(select(Comparison.id).where(Comparison.id == comparison_id)) is None:
        return False
    already_labelled = session.scalar(
        select(Assignment.status).where(
            Assignment.comparison_id == comparison_id,
            Assignment.user_id == user_id,
            Assignment.status == AssignmentStatus.done.value,
        )
    )
    if already_labelled is None:
        session.execute(
            upsert_assignment(
                session,
                {
                    "comparison_id": comparison_id,
                    "user_id": user_id,
                    "status": AssignmentStatus.skipped.value,
                    "expires_at": None,
                    "created_at": utcnow(),
                },
                only_if_leased=False,
            )
        )
    return True


def comparison_content(session: Session, comparison_id: int) -> ComparisonContent | None:
    """The prompt and both responses of a comparison, in the comparison's own order."""
    response_a = aliased(Response)
    response_b = aliased(Response)
    row = session.execute(
        select(
            Comparison.id,
            Comparison.project_id,
            Prompt.messages,
            response_a.text,
            response_b.text,
        )
        .join(Prompt, Prompt.id == Comparison.prompt_id)
        .join(response_a, response_a.id == Comparison.response_a_id)
        .join(response_b, response_b.id == Comparison.response_b_id)
        .where(Comparison.id == comparison_id)
    ).first()
    if row is None:
        return None
    return ComparisonContent(
        comparison_id=row[0], project_id=row[1], messages=row[2], text_a=row[3], text_b=row[4]
    )


def project_settings(session: Session, project_id: int) -> tuple[str, str, int] | None:
    """Name, guidelines and labels per comparison of a project."""
    row = session.execute(
        select(Project.name, Project.guidelines, Project.labels_per_comparison).where(
            Project.id == project_id
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def comparisons_left(
    session: Session, project_id: int, labels_wanted: int, user_id: int, now: datetime
) -> int:
    """How many comparisons this annotator could still be given in the project.

    Gold pairs they have not closed count too: the number then falls by one after any pair,
    gold or not, and never tells them which was which.
    """
    inner = open_comparisons(project_id, labels_wanted, user_id, now).order_by(None).subquery()
    gold = open_gold(project_id, user_id).order_by(None).subquery()
    normal = session.scalar(select(func.count()).select_from(inner)) or 0
    return normal + (session.scalar(select(func.count()).select_from(gold)) or 0)


def projects_with_work(session: Session, user_id: int) -> list[ProjectWork]:
    """Every project with a comparison open to this annotator, oldest project first.

    An existence test per project, not a count: a page view must not count a large queue
    for every project.
    """
    now = utcnow()
    work = []
    suspended = set(
        session.scalars(
            select(AnnotatorQuality.project_id).where(
                AnnotatorQuality.user_id == user_id,
                AnnotatorQuality.status == AnnotatorStatus.suspended.value,
            )
        )
    )
    for project_id, name, wanted in session.execute(
        select(Project.id, Project.name, Project.labels_per_comparison).order_by(Project.id)
    ):
        if project_id in suspended:
            continue
        open_one = open_comparisons(project_id, wanted, user_id, now).limit(1)
        if session.scalar(open_one) is not None:
            work.append(ProjectWork(project_id=project_id, name=name))
    return work


def labels_since(session: Session, user_id: int, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Label)
            .where(and_(Label.annotator_id == user_id, Label.created_at >= since))
        )
        or 0
    )
