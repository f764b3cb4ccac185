"""Quality control's tables: annotators' standing per project, its history, and the last
reliability computation (app/quality)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import (
    AnnotatorStatus,
    Base,
    JsonType,
    _enum_check,
    utcnow,
)


class AnnotatorQuality(Base):
    """One annotator's standing in one project: the status that decides whether their labels
    are trusted and whether they may rate, and the weight of their vote in `model` aggregation.
    """

    __tablename__ = "annotator_quality"
    __table_args__ = (_enum_check("status", AnnotatorStatus),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=AnnotatorStatus.ok.value)
    reasons: Mapped[list[str]] = mapped_column(JsonType, default=list)
    # An admin's suspension or reinstatement: the automatic rules never lift a suspension,
    # and after a reinstatement they raise no more than `watch`.
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    # log-odds of the annotator being right, from the latent-truth model (aggregation=model).
    vote_weight: Mapped[float] = mapped_column(Float, default=1.0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnnotatorStatusEvent(Base):
    """Every change of an annotator's status: who or what changed it, when, and why."""

    __tablename__ = "annotator_status_events"
    __table_args__ = (
        _enum_check("new_status", AnnotatorStatus),
        Index("ix_annotator_status_events_project_user", "project_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    old_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))
    # The admin who did it; NULL when the automatic rules did ("actor" says which).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReliabilitySnapshot(Base):
    """The last reliability computation of a project: the annotators endpoint answers from it."""

    __tablename__ = "reliability_snapshots"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    computed_at: Mapped[datetime | None]
    # Labels of the project when it was computed, and the highest label id then: a new label
    # since makes it stale by one.
    labels: Mapped[int] = mapped_column(Integer, default=0)
    max_label_id: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    # {"annotators": [...], "project": {...}, "model": "..."}, see app/quality/report.py.
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Set while a process recomputes, so that two do not; a stale claim is taken over.
    computing_since: Mapped[datetime | None]
