"""Project bodies: create, update and what the API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.schemas.quality import QualityThresholdsBody

Name = Annotated[str, Field(min_length=1, max_length=200)]
Guidelines = Annotated[
    str, Field(max_length=100_000, description="annotation guidelines, Markdown")
]
Overlap = Annotated[int, Field(ge=1, le=100, description="labels wanted per comparison")]
GoldRate = Annotated[
    float, Field(ge=0, le=1, description="share of an annotator's pairs that are gold")
]


class ProjectCreate(BaseModel):
    model_config = {"extra": "forbid"}

    name: Name
    guidelines: Guidelines = ""
    labels_per_comparison: Overlap = 1
    policy_version_id: int | None = None
    reward_version_id: int | None = None
    generation_settings: dict[str, Any] = Field(default_factory=dict)
    training_settings: dict[str, Any] = Field(default_factory=dict)
    gold_rate: GoldRate = 0.0
    quality_thresholds: QualityThresholdsBody = Field(default_factory=QualityThresholdsBody)


class ProjectUpdate(BaseModel):
    """Only the fields sent change; `null` clears a default model version."""

    model_config = {"extra": "forbid"}

    name: Name | None = None
    guidelines: Guidelines | None = None
    labels_per_comparison: Overlap | None = None
    policy_version_id: int | None = None
    reward_version_id: int | None = None
    generation_settings: dict[str, Any] | None = None
    training_settings: dict[str, Any] | None = None
    gold_rate: GoldRate | None = None
    quality_thresholds: QualityThresholdsBody | None = None


class ProjectPublic(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    name: str
    guidelines: str
    labels_per_comparison: int
    policy_version_id: int | None
    reward_version_id: int | None
    generation_settings: dict[str, Any]
    training_settings: dict[str, Any]
    gold_rate: float
    quality_thresholds: dict[str, Any] = Field(
        description="overrides of the automatic flagging (and optional suspension) rules"
    )
    created_at: datetime
