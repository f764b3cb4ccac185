"""From figures to a status (ok, watch, flagged, suspended) and the sentences that say why.

Each signal is judged on its own and the most severe verdict wins. Statistical signals only
speak once there is enough evidence (an interval or an exact test), so that a careful
annotator with a bad first hour is not flagged on noise.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.models import AnnotatorStatus
from app.quality.intervals import interval, percent
from app.quality.reliability import CHOICES, AnnotatorFigures, ProjectFigures
from app.quality.thresholds import QualityThresholds

SEVERITY = {
    AnnotatorStatus.ok: 0,
    AnnotatorStatus.watch: 1,
    AnnotatorStatus.flagged: 2,
    AnnotatorStatus.suspended: 3,
}
NOTHING_TO_REPORT = "no quality signal crossed its threshold"


@dataclass(frozen=True)
class Verdict:
    status: AnnotatorStatus
    reasons: tuple[str, ...]


def _p(value: float) -> str:
    return "p < 0.0001" if value < 1e-4 else f"p = {value:.2g}"


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s"


class _Findings:
    def __init__(self) -> None:
        self.items: list[tuple[AnnotatorStatus, str]] = []

    def add(self, status: AnnotatorStatus, reason: str) -> None:
        self.items.append((status, reason))

    def verdict(self) -> Verdict:
        if not self.items:
            return Verdict(AnnotatorStatus.ok, (NOTHING_TO_REPORT,))
        worst = max(self.items, key=lambda item: SEVERITY[item[0]])[0]
        ordered = sorted(self.items, key=lambda item: -SEVERITY[item[0]])
        return Verdict(worst, tuple(reason for _, reason in ordered))


def judge(f: AnnotatorFigures, project: ProjectFigures, t: QualityThresholds) -> Verdict:
    """The automatic verdict on one annotator (an admin's decision is applied elsewhere)."""
    found = _Findings()
    _gold(f, t, found)
    _competence(f, project, t, found)
    _agreement(f, project, t, found)
    _behaviour(f, project, t, found)
    return found.verdict()


def _gold(f: AnnotatorFigures, t: QualityThresholds, found: _Findings) -> None:
    accuracy, bounds = f.gold_accuracy, f.gold_interval
    if accuracy is None or bounds is None:
        return
    sentence = (
        f"gold accuracy {percent(accuracy)} {interval(*bounds)} over {f.gold_labels} gold pairs"
    )
    if f.gold_labels < t.min_gold_labels:
        return
    if t.suspend_gold_accuracy_below is not None and bounds[1] < t.suspend_gold_accuracy_below:
        found.add(AnnotatorStatus.suspended, sentence)
    elif bounds[1] < t.gold_accuracy_flag:
        found.add(AnnotatorStatus.flagged, sentence)
    elif accuracy < t.gold_accuracy_watch:
        found.add(AnnotatorStatus.watch, sentence)


def _competence(
    f: AnnotatorFigures, project: ProjectFigures, t: QualityThresholds, found: _Findings
) -> None:
    """Flagged when clearly below the project's typical annotator: the point estimate under
    the limit, and the whole interval under the project's median competence."""
    if f.competence is None or f.labels < t.min_labels:
        return
    reference = project.median_competence
    limit = t.competence_flag
    if reference is not None:
        limit = min(limit, reference - t.competence_margin)
    bounds = f.competence_interval
    assert bounds is not None
    level = f"; project median {percent(reference)}" if reference is not None else ""
    sentence = (
        f"competence {percent(f.competence)} {interval(*bounds)} over {f.labels} labels"
        f" (latent-truth model{level})"
    )
    if t.suspend_competence_below is not None and f.competence < t.suspend_competence_below:
        found.add(AnnotatorStatus.suspended, sentence)
    elif f.competence < limit and (reference is None or bounds[1] < reference):
        found.add(AnnotatorStatus.flagged, sentence)


def _agreement(
    f: AnnotatorFigures, project: ProjectFigures, t: QualityThresholds, found: _Findings
) -> None:
    if f.agreement is None or project.median_agreement is None or f.agreement_n < t.min_labels:
        return
    bounds = f.agreement_interval
    assert bounds is not None
    limit = project.median_agreement - t.agreement_margin
    sentence = (
        f"agrees with the other annotators of the same pairs {percent(f.agreement)}"
        f" {interval(*bounds)} over {f.agreement_n} labels"
        f" (project median {percent(project.median_agreement)})"
    )
    if bounds[1] < limit:
        found.add(AnnotatorStatus.flagged, sentence)
    elif f.agreement < limit:
        found.add(AnnotatorStatus.watch, sentence)


def _behaviour(
    f: AnnotatorFigures, project: ProjectFigures, t: QualityThresholds, found: _Findings
) -> None:
    share = f.left_share
    if share is not None and f.decided >= t.min_behaviour_labels:
        side, picks = (
            ("left", f.left_picks) if share >= 0.5 else ("right", f.decided - f.left_picks)
        )
        if max(share, 1 - share) >= t.side_share_flag and f.left_p < t.test_p:
            found.add(
                AnnotatorStatus.flagged,
                f"picked the response on the {side} of the screen {picks} of {f.decided} times"
                f" ({percent(picks / f.decided)}; chance gives 50 %, {_p(f.left_p)})",
            )
    top = f.top_choice
    top_count = f.choice_counts[top]
    if f.labels >= t.min_behaviour_labels and f.others_share_of_top is not None:
        share_top = top_count / f.labels
        if share_top >= t.one_choice_share_flag and f.top_choice_p < t.test_p:
            found.add(
                AnnotatorStatus.flagged,
                f"chose {CHOICES[top].capitalize()} {top_count} of {f.labels} times"
                f" ({percent(share_top)}; the others chose it"
                f" {percent(f.others_share_of_top)}, {_p(f.top_choice_p)})",
            )
    if (
        f.median_time_ms is not None
        and project.median_time_ms
        and f.labels >= t.min_behaviour_labels // 4
        and f.median_time_ms < t.time_share_flag * project.median_time_ms
    ):
        found.add(
            AnnotatorStatus.flagged,
            f"median {_seconds(f.median_time_ms)} per label against the project's"
            f" {_seconds(project.median_time_ms)}",
        )
    rate = f.activity.labels_per_minute
    median_rate = project.median_labels_per_minute
    if rate and median_rate and rate > t.rate_multiple_watch * median_rate:
        found.add(
            AnnotatorStatus.watch,
            f"{rate:.1f} labels per minute, {rate / median_rate:.1f} times the project's median",
        )
    repeated = f.activity.repeated_feedback
    if repeated >= t.repeated_feedback_watch and 2 * repeated >= f.activity.feedback_labels:
        found.add(
            AnnotatorStatus.watch,
            f"wrote the same feedback {repeated} times out of {f.activity.feedback_labels}",
        )
