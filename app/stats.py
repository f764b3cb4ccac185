"""A project's labelling statistics: the API's `ProjectStats`, from the queries in
`app.queries.stats` and the agreement maths in `app.agreement`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.agreement import krippendorff_alpha_ordinal, percent_agreement
from app.models import Project
from app.queries import stats as stats_queries
from app.queries.stats import ChoiceSummary
from app.schemas.stats import (
    Agreement,
    AnnotatorStats,
    ChoiceCounts,
    PositionBias,
    ProjectStats,
)


def project_stats(session: Session, project: Project) -> ProjectStats:
    comparisons, complete = stats_queries.comparison_counts(
        session, project.id, project.labels_per_comparison
    )
    every = stats_queries.label_summary(session, project.id)
    # Position bias only means something for labels made on this screen.
    human = stats_queries.label_summary(session, project.id, human_only=True)
    patterns = stats_queries.agreement_patterns(session, project.id)
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
        median_time_ms=stats_queries.median_time_ms(session, project.id),
        per_annotator=[
            AnnotatorStats(
                annotator_id=user_id,
                username=username,
                labels=summary.labels,
                choices=_choices(summary),
                position_bias=_bias(summary),
                median_time_ms=stats_queries.median_time_ms(session, project.id, user_id),
            )
            for user_id, username, summary in stats_queries.per_annotator(session, project.id)
        ],
    )


def _choices(summary: ChoiceSummary) -> ChoiceCounts:
    return ChoiceCounts(worse=summary.worse, same=summary.same, better=summary.better)


def _bias(summary: ChoiceSummary) -> PositionBias:
    decided = summary.worse + summary.better
    left_share = summary.picked_left / decided if decided else None
    return PositionBias(decided=decided, left_share=left_share)
