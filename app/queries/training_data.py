"""What training jobs read from the labels: preference rows, one per label, with the prompt
and both responses of its comparison. Plain data, no torch: the trainer turns rows into its
own examples (`trainer.jobs.reward`).

Only trusted labels (app/queries/trusted_labels.py): gold pairs never, labels of flagged
and suspended annotators only with `include_flagged`; `aggregated_rows` gives one row per
pair instead, its labels combined by majority or by the latent-truth model, as the trl
export does. Every job that trains on labels reads them through these two queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.exporting.options import ExportFilters
from app.exporting.selects import trl_select
from app.models import Comparison, Label, Prompt, Response
from app.queries.trusted_labels import Trust, import_vote_weight, trusted_label_conditions


@dataclass(frozen=True)
class PreferenceRow:
    """One label and what it compared: `choice` is response B compared with response A."""

    label_id: int
    comparison_id: int
    # None for a label that came with imported data rather than from an annotator.
    annotator_id: int | None
    prompt: list[dict[str, str]]
    response_a: str
    response_b: str
    choice: str
    strength: str | None


def preference_rows(
    session: Session, project_id: int, *, trust: Trust | None = None
) -> list[PreferenceRow]:
    """Every trusted label of the project, human and imported, oldest first (so a
    comparison's labels stay in the order they were given)."""
    trust = trust or Trust()
    response_a = aliased(Response)
    response_b = aliased(Response)
    rows = session.execute(
        select(
            Label.id,
            Label.comparison_id,
            Label.annotator_id,
            Prompt.messages,
            response_a.text,
            response_b.text,
            Label.choice,
            Label.strength,
        )
        .join(Comparison, Label.comparison_id == Comparison.id)
        .join(Prompt, Comparison.prompt_id == Prompt.id)
        .join(response_a, Comparison.response_a_id == response_a.id)
        .join(response_b, Comparison.response_b_id == response_b.id)
        .where(Comparison.project_id == project_id, *trusted_label_conditions(project_id, trust))
        .order_by(Label.id)
    ).all()
    return [
        PreferenceRow(
            label_id=label_id,
            comparison_id=comparison_id,
            annotator_id=annotator_id,
            prompt=list(messages),
            response_a=text_a,
            response_b=text_b,
            choice=choice,
            strength=strength,
        )
        for label_id, comparison_id, annotator_id, messages, text_a, text_b, choice, strength in rows
    ]


def aggregated_rows(session: Session, project_id: int, *, trust: Trust) -> list[PreferenceRow]:
    """One row per trusted pair whose labels decide it (`trust.aggregation`): the rows of the
    trl export, ties and splits left out as there. `label_id` and `annotator_id` mean
    nothing here (0 and None), and strengths are not carried."""
    filters = ExportFilters(trust=trust)
    weight = import_vote_weight(session, project_id)
    return [
        PreferenceRow(
            label_id=0,
            comparison_id=row[0],
            annotator_id=None,
            prompt=list(orjson.loads(row[1])),
            response_a=row[2],
            response_b=row[3],
            choice=row[4],
            strength=None,
        )
        for row in session.execute(trl_select(project_id, filters, weight)).all()
    ]
