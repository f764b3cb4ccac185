"""A project's labelling statistics: counts, position bias, agreement, time per label.

Krippendorff's alpha is computed here from the coincidence matrix rather than with the
`krippendorff` package: that package wants an annotators x comparisons matrix (dense,
mostly missing), while three ordered categories need only how many comparisons had each
pattern of (worse, same, better) counts, which one GROUP BY returns at any size. The
tests check this against the package.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from app.models import Comparison, Label, Project, User
from app.schemas.stats import (
    Agreement,
    AnnotatorStats,
    ChoiceCounts,
    PositionBias,
    ProjectStats,
)

# Ordinal order of the choices (B compared with A).
ORDER = ("worse", "same", "better")


def krippendorff_alpha_ordinal(patterns: Iterable[tuple[tuple[int, ...], int]]) -> float | None:
    """Alpha from (counts per category in ORDER, number of comparisons with those counts).

    Units with fewer than two values are not pairable and do not count. None when the
    expected disagreement is zero (every value the same category).
    """
    k = len(ORDER)
    coincidence = [[0.0] * k for _ in range(k)]
    for counts, units in patterns:
        m = sum(counts)
        if m < 2:
            continue
        for c in range(k):
            for d in range(k):
                pairs = counts[c] * (counts[d] - (1 if c == d else 0))
                coincidence[c][d] += units * pairs / (m - 1)
    totals = [sum(row) for row in coincidence]
    n = sum(totals)
    if n <= 1:
        return None

    def distance(c: int, d: int) -> float:
        low, high = min(c, d), max(c, d)
        return (sum(totals[low : high + 1]) - (totals[c] + totals[d]) / 2) ** 2

    observed = sum(coincidence[c][d] * distance(c, d) for c in range(k) for d in range(k))
    expected = sum(totals[c] * totals[d] * distance(c, d) for c in range(k) for d in range(k))
    if expected == 0:
        return None
    return 1.0 - (n - 1) * observed / expected


def percent_agreement(patterns: Iterable[tuple[tuple[int, ...], int]]) -> float | None:
    """Share of pairs of labels on one comparison that agree."""
    agreeing = pairs = 0
    for counts, units in patterns:
        m = sum(counts)
        agreeing += units * sum(c * (c - 1) for c in counts)
        pairs += units * m * (m - 1)
    return agreeing / pairs if pairs else None


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


def _bias(worse: int, better: int, left: int) -> PositionBias:
    decided = worse + better
    return PositionBias(decided=decided, left_share=left / decided if decided else None)


def _median_time(
    session: Session, project_id: int, annotator_id: int | None = None
) -> float | None:
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


def _agreement_patterns(session: Session, project_id: int) -> list[tuple[tuple[int, ...], int]]:
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


def project_stats(session: Session, project: Project) -> ProjectStats:
    comparisons, complete = session.execute(
        select(
            func.count(Comparison.id),
            func.coalesce(
                func.sum(
                    case((Comparison.label_count >= project.labels_per_comparison, 1), else_=0)
                ),
                0,
            ),
        ).where(Comparison.project_id == project.id)
    ).one()
    total, worse, same, better, _ = session.execute(_project_labels(project.id)).one()
    # Position bias only means something for labels made on this screen.
    human, h_worse, _, h_better, h_left = session.execute(
        _project_labels(project.id).where(Label.annotator_id.is_not(None))
    ).one()
    labelled = session.scalar(
        select(func.count(func.distinct(Label.comparison_id)))
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(Comparison.project_id == project.id)
    )
    patterns = _agreement_patterns(session, project.id)
    return ProjectStats(
        comparisons=comparisons,
        comparisons_labelled=labelled or 0,
        comparisons_complete=complete,
        labels=total,
        labels_human=human,
        labels_imported=total - human,
        choices=ChoiceCounts(worse=worse, same=same, better=better),
        position_bias=_bias(h_worse, h_better, h_left),
        agreement=Agreement(
            comparisons=sum(units for _, units in patterns),
            labels=sum(sum(counts) * units for counts, units in patterns),
            krippendorff_alpha_ordinal=krippendorff_alpha_ordinal(patterns),
            percent_agreement=percent_agreement(patterns),
        ),
        median_time_ms=_median_time(session, project.id),
        per_annotator=_per_annotator(session, project.id),
    )


def _per_annotator(session: Session, project_id: int) -> list[AnnotatorStats]:
    rows = session.execute(
        select(User.id, User.username, *_summary_columns())
        .select_from(Label)
        .join(Comparison, Comparison.id == Label.comparison_id)
        .join(User, User.id == Label.annotator_id)
        .where(Comparison.project_id == project_id)
        .group_by(User.id, User.username)
        .order_by(User.username)
    )
    result = []
    for user_id, username, labels, worse, same, better, left in rows:
        result.append(
            AnnotatorStats(
                annotator_id=user_id,
                username=username,
                labels=labels,
                choices=ChoiceCounts(worse=worse, same=same, better=better),
                position_bias=_bias(worse, better, left),
                median_time_ms=_median_time(session, project_id, user_id),
            )
        )
    return result
