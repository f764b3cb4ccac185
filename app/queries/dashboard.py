"""Series for a project's quality dashboard: labels per day, time per label, agreement over time.

Each reads a rollup table kept by triggers (app/rollup_tables.py), whose rows number in the
hundreds or thousands whatever the number of labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.agreement import krippendorff_alpha_ordinal, percent_agreement
from app.rollup_tables import AgreementPattern, LabelDaily, LabelTimes

# Upper bounds (ms) of the time-per-label buckets; the last bucket is open.
TIME_BUCKETS_MS = (2_000, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000)
TIME_BUCKET_NAMES = (
    "<2s",
    "2\u20135s",
    "5\u201310s",
    "10\u201320s",
    "20\u201330s",
    "30\u201360s",
    "1\u20132m",
    "2\u20135m",
    ">5m",
)
# The agreement series is drawn per week beyond this many days, or when days have fewer
# comparisons than this on average (alpha of a handful of comparisons is mostly noise).
DAILY_UP_TO = 45
DAILY_MIN_COMPARISONS = 20


def _day(value: Any) -> date:
    # SQLite answers date() as text, PostgreSQL as a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True)
class DayCount:
    day: date
    labels: int


def labels_per_day(session: Session, project_id: int) -> list[DayCount]:
    """Every day from the first label to the last, days without labels included as 0."""
    rows = session.execute(
        select(LabelDaily.day, func.sum(LabelDaily.n))
        .where(LabelDaily.project_id == project_id)
        .group_by(LabelDaily.day)
    ).all()
    counts = {_day(d): int(n) for d, n in rows if n}
    if not counts:
        return []
    first, last = min(counts), max(counts)
    return [
        DayCount(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0))
        for i in range((last - first).days + 1)
    ]


def time_per_label(session: Session, project_id: int) -> list[int]:
    """Human labels in each of TIME_BUCKET_NAMES."""
    rows = session.execute(
        select(LabelTimes.time_ms, func.sum(LabelTimes.n))
        .where(LabelTimes.project_id == project_id)
        .group_by(LabelTimes.time_ms)
    ).all()
    counts = [0] * len(TIME_BUCKET_NAMES)
    for time_ms, n in rows:
        # The stored times are rounded down to bounds that include every bucket's edges.
        index = sum(1 for bound in TIME_BUCKETS_MS if time_ms >= bound)
        counts[index] += int(n)
    return counts


@dataclass(frozen=True)
class AgreementPoint:
    start: date
    comparisons: int
    alpha: float | None
    percent: float | None


def agreement_over_time(session: Session, project_id: int) -> tuple[str, list[AgreementPoint]]:
    """Krippendorff's alpha of the comparisons whose last label came in each day (or week,
    over a long span): how well people agree on the work finished then. Returns the period
    ("day" or "week") and the points, oldest first."""
    p = AgreementPattern
    rows = session.execute(
        select(p.last_day, p.worse, p.same, p.better, func.sum(p.units))
        .where(p.project_id == project_id, p.worse + p.same + p.better >= 2)
        .group_by(p.last_day, p.worse, p.same, p.better)
    ).all()
    rows = [r for r in rows if r[-1]]
    if not rows:
        return "day", []
    by_day: dict[date, list[tuple[tuple[int, ...], int]]] = {}
    for done, *counts, units in rows:
        by_day.setdefault(_day(done), []).append((tuple(int(c) for c in counts), int(units)))
    first, last = min(by_day), max(by_day)
    span = (last - first).days + 1
    total = sum(u for patterns in by_day.values() for _, u in patterns)
    weekly = span > DAILY_UP_TO or total / span < DAILY_MIN_COMPARISONS
    period = "week" if weekly else "day"
    buckets: dict[date, list[tuple[tuple[int, ...], int]]] = {}
    for day, patterns in by_day.items():
        start = day - timedelta(days=day.weekday()) if weekly else day
        buckets.setdefault(start, []).extend(patterns)
    step = timedelta(days=7 if weekly else 1)
    start = min(buckets)
    points = []
    while start <= max(buckets):
        patterns = buckets.get(start, [])
        points.append(
            AgreementPoint(
                start=start,
                comparisons=sum(u for _, u in patterns),
                alpha=krippendorff_alpha_ordinal(patterns) if patterns else None,
                percent=percent_agreement(patterns) if patterns else None,
            )
        )
        start += step
    return period, points
