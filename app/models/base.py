"""The data model: typed SQLAlchemy 2 tables on one declarative base. The migrations in
migrations/versions build the same schema (tests/test_migrations.py compares them)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    MetaData,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware in Python on every backend; SQLite stores naive UTC text."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JsonType}


def _enum_check(column: str, values: type[enum.StrEnum]) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


class Role(enum.StrEnum):
    annotator = "annotator"
    admin = "admin"
    trainer = "trainer"


class Choice(enum.StrEnum):
    """Response B compared with response A."""

    better = "better"
    worse = "worse"
    same = "same"


class Strength(enum.StrEnum):
    slightly = "slightly"
    much = "much"


class JobKind(enum.StrEnum):
    generate = "generate"
    reward = "reward"
    ppo = "ppo"
    iterate = "iterate"
    evaluate = "evaluate"
    dpo = "dpo"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class ModelKind(enum.StrEnum):
    policy = "policy"
    reward = "reward"


class AnnotatorStatus(enum.StrEnum):
    """How far a project trusts one annotator's labels (see app/quality)."""

    ok = "ok"
    watch = "watch"
    flagged = "flagged"
    suspended = "suspended"


class AssignmentStatus(enum.StrEnum):
    leased = "leased"
    skipped = "skipped"
    done = "done"
