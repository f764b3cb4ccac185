"""Quality control bodies: the annotators table, status changes, gold answers, thresholds."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["ok", "watch", "flagged", "suspended"]
GoldChoice = Literal["better", "worse", "same"]


class AnnotatorPublic(BaseModel):
    """One annotator who labelled in the project, as of the last reliability computation
    (`computed_at`); `status` and `reasons` are current (a suspension shows at once)."""

    user_id: int
    username: str
    labels: int
    gold_labels: int
    gold_accuracy: float | None = Field(description="null without gold answers")
    gold_interval: list[float] | None = Field(description="95 % Wilson interval")
    agreement: float | None = Field(
        description="share of the other labels on the same pairs that agree (leave-one-out)"
    )
    agreement_interval: list[float] | None
    competence: float | None = Field(
        description="P(label is the true answer) under the latent-truth model"
    )
    competence_interval: list[float] | None
    vote_weight: float = Field(description="weight of a label in aggregation=model")
    median_time_ms: float | None
    left_share: float | None = Field(description="share of decided picks on the screen's left")
    top_choice: str
    top_choice_share: float
    labels_per_minute: float | None
    repeated_feedback: int
    status: Status
    reasons: list[str]
    computed_status: Status = Field(description="what the automatic rules said")
    computed_at: datetime


class StatusChange(BaseModel):
    model_config = {"extra": "forbid"}

    reason: str = Field(min_length=1, max_length=2000, description="why, for the record")


class AnnotatorStatusPublic(BaseModel):
    project_id: int
    user_id: int
    status: Status
    reasons: list[str]


class StatusEventPublic(BaseModel):
    model_config = {"from_attributes": True}

    old_status: Status | None
    new_status: Status
    actor: str = Field(description='"admin:NAME" or "reliability" (the automatic rules)')
    actor_id: int | None
    reason: str
    created_at: datetime


class ComparisonGold(BaseModel):
    model_config = {"extra": "forbid"}

    gold: GoldChoice | None = Field(
        description="the known answer, B compared with A; null clears it"
    )


class ComparisonGoldPublic(BaseModel):
    id: int
    project_id: int
    gold: GoldChoice | None


class QualityThresholdsBody(BaseModel):
    """Overrides of the automatic rules' thresholds (app/quality/thresholds.py)."""

    model_config = {"extra": "forbid"}

    gold_accuracy_flag: float | None = Field(None, ge=0, le=1)
    gold_accuracy_watch: float | None = Field(None, ge=0, le=1)
    min_gold_labels: int | None = Field(None, ge=1)
    competence_flag: float | None = Field(None, ge=0, le=1)
    competence_margin: float | None = Field(None, ge=0, le=1)
    min_labels: int | None = Field(None, ge=1)
    min_behaviour_labels: int | None = Field(None, ge=1)
    agreement_margin: float | None = Field(None, ge=0, le=1)
    side_share_flag: float | None = Field(None, ge=0.5, le=1)
    one_choice_share_flag: float | None = Field(None, ge=0, le=1)
    test_p: float | None = Field(None, gt=0, lt=1)
    time_share_flag: float | None = Field(None, ge=0, le=1)
    rate_multiple_watch: float | None = Field(None, ge=1)
    repeated_feedback_watch: int | None = Field(None, ge=1)
    suspend_gold_accuracy_below: float | None = Field(
        None, ge=0, le=1, description="automatic suspension; off unless set"
    )
    suspend_competence_below: float | None = Field(
        None, ge=0, le=1, description="automatic suspension; off unless set"
    )
