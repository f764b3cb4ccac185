"""Projects at a glance: how far labelling has come, for the console's project list and page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import Comparison, Label, Project, utcnow

# Days of labels shown as a small chart beside each project.
RECENT_DAYS = 14


@dataclass
class ProjectProgress:
    project: Project
    comparisons: int = 0
    # With at least one human label.
    labelled: int = 0
    # With as many labels as the project wants.
    complete: int = 0
    # Labels of each of the last RECENT_DAYS days, oldest first (today last).
    per_day: list[int] = field(default_factory=lambda: [0] * RECENT_DAYS)

    @property
    def share_complete(self) -> float:
        return self.complete / self.comparisons if self.comparisons else 0.0

    @property
    def labels_recent(self) -> int:
        return sum(self.per_day)


def _day(value: object) -> date:
    # SQLite returns the day as text, PostgreSQL as a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def recent_days(now: datetime | None = None) -> list[date]:
    today = (now or utcnow()).date()
    return [today - timedelta(days=RECENT_DAYS - 1 - i) for i in range(RECENT_DAYS)]


def project_progress(
    session: Session, projects: list[Project], now: datetime | None = None
) -> list[ProjectProgress]:
    """Counts for each project: three aggregates in all, not three per project."""
    found = {p.id: ProjectProgress(p) for p in projects}
    if not found:
        return []
    ids = list(found)
    rows = session.execute(
        select(
            Comparison.project_id,
            func.count(Comparison.id),
            func.coalesce(func.sum(case((Comparison.label_count > 0, 1), else_=0)), 0),
            func.coalesce(
                func.sum(
                    case((Comparison.label_count >= Project.labels_per_comparison, 1), else_=0)
                ),
                0,
            ),
        )
        .join(Project, Project.id == Comparison.project_id)
        .where(Comparison.project_id.in_(ids))
        .group_by(Comparison.project_id)
    )
    for project_id, total, labelled, complete in rows:
        entry = found[project_id]
        entry.comparisons, entry.labelled, entry.complete = total, labelled, complete
    days = recent_days(now)
    start = datetime(days[0].year, days[0].month, days[0].day, tzinfo=(now or utcnow()).tzinfo)
    day = func.date(Label.created_at)
    per_day = session.execute(
        select(Comparison.project_id, day, func.count(Label.id))
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(Comparison.project_id.in_(ids), Label.created_at >= start)
        .group_by(Comparison.project_id, day)
    )
    index = {d: i for i, d in enumerate(days)}
    for project_id, when, count in per_day:
        position = index.get(_day(when))
        if position is not None:
            found[project_id].per_day[position] = count
    return [found[p.id] for p in projects]
