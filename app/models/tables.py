"""The tables of people, projects, content, labels, jobs and model versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import (
    AssignmentStatus,
    Base,
    Choice,
    JobKind,
    JobStatus,
    JsonType,
    ModelKind,
    Role,
    Strength,
    _enum_check,
    utcnow,
)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (_enum_check("role", Role),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of a 256-bit random token: a slow hash adds nothing at that entropy.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="raise")


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("labels_per_comparison >= 1", name="labels_positive"),
        CheckConstraint("gold_rate >= 0 AND gold_rate <= 1", name="gold_rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    guidelines: Mapped[str] = mapped_column(Text, default="")
    labels_per_comparison: Mapped[int] = mapped_column(Integer, default=1)
    policy_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", use_alter=True, ondelete="SET NULL")
    )
    reward_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", use_alter=True, ondelete="SET NULL")
    )
    generation_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    training_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Share of an annotator's pairs that are gold (known answer), mixed into their queue.
    gold_rate: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    # Overrides of app.quality.thresholds.QualityThresholds; {} keeps every default.
    quality_thresholds: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prompt(Base):
    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("project_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # [{"role": "system"|"user"|"assistant", "content": str}, ...]
    messages: Mapped[list[dict[str, str]]] = mapped_column(JsonType)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(100), default="manual")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("prompt_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL"), index=True
    )
    # "import:hh", "import:pairs", "model", "demo", ...
    source: Mapped[str] = mapped_column(String(100))
    # The named source of an imported response (a `pairs` row's model_a / model_b), for the
    # leaderboard; responses a model version wrote name it by model_version_id instead.
    model_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comparison(Base):
    __tablename__ = "comparisons"
    __table_args__ = (
        # The unordered pair: a re-import with A and B flipped is still a duplicate.
        UniqueConstraint("project_id", "pair_hash"),
        CheckConstraint("response_a_id <> response_b_id", name="distinct_responses"),
        _enum_check("gold_choice", Choice),
        # The next-pair query walks this index in priority order.
        Index("ix_comparisons_queue", "project_id", "priority", "id"),
        # Imports find known pairs by hash alone: see migration 0003.
        Index("ix_comparisons_pair_hash", "pair_hash"),
        # The gold path walks a project's gold pairs only (migration 0005).
        Index(
            "ix_comparisons_gold",
            "project_id",
            "priority",
            "id",
            postgresql_where=text("gold_choice IS NOT NULL"),
            sqlite_where=text("gold_choice IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"), index=True)
    response_a_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    response_b_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    pair_hash: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # The known answer (B compared with A) of a gold pair: served only through the gold path,
    # never by the normal pick, never in trl exports or reward training.
    gold_choice: Mapped[str | None] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(100), default="manual")
    # Human labels so far, kept with each label insert so the queue needs no aggregate.
    label_count: Mapped[int] = mapped_column(Integer, default=0)
    # A blind evaluation pair (an `evaluate` job's): left out of reward training and of the
    # trl export unless asked for, so that what measures the policy never trains it.
    evaluation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    prompt: Mapped[Prompt] = relationship(lazy="raise")
    response_a: Mapped[Response] = relationship(foreign_keys=[response_a_id], lazy="raise")
    response_b: Mapped[Response] = relationship(foreign_keys=[response_b_id], lazy="raise")


class Assignment(Base):
    """One annotator's hold on one comparison: a lease while rating, then skipped or done."""

    __tablename__ = "assignments"
    __table_args__ = (
        _enum_check("status", AssignmentStatus),
        Index("ix_assignments_comparison_status", "comparison_id", "status", "expires_at"),
        # An annotator's assignments by status: the gold draw counts the closed ones from
        # the index alone (migration 0005; it replaced the index on user_id).
        Index("ix_assignments_user_status", "user_id", "status"),
        # An annotator's live lease, found without reading their whole history of labels.
        Index(
            "ix_assignments_user_leased",
            "user_id",
            postgresql_where=text("status = 'leased'"),
            sqlite_where=text("status = 'leased'"),
        ),
    )

    comparison_id: Mapped[int] = mapped_column(
        ForeignKey("comparisons.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Label(Base):
    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("comparison_id", "annotator_id"),
        _enum_check("choice", Choice),
        _enum_check("strength", Strength),
        CheckConstraint("time_spent_ms IS NULL OR time_spent_ms >= 0", name="time_nonnegative"),
        Index("ix_labels_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    # NULL for imported human choices: those belong to an import source, not a person here.
    annotator_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(100), default="human")
    choice: Mapped[str] = mapped_column(String(8))
    strength: Mapped[str | None] = mapped_column(String(16))
    feedback: Mapped[str] = mapped_column(Text, default="")
    flag_harmful: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_untrue: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_unhelpful: Mapped[bool] = mapped_column(Boolean, default=False)
    shown_swapped: Mapped[bool] = mapped_column(Boolean, default=False)
    time_spent_ms: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    comparison: Mapped[Comparison] = relationship(lazy="raise")


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (_enum_check("kind", ModelKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    base_model: Mapped[str] = mapped_column(String(500))
    # Directory of the weights, relative to the model store unless absolute.
    path: Mapped[str] = mapped_column(String(1000))
    # One version per job: a re-claimed job can never register a second one.
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), unique=True
    )
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        _enum_check("kind", JobKind),
        _enum_check("status", JobStatus),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress_range"),
        Index("ix_jobs_status_created", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.queued.value)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    # Latest value of each metric; the series over steps lives in job_metrics.
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The version a job made is found through model_versions.job_id (unique), which keeps
    # the tables free of a jobs <-> model_versions foreign-key cycle.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class JobMetric(Base):
    """One logged step of a job: the points the job page plots."""

    __tablename__ = "job_metrics"
    __table_args__ = (UniqueConstraint("job_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RewardScore(Base):
    """A reward model version's score of one response: its verdicts on the leaderboard's
    battles are the differences of these. Written by the worker; the server never scores."""

    __tablename__ = "reward_scores"
    __table_args__ = (UniqueConstraint("reward_version_id", "response_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reward_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(Float)
    # The reward model's own uncertainty about the score (a standard deviation), when it
    # gives one.
    uncertainty: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
