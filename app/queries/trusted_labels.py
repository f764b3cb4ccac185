"""Only trusted labels: the one rule for what training and trl exports may learn from.

Every reader of labels for learning calls this module: the trl export (app/exporting), the
in-loop reward job (trainer/jobs/reward.py), DPO and the leaderboard's `trusted_only` view
(app/queries/battles.py, with `include_evaluation`: its battles are evaluation pairs). By
default:

- gold pairs are left out (their answer is known already, and they were shown to many
  annotators on purpose, so they would weigh far more than other pairs);
- labels of annotators whose status in the project is `flagged` or `suspended` are left out,
  unless `include_flagged` (imported labels, which have no annotator, always count);
- blind evaluation pairs (an `evaluate` job's) are left out unless `include_evaluation`: they
  measure policies, and a reward model or policy trained on them would spoil the measurement.

`aggregation` says how one pair's labels become one answer: `majority` (more than half) or
`model`, the latent-truth model's weighted vote (each label weighs its annotator's
`vote_weight`, the log-odds of being right, from the last reliability computation).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Float, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from app.models import (
    AnnotatorQuality,
    AnnotatorStatusEvent,
    Comparison,
    Label,
    ReliabilitySnapshot,
)
from app.queries.quality import UNTRUSTED


class Aggregation(enum.StrEnum):
    majority = "majority"
    model = "model"


@dataclass(frozen=True)
class Trust:
    include_flagged: bool = False
    aggregation: Aggregation = Aggregation.majority
    include_evaluation: bool = False


def untrusted_annotators(project_id: int) -> Any:
    """The project's flagged and suspended annotators, as a subquery of user ids."""
    return select(AnnotatorQuality.user_id).where(
        AnnotatorQuality.project_id == project_id, AnnotatorQuality.status.in_(UNTRUSTED)
    )


def trusted_label_conditions(project_id: int, trust: Trust) -> list[ColumnElement[bool]]:
    """Conditions on `Label` (joined to its `Comparison`) that keep only trusted labels."""
    conditions: list[ColumnElement[bool]] = [Comparison.gold_choice.is_(None)]
    if not trust.include_evaluation:
        conditions.append(Comparison.evaluation.is_(False))
    if not trust.include_flagged:
        conditions.append(
            or_(
                Label.annotator_id.is_(None),
                Label.annotator_id.not_in(untrusted_annotators(project_id)),
            )
        )
    return conditions


def trust_watermark(session: Session, project_id: int) -> int:
    """Grows whenever an annotator's status in the project changes (every change is recorded
    as an event), which is when the rule's answer about existing labels can change: a cache
    of trusted counts is good while this and the newest label id stay put. A gold answer set
    or cleared later is not seen here; such caches also expire by age."""
    found = session.scalar(
        select(func.max(AnnotatorStatusEvent.id)).where(
            AnnotatorStatusEvent.project_id == project_id
        )
    )
    return int(found or 0)


def vote_weight_column(project_id: int, import_weight: float) -> ColumnElement[float]:
    """A label's weight in `model` aggregation (a correlated lookup of its annotator's)."""
    weight = (
        select(AnnotatorQuality.vote_weight)
        .where(
            AnnotatorQuality.project_id == project_id,
            AnnotatorQuality.user_id == Label.annotator_id,
        )
        .scalar_subquery()
    )
    return func.coalesce(weight, literal(import_weight, Float))


def import_vote_weight(session_or_conn: Session | Connection, project_id: int) -> float:
    """The weight of an imported label, as the last computation estimated it (default 1)."""
    body = session_or_conn.execute(
        select(ReliabilitySnapshot.body).where(ReliabilitySnapshot.project_id == project_id)
    ).scalar()
    if not body:
        return 1.0
    return float(body.get("project", {}).get("import_vote_weight") or 1.0)


@dataclass(frozen=True)
class LeftOut:
    # Labels of flagged or suspended annotators that the other filters would have kept.
    flagged_labels: int
    # Gold comparisons with at least one such label.
    gold_comparisons: int

    def as_dict(self) -> dict[str, int]:
        return {"flagged_labels": self.flagged_labels, "gold_comparisons": self.gold_comparisons}


def left_out(
    conn: Session | Connection,
    project_id: int,
    trust: Trust,
    other_conditions: list[ColumnElement[bool]] | None = None,
) -> LeftOut:
    """What the trust rule leaves out of the labels that `other_conditions` keep."""
    base = [Comparison.project_id == project_id, *(other_conditions or [])]
    flagged = 0
    if not trust.include_flagged:
        flagged = int(
            conn.execute(
                select(func.count())
                .select_from(Label)
                .join(Comparison, Comparison.id == Label.comparison_id)
                .where(
                    *base,
                    Comparison.gold_choice.is_(None),
                    Label.annotator_id.in_(untrusted_annotators(project_id)),
                )
            ).scalar()
            or 0
        )
    gold = int(
        conn.execute(
            select(func.count(func.distinct(Label.comparison_id)))
            .join(Comparison, Comparison.id == Label.comparison_id)
            .where(and_(*base), Comparison.gold_choice.is_not(None))
        ).scalar()
        or 0
    )
    return LeftOut(flagged_labels=flagged, gold_comparisons=gold)
