"""The SQL behind an export: the label filters, the raw rows, the TRL rows, and their counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Text, cast, func, or_, select, true
from sqlalchemy.orm import aliased

from app.exporting import aggregation
from app.exporting.options import ExportFilters, Flag
from app.models import Comparison, Label, Prompt, Response, User
from app.queries.trusted_labels import (
    Aggregation,
    trusted_label_conditions,
    vote_weight_column,
)

_FLAG_COLUMNS = {
    Flag.harmful: Label.flag_harmful,
    Flag.untrue: Label.flag_untrue,
    Flag.unhelpful: Label.flag_unhelpful,
}


def label_conditions(filters: ExportFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.since is not None:
        conditions.append(Label.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(Label.created_at < filters.until)
    if filters.annotators:
        ids = select(User.id).where(User.username.in_(filters.annotators))
        conditions.append(Label.annotator_id.in_(ids.scalar_subquery()))
    if filters.sources:
        conditions.append(Label.source.in_(filters.sources))
    if filters.flagged:
        conditions.append(or_(*(_FLAG_COLUMNS[f].is_(True) for f in filters.flagged)))
    for flag in filters.not_flagged:
        conditions.append(_FLAG_COLUMNS[flag].is_(False))
    return conditions


ResponseA = aliased(Response, name="response_a")
ResponseB = aliased(Response, name="response_b")

# The raw schema's columns, in order; `prompt` is the messages as JSON text.
RAW_COLUMNS = (
    "label_id",
    "comparison_id",
    "prompt_id",
    "prompt",
    "response_a_id",
    "response_a",
    "response_b_id",
    "response_b",
    "choice",
    "strength",
    "feedback",
    "flag_harmful",
    "flag_untrue",
    "flag_unhelpful",
    "shown_swapped",
    "annotator",
    "annotator_id",
    "source",
    "time_spent_ms",
    "created_at",
    "response_a_source",
    "response_a_model_version_id",
    "response_b_source",
    "response_b_model_version_id",
    "is_gold",
)


def raw_select(project_id: int, filters: ExportFilters) -> Select[*tuple[Any, ...]]:
    """One row per passing label, in label order."""
    stmt: Select[*tuple[Any, ...]] = (
        select(
            Label.id,
            Label.comparison_id,
            Comparison.prompt_id,
            # As text: JSONL embeds it as is, with no parse and re-encode per row.
            cast(Prompt.messages, Text),
            Comparison.response_a_id,
            ResponseA.text,
            Comparison.response_b_id,
            ResponseB.text,
            Label.choice,
            Label.strength,
            Label.feedback,
            Label.flag_harmful,
            Label.flag_untrue,
            Label.flag_unhelpful,
            Label.shown_swapped,
            User.username,
            Label.annotator_id,
            Label.source,
            Label.time_spent_ms,
            Label.created_at,
            ResponseA.source,
            ResponseA.model_version_id,
            ResponseB.source,
            ResponseB.model_version_id,
            Comparison.gold_choice.is_not(None),
        )
        .join(Comparison, Comparison.id == Label.comparison_id)
        .join(Prompt, Prompt.id == Comparison.prompt_id)
        .join(ResponseA, ResponseA.id == Comparison.response_a_id)
        .join(ResponseB, ResponseB.id == Comparison.response_b_id)
        .outerjoin(User, User.id == Label.annotator_id)
        .where(Comparison.project_id == project_id, *label_conditions(filters))
        .order_by(Label.id)
    )
    if filters.min_agreement is not None:
        counts = aggregation.label_counts(project_id, label_conditions(filters))
        stmt = stmt.join(counts, counts.c.comparison_id == Label.comparison_id).where(
            aggregation.at_least(
                aggregation.largest_share_votes(counts), counts, filters.min_agreement
            )
        )
    return stmt


def raw_count(conn: Connection, project_id: int, filters: ExportFilters) -> int:
    stmt = select(func.count()).select_from(
        raw_select(project_id, filters).order_by(None).with_only_columns(Label.id).subquery()
    )
    return int(conn.scalar(stmt) or 0)


def trl_label_conditions(project_id: int, filters: ExportFilters) -> list[ColumnElement[bool]]:
    """The export's filters and the trust rule (app/queries/trusted_labels.py)."""
    return [*label_conditions(filters), *trusted_label_conditions(project_id, filters.trust)]


def _trl_outcomes(
    project_id: int, filters: ExportFilters, import_weight: float
) -> tuple[Any, ColumnElement[str], ColumnElement[int], ColumnElement[bool]]:
    by_model = filters.trust.aggregation is Aggregation.model
    weight = vote_weight_column(project_id, import_weight) if by_model else None
    counts = aggregation.label_counts(project_id, trl_label_conditions(project_id, filters), weight)
    if by_model:
        outcome = aggregation.model_outcome(counts)
        votes = aggregation.votes_for(outcome, counts)
    else:
        outcome = aggregation.outcome(counts)
        votes = aggregation.winning_votes(counts)
    agreed = (
        aggregation.at_least(votes, counts, filters.min_agreement)
        if filters.min_agreement is not None
        else true()
    )
    return counts, outcome, votes, agreed


def trl_select(
    project_id: int, filters: ExportFilters, import_weight: float = 1.0
) -> Select[*tuple[Any, ...]]:
    """One row per comparison whose passing labels have a non-tie majority, in comparison order.

    Columns: comparison id, messages (JSON text), text A, text B, outcome, labels, winning
    votes, margin sum and strength count for `better`, the same for `worse`.
    """
    counts, outcome, votes, agreed = _trl_outcomes(project_id, filters, import_weight)
    c = counts.c
    return (
        select(
            Comparison.id,
            cast(Prompt.messages, Text),
            ResponseA.text,
            ResponseB.text,
            outcome,
            c.n,
            votes,
            c.margin_better,
            c.strengths_better,
            c.margin_worse,
            c.strengths_worse,
        )
        .select_from(counts)
        .join(Comparison, Comparison.id == c.comparison_id)
        .join(Prompt, Prompt.id == Comparison.prompt_id)
        .join(ResponseA, ResponseA.id == Comparison.response_a_id)
        .join(ResponseB, ResponseB.id == Comparison.response_b_id)
        .where(outcome.in_(("better", "worse")), agreed)
        .order_by(Comparison.id)
    )


@dataclass(frozen=True)
class TrlCounts:
    written: int
    ties: int
    splits: int
    low_agreement: int


def trl_counts(
    conn: Connection, project_id: int, filters: ExportFilters, import_weight: float = 1.0
) -> TrlCounts:
    counts, outcome, _, agreed = _trl_outcomes(project_id, filters, import_weight)
    by_outcome: dict[tuple[str, bool], int] = {}
    classified = (
        select(outcome.label("outcome"), agreed.label("agreed"))
        .select_from(counts)
        .subquery("classified")
    )
    rows = conn.execute(
        select(classified.c.outcome, classified.c.agreed, func.count()).group_by(
            classified.c.outcome, classified.c.agreed
        )
    )
    for name, ok, number in rows:
        key = (str(name), bool(ok))
        by_outcome[key] = by_outcome.get(key, 0) + int(number)
    chosen = ("better", "worse")
    return TrlCounts(
        written=sum(n for (name, ok), n in by_outcome.items() if name in chosen and ok),
        ties=sum(n for (name, _), n in by_outcome.items() if name == aggregation.OUTCOME_TIE),
        splits=sum(n for (name, _), n in by_outcome.items() if name == aggregation.OUTCOME_SPLIT),
        low_agreement=sum(n for (name, ok), n in by_outcome.items() if name in chosen and not ok),
    )
