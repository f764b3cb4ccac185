"""What training jobs read from the labels: preference rows, one per label, with the prompt
and both responses of its comparison. Plain data, no torch: the trainer turns rows into its
own examples (`trainer.jobs.reward`).

Later filters (trusted annotators only, gold pairs left out, one aggregated row per
comparison) come as keyword-only arguments of `preference_rows`, so every job that trains
on labels reads them through this one query.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, true
from sqlalchemy.orm import Session, aliased

from app.models import Comparison, Label, Prompt, Response


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
    session: Session, project_id: int, *, include_evaluation: bool = False
) -> list[PreferenceRow]:
    """Every label of the project, human and imported, oldest first (so a comparison's
    labels stay in the order they were given). The labels of blind evaluation pairs only
    with ``include_evaluation``: what measures a policy should not also train the reward
    model that tunes it."""
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
        .where(
            Comparison.project_id == project_id,
            true() if include_evaluation else Comparison.evaluation.is_(False),
        )
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
