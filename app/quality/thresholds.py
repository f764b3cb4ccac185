"""The rules' thresholds: defaults that suit a project of careful annotators, overridable per
project (`projects.quality_thresholds`, a JSON object with any of these keys)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class QualityThresholds:
    # Gold: flagged when the upper end of the 95 % interval is below this.
    gold_accuracy_flag: float = 0.6
    # Gold: watch when the point estimate is below this.
    gold_accuracy_watch: float = 0.7
    # Gold answers needed before gold accuracy can flag anyone.
    min_gold_labels: int = 5
    # Competence (latent-truth model): flagged below min(this, project median - margin) with
    # the interval's upper end below the project's median.
    competence_flag: float = 0.62
    competence_margin: float = 0.12
    # Labels an annotator needs before competence or agreement can flag them.
    min_labels: int = 30
    # ... and before the side, one-choice and time tests can (each has its own exact test or
    # a margin no careful reader comes near, so they may speak sooner).
    min_behaviour_labels: int = 20
    # Agreement with the others: flagged when the interval's upper end is below the
    # project's median minus this, watch when the point estimate is.
    agreement_margin: float = 0.15
    # Share of picks on one side of the screen, or of one choice, that is flagged once a
    # binomial test also rejects chance at `test_p`.
    side_share_flag: float = 0.8
    one_choice_share_flag: float = 0.9
    test_p: float = 1e-4
    # Median time per label below this share of the project's median: flagged.
    time_share_flag: float = 0.25
    # Labels per minute above this multiple of the project's median: watch.
    rate_multiple_watch: float = 4.0
    # The same non-empty feedback this many times, and for half their feedback: watch.
    repeated_feedback_watch: int = 5
    # Automatic suspension (off unless set): gold accuracy's upper bound, or competence,
    # below these suspends the annotator from the project.
    suspend_gold_accuracy_below: float | None = None
    suspend_competence_below: float | None = None

    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> QualityThresholds:
        """The defaults with a project's overrides; unknown keys are ignored (validated at
        the API, which refuses them)."""
        known = {k: v for k, v in (overrides or {}).items() if k in cls.names()}
        return replace(cls(), **known)
