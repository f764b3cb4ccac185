"""A project's labelling statistics: the API's `ProjectStats`, from the queries in
`app.queries.stats` and the agreement maths in `app.agreement`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from app.agreement import krippendorff_alpha_ordinal, percent_agreement
from app.models import Project
from app.queries import stats as stats_queries
from app.queries.stats import ChoiceSummary
from app.rollup_tables import IMPORTED
from app.schemas.stats import (
    Agreement,
    AnnotatorStats,
    ChoiceCounts,
    PositionBias,
    ProjectStats,
)


def median(counts: Iterable[tuple[int, int]]) -> float | None:
    """The median of values given as (value, how many), as of the expanded list."""
    ordered = sorted((v, n) for v, n in counts if n > 0)
    total = sum(n for _, n in ordered)
    if total == 0:
        return None
    wanted = [(total - 1) // 2, total // 2]  # the middle one, or the middle two
    found: list[float] = []
    seen = 0
    for value, n in ordered:
        while wanted and wanted[0] < seen + n:
            found.append(float(value))
            wanted.pop(0)
        seen += n
    return sum(found) / len(found)


def _summary(counts: Iterable[stats_queries.LabelCount]) -> ChoiceSummary:
    tally = {"worse": 0, "same": 0, "better": 0}
    left = 0
    for c in counts:
        tally[c.choice] += c.labels
        # The response shown on the left is A unless the screen swapped them.
        if (c.choice == "worse" and not c.shown_swapped) or (
            c.choice == "better" and c.shown_swapped
        ):
            left += c.labels
    return ChoiceSummary(sum(tally.values()), tally["worse"], tally["same"], tally["better"], left)


def project_stats(session: Session, project: Project) -> ProjectStats:
    comparisons, complete = stats_queries.comparison_counts(
        session, project.id, project.labels_per_comparison
    )
    counts = stats_queries.label_counts(session, project.id)
    every = _summary(counts)
    # Position bias only means something for labels made on this screen.
    human = _summary(c for c in counts if c.annotator_id != IMPORTED)
    patterns = stats_queries.agreement_patterns(session, project.id)
    times = stats_queries.label_times(session, project.id)
    people = sorted({c.annotator_id for c in counts if c.annotator_id != IMPORTED})
    names = stats_queries.usernames(session, people)
    per_annotator = [
        AnnotatorStats(
            annotator_id=user_id,
            username=names[user_id],
            labels=summary.labels,
            choices=_choices(summary),
            position_bias=_bias(summary),
            median_time_ms=median(times.get(user_id, [])),
        )
        for user_id in people
        if user_id in names
        for summary in [_summary(c for c in counts if c.annotator_id == user_id)]
    ]
    return ProjectStats(
        comparisons=comparisons,
        comparisons_labelled=stats_queries.labelled_comparisons(session, project.id),
        comparisons_complete=complete,
        labels=every.labels,
        labels_human=human.labels,
        labels_imported=every.labels - human.labels,
        choices=_choices(every),
        position_bias=_bias(human),
        agreement=Agreement(
            comparisons=sum(units for _, units in patterns),
            labels=sum(sum(counts) * units for counts, units in patterns),
            krippendorff_alpha_ordinal=krippendorff_alpha_ordinal(patterns),
            percent_agreement=percent_agreement(patterns),
        ),
        median_time_ms=median(pair for pairs in times.values() for pair in pairs),
        per_annotator=sorted(per_annotator, key=lambda a: a.username),
    )


def _choices(summary: ChoiceSummary) -> ChoiceCounts:
    return ChoiceCounts(worse=summary.worse, same=summary.same, better=summary.better)


def _bias(summary: ChoiceSummary) -> PositionBias:
    decided = summary.worse + summary.better
    left_share = summary.picked_left / decided if decided else None
    return PositionBias(decided=decided, left_share=left_share)
