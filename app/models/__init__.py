"""The data model: typed SQLAlchemy 2 tables. Meanings are in DESIGN.md; migrations mirror this."""

from app.models.base import (
    NAMING_CONVENTION,
    AnnotatorStatus,
    AssignmentStatus,
    Base,
    Choice,
    JobKind,
    JobStatus,
    JsonType,
    ModelKind,
    Role,
    Strength,
    UTCDateTime,
    utcnow,
)
from app.models.quality import AnnotatorQuality, AnnotatorStatusEvent, ReliabilitySnapshot
from app.models.tables import (
    ApiToken,
    Assignment,
    Comparison,
    Job,
    JobMetric,
    Label,
    ModelVersion,
    Project,
    Prompt,
    Response,
    RewardScore,
    User,
)

__all__ = [
    "NAMING_CONVENTION",
    "AnnotatorQuality",
    "AnnotatorStatus",
    "AnnotatorStatusEvent",
    "ApiToken",
    "Assignment",
    "AssignmentStatus",
    "Base",
    "Choice",
    "Comparison",
    "Job",
    "JobKind",
    "JobMetric",
    "JobStatus",
    "JsonType",
    "Label",
    "ModelKind",
    "ModelVersion",
    "Project",
    "Prompt",
    "ReliabilitySnapshot",
    "Response",
    "RewardScore",
    "Role",
    "Strength",
    "UTCDateTime",
    "User",
    "utcnow",
]

# The rollup tables share this metadata (migrations and their drift test see them).
from app import rollup_tables  # noqa: F401
