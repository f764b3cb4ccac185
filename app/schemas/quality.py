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

    gold_accuracy_flag: float | None = Field(
        None, ge=0, le=1, description="flagged when gold accuracy's 95 % interval lies below this"
    )
    gold_accuracy_watch: float | None = Field(
        None, ge=0, le=1, description="watch when gold accuracy is below this"
    )
    min_gold_labels: int | None = Field(
        None, ge=1, description="gold answers needed before gold accuracy can flag anyone"
    )
    competence_flag: float | None = Field(
        None,
        ge=0,
        le=1,
        description="flagged when competence (latent-truth model) is clearly below this",
    )
    competence_margin: float | None = Field(
        None, ge=0, le=1, description="or below the project's median competence by this much"
    )
    min_labels: int | None = Field(
        None, ge=1, description="labels needed before competence or agreement can flag anyone"
    )
    min_behaviour_labels: int | None = Field(
        None, ge=1, description="labels needed before the side, choice and time tests can"
    )
    agreement_margin: float | None = Field(
        None, ge=0, le=1, description="flagged when agreement is this far below the median"
    )
    side_share_flag: float | None = Field(
        None, ge=0.5, le=1, description="flagged at this share of picks on one side of the screen"
    )
    one_choice_share_flag: float | None = Field(
        None, ge=0, le=1, description="flagged at this share of one choice"
    )
    test_p: float | None = Field(
        None, gt=0, lt=1, description="the binomial tests' significance level"
    )
    time_share_flag: float | None = Field(
        None,
        ge=0,
        le=1,
        description="flagged when the median time per label is below this share of the project's",
    )
    rate_multiple_watch: float | None = Field(
        None,
        ge=1,
        description="watch above this multiple of the project's median labels per minute",
    )
    repeated_feedback_watch: int | None = Field(
        None, ge=1, description="watch when the same feedback was written this many times"
    )
    suspend_gold_accuracy_below: float | None = Field(
        None, ge=0, le=1, description="automatic suspension; off unless set"
    )
    suspend_competence_below: float | None = Field(
        None, ge=0, le=1, description="automatic suspension; off unless set"
    )
