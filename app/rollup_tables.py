"""Pre-aggregated label statistics, kept by database triggers (migration 0007).

The statistics and the quality dashboard read these instead of scanning every label; see
the migration for what each table holds and how the triggers keep it. Nothing in the
application writes them.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models import Base

# Comparisons are spread over this many rows per pattern, so concurrent labels rarely wait
# on one another's row lock.
SHARDS = 16
# Imported labels have no annotator: this id stands for them in label_daily.
IMPORTED = 0


def _project() -> Mapped[int]:
    return mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)


class LabelDaily(Base):
    __tablename__ = "label_daily"

    project_id: Mapped[int] = _project()
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    annotator_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    choice: Mapped[str] = mapped_column(String(8), primary_key=True)
    shown_swapped: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class LabelTimes(Base):
    __tablename__ = "label_times"

    project_id: Mapped[int] = _project()
    annotator_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The time spent, kept to 0.1 s under a minute, 1 s under 10 minutes, then to the minute.
    time_ms: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class AgreementUnit(Base):
    __tablename__ = "agreement_units"

    comparison_id: Mapped[int] = mapped_column(
        ForeignKey("comparisons.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(Integer)
    worse: Mapped[int] = mapped_column(Integer)
    same: Mapped[int] = mapped_column(Integer)
    better: Mapped[int] = mapped_column(Integer)
    last_day: Mapped[date] = mapped_column(Date)
    # The last_day before the latest change (PostgreSQL's trigger reads it back).
    prev_day: Mapped[date | None] = mapped_column(Date)


class AgreementPattern(Base):
    __tablename__ = "agreement_patterns"

    project_id: Mapped[int] = _project()
    last_day: Mapped[date] = mapped_column(Date, primary_key=True)
    worse: Mapped[int] = mapped_column(Integer, primary_key=True)
    same: Mapped[int] = mapped_column(Integer, primary_key=True)
    better: Mapped[int] = mapped_column(Integer, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger)
