"""Several labels on one comparison become one TRL row by majority vote.

A comparison's labels (after the export's filters) are counted per choice. The outcome is
the choice that more than half of them made: `better` (B chosen) or `worse` (A chosen)
becomes a row; a majority for `same` is a tie and no choice with a majority is a split,
and both are left out and counted. `agreement` is the winning share of the labels (1.0
for a single label). For the raw schema and for the stats, a comparison's agreement is
its largest share, whatever the outcome.

The margin is the mean over the winning labels that gave a strength: the strengths map
to reward-scale margins like Llama 2's "small margin" set (Touvron et al., 2023), whose
largest step is 1; without any strength the margin is 0.0, which is what TRL's loss does
without a margin, so that every row can carry the column TRL reads from the first row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, Subquery, case, cast, func, literal, select

from app.models import Comparison, Label, Strength

MARGINS = {Strength.slightly.value: 1 / 3, Strength.much.value: 1.0}

OUTCOME_TIE = "same"
OUTCOME_SPLIT = "split"


def _count(choice: str) -> ColumnElement[Any]:
    return func.sum(case((Label.choice == choice, 1), else_=0))


def _margin_sum(choice: str) -> ColumnElement[Any]:
    margin = case(
        *((Label.strength == name, literal(value, Float)) for name, value in MARGINS.items()),
        else_=None,
    )
    return func.sum(case((Label.choice == choice, margin), else_=None))


def _strength_count(choice: str) -> ColumnElement[Any]:
    return func.sum(case(((Label.choice == choice) & Label.strength.is_not(None), 1), else_=0))


def _weight_sum(choice: str, weight: ColumnElement[float]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((Label.choice == choice, weight), else_=0.0)), 0.0)


def label_counts(
    project_id: int,
    conditions: list[ColumnElement[bool]],
    weight: ColumnElement[float] | None = None,
) -> Subquery:
    """One row per comparison of the project with passing labels: counts per choice, margins,
    and with `weight` (aggregation=model) the summed weights per choice."""
    weights = (
        [_weight_sum(c, weight).label(f"w_{c}") for c in ("better", "worse", "same")]
        if weight is not None
        else []
    )
    return (
        select(
            Label.comparison_id.label("comparison_id"),
            func.count().label("n"),
            _count("better").label("better"),
            _count("worse").label("worse"),
            _count("same").label("same"),
            _margin_sum("better").label("margin_better"),
            _strength_count("better").label("strengths_better"),
            _margin_sum("worse").label("margin_worse"),
            _strength_count("worse").label("strengths_worse"),
            *weights,
        )
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(Comparison.project_id == project_id, *conditions)
        .group_by(Label.comparison_id)
        .subquery("label_counts")
    )


def outcome(counts: Subquery) -> ColumnElement[str]:
    c = counts.c
    return case(
        (2 * c.better > c.n, "better"),
        (2 * c.worse > c.n, "worse"),
        (2 * c.same > c.n, OUTCOME_TIE),
        else_=OUTCOME_SPLIT,
    )


def model_outcome(counts: Subquery) -> ColumnElement[str]:
    """The latent-truth model's answer: the choice with the largest summed vote weight (the
    one-coin model's posterior with a flat prior); equal weights are a split."""
    c = counts.c
    return case(
        ((c.w_better > c.w_worse) & (c.w_better > c.w_same), "better"),
        ((c.w_worse > c.w_better) & (c.w_worse > c.w_same), "worse"),
        ((c.w_same > c.w_better) & (c.w_same > c.w_worse), OUTCOME_TIE),
        else_=OUTCOME_SPLIT,
    )


def winning_votes(counts: Subquery) -> ColumnElement[int]:
    c = counts.c
    return case((c.better >= c.worse, c.better), else_=c.worse)


def votes_for(outcome_column: ColumnElement[str], counts: Subquery) -> ColumnElement[int]:
    """How many labels made the outcome's choice (model aggregation may pick a minority)."""
    c = counts.c
    return case((outcome_column == "better", c.better), else_=c.worse)


def largest_share_votes(counts: Subquery) -> ColumnElement[int]:
    c = counts.c
    return case(
        ((c.better >= c.worse) & (c.better >= c.same), c.better),
        (c.worse >= c.same, c.worse),
        else_=c.same,
    )


def at_least(votes: ColumnElement[int], counts: Subquery, share: float) -> ColumnElement[bool]:
    """votes / n >= share, in floating point on every backend."""
    return cast(votes, Float) >= cast(counts.c.n, Float) * share


def mean_margin(margin_sum: float | None, strengths: int | None) -> float:
    return float(margin_sum) / strengths if strengths and margin_sum is not None else 0.0
