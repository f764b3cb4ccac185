"""A project's labelling statistics as SQL: counts, choices, position, time, agreement patterns.

`app.stats` assembles them into the API's answer; `app.agreement` does the maths. Everything
but the comparison counts reads the rollup tables that triggers keep (migration 0007,
app/rollup_tables.py), so the answer costs the same at a thousand labels or a million.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import Comparison, User
from app.rollup_tables import AgreementPattern, LabelDaily, LabelTimes


class ChoiceSummary(NamedTuple):
    labels: int
    worse: int
    same: int
    better: int
    # Labels that preferred the response shown on the left.
    picked_left: int


class LabelCount(NamedTuple):
    annotator_id: int  # app.rollup_tables.IMPORTED for imported labels
    choice: str
    shown_swapped: bool
    labels: int


def comparison_counts(session: Session, project_id: int, labels_wanted: int) -> tuple[int, int]:
    """(comparisons, comparisons with as many labels as the project wants)."""
    complete = case((Comparison.label_count >= labels_wanted, 1), else_=0)
    row = session.execute(
        select(func.count(Comparison.id), func.coalesce(func.sum(complete), 0)).where(
            Comparison.project_id == project_id
        )
    ).one()
    return int(row[0]), int(row[1])


def label_counts(session: Session, project_id: int) -> list[LabelCount]:
    """The project's labels by annotator, choice and on-screen order."""
    d = LabelDaily
    rows = session.execute(
        select(d.annotator_id, d.choice, d.shown_swapped, func.sum(d.n))
        .where(d.project_id == project_id)
        .group_by(d.annotator_id, d.choice, d.shown_swapped)
    )
    return [LabelCount(a, c, bool(s), int(n)) for a, c, s, n in rows if n]


def labelled_comparisons(session: Session, project_id: int) -> int:
    p = AgreementPattern
    found = session.scalar(
        select(func.coalesce(func.sum(p.units), 0)).where(
            p.project_id == project_id, p.worse + p.same + p.better >= 1
        )
    )
    return int(found or 0)


def label_times(session: Session, project_id: int) -> dict[int, list[tuple[int, int]]]:
    """{annotator id: [(time spent in ms, how many human labels took it)]}; times are kept
    to 0.1 s under a minute, 1 s under 10 minutes, then to the minute."""
    found: dict[int, list[tuple[int, int]]] = {}
    rows = session.execute(
        select(LabelTimes.annotator_id, LabelTimes.time_ms, LabelTimes.n).where(
            LabelTimes.project_id == project_id
        )
    )
    for annotator_id, time_ms, n in rows:
        if n:
            found.setdefault(annotator_id, []).append((int(time_ms), int(n)))
    return found


def agreement_patterns(session: Session, project_id: int) -> list[tuple[tuple[int, ...], int]]:
    """How many comparisons with two labels or more had each pattern of choice counts."""
    p = AgreementPattern
    rows = session.execute(
        select(p.worse, p.same, p.better, func.sum(p.units))
        .where(p.project_id == project_id, p.worse + p.same + p.better >= 2)
        .group_by(p.worse, p.same, p.better)
    )
    return [((int(w), int(s), int(b)), int(n)) for w, s, b, n in rows if n]


def usernames(session: Session, user_ids: list[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}
