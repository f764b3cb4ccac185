"""A project's labelling statistics as SQL: counts, choices, position, time, agreement patterns.

`app.stats` assembles them into the API's answer; `app.agreement` does the maths.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from app.agreement import ORDER
from app.models import Comparison, Label, User


class ChoiceSummary(NamedTuple):
    labels: int
    worse: int
    same: int
    better: int
    # Labels that preferred the response shown on the left.
    picked_left: int


def _choice_sum(choice: str) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((Label.choice == choice, 1), else_=0)), 0)


# The response shown on the left is A unless the screen swapped them.
_PICKED_LEFT = or_(
    and_(Label.choice == "worse", Label.shown_swapped.is_(False)),
    and_(Label.choice == "better", Label.shown_swapped.is_(True)),
)


def _summary_columns() -> list[ColumnElement[Any]]:
    return [
        func.count(Label.id),
        *(_choice_sum(c) for c in ORDER),
        func.coalesce(func.sum(case((_PICKED_LEFT, 1), else_=0)), 0),
    ]


def _project_labels(project_id: int) -> Select[Any]:
    return (
        select(*_summary_columns())
        .select_from(Label)
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(Comparison.project_id == project_id)
    )


def comparison_counts(session: Session, project_id: int, labels_wanted: int) -> tuple[int, int]:
    """(comparisons, comparisons with as many labels as the project wants)."""
    complete = case((Comparison.label_count >= labels_wanted, 1), else_=0)
    row = session.execute(
        select(func.count(Comparison.id), func.coalesce(func.sum(complete), 0)).where(
            Comparison.project_id == project_id
        )
    ).one()
    return int(row[0]), int(row[1])


def label_summary(session: Session, project_id: int, *, human_only: bool = False) -> ChoiceSummary:
    """The project's labels by choice; `human_only` leaves imported labels out."""
    query = _project_labels(project_id)
    if human_only:
        query = query.where(Label.annotator_id.is_not(None))
    return ChoiceSummary(*(int(v) for v in session.execute(query).one()))


def labelled_comparisons(session: Session, project_id: int) -> int:
    return (
        session.scalar(
            select(func.count(func.distinct(Label.comparison_id)))
            .join(Comparison, Comparison.id == Label.comparison_id)
            .where(Comparison.project_id == project_id)
        )
        or 0
    )


def median_time_ms(
    session: Session, project_id: int, annotator_id: int | None = None
) -> float | None:
    """The median time spent on a human label, of the project or of one annotator in it."""
    conditions = [
        Comparison.project_id == project_id,
        Label.annotator_id.is_not(None),
        Label.time_spent_ms.is_not(None),
    ]
    if annotator_id is not None:
        conditions.append(Label.annotator_id == annotator_id)
    base = (
        select(Label.time_spent_ms)
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(*conditions)
    )
    n = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    if n == 0:
        return None
    # Portable median: SQLite has no percentile function.
    middle = list(
        session.scalars(base.order_by(Label.time_spent_ms).offset((n - 1) // 2).limit(2 - n % 2))
    )
    return float(sum(v for v in middle if v is not None)) / len(middle)


def agreement_patterns(session: Session, project_id: int) -> list[tuple[tuple[int, ...], int]]:
    """How many comparisons with two labels or more had each pattern of choice counts."""
    per_comparison = (
        select(*(_choice_sum(c).label(c) for c in ORDER))
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(Comparison.project_id == project_id)
        .group_by(Label.comparison_id)
        .having(func.count(Label.id) >= 2)
        .subquery()
    )
    columns = [per_comparison.c[c] for c in ORDER]
    rows = session.execute(select(*columns, func.count()).group_by(*columns))
    return [(tuple(int(v) for v in row[:-1]), int(row[-1])) for row in rows]


def per_annotator(session: Session, project_id: int) -> list[tuple[int, str, ChoiceSummary]]:
    """(user id, username, their labels by choice) of everyone who labelled in the project."""
    rows = session.execute(
        select(User.id, User.username, *_summary_columns())
        .select_from(Label)
        .join(Comparison, Comparison.id == Label.comparison_id)
        .join(User, User.id == Label.annotator_id)
        .where(Comparison.project_id == project_id)
        .group_by(User.id, User.username)
        .order_by(User.username)
    )
    return [(row[0], row[1], ChoiceSummary(*(int(v) for v in row[2:]))) for row in rows]
