"""A project's labelling statistics."""

from __future__ import annotations

from pydantic import BaseModel


class ChoiceCounts(BaseModel):
    better: int = 0
    worse: int = 0
    same: int = 0


class PositionBias(BaseModel):
    # Human labels that preferred one side (ties have no side).
    decided: int
    # Share of those that preferred the response shown on the left; 0.5 is no bias.
    left_share: float | None


class Agreement(BaseModel):
    # Comparisons with at least two labels: the only ones agreement can be measured on.
    comparisons: int
    labels: int
    # Krippendorff's alpha with the ordinal metric on worse < same < better; None when undefined.
    krippendorff_alpha_ordinal: float | None
    # Share of pairs of labels on the same comparison that made the same choice.
    percent_agreement: float | None


class AnnotatorStats(BaseModel):
    annotator_id: int
    username: str
    labels: int
    choices: ChoiceCounts
    position_bias: PositionBias
    median_time_ms: float | None


class ProjectStats(BaseModel):
    comparisons: int
    comparisons_labelled: int
    # Comparisons with as many labels as the project wants (the queue is done with them).
    comparisons_complete: int
    labels: int
    labels_human: int
    labels_imported: int
    choices: ChoiceCounts
    position_bias: PositionBias
    agreement: Agreement
    median_time_ms: float | None
    per_annotator: list[AnnotatorStats]
