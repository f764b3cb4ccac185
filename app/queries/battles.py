"""Battles for the leaderboard: labelled comparisons whose two responses come from different
named sources, counted per (source of A, source of B, choice, reward model's verdict).

A response's source is the model version that wrote it (generate and evaluate jobs), else the
name an import gave it (`pairs` rows' model_a / model_b); responses with neither are not from
a named source and their comparisons are no battles. Every label is a vote, as in Chatbot
Arena: a comparison labelled by three people is three battles.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.models import (
    Comparison,
    Label,
    ModelKind,
    ModelVersion,
    Project,
    Response,
    RewardScore,
)
from app.queries.trusted_labels import Trust, trusted_label_conditions

# The leaderboard's trusted view: the training rule, except that evaluation pairs count
# (they are what the leaderboard is for).
LEADERBOARD_TRUST = Trust(include_evaluation=True)

ResponseA = aliased(Response, name="battle_a")
ResponseB = aliased(Response, name="battle_b")
ScoreA = aliased(RewardScore, name="score_a")
ScoreB = aliased(RewardScore, name="score_b")


def _named(response: type[Response]) -> ColumnElement[bool]:
    return or_(response.model_version_id.is_not(None), response.model_name.is_not(None))


class BattleRow(NamedTuple):
    """``labels`` labels saying ``choice`` (B compared with A) about pairs whose A came from
    version ``version_a`` (else the import name ``name_a``) and B likewise; ``reward_choice``
    is the reward model's verdict on those pairs the same way round, None where unscored."""

    version_a: int | None
    name_a: str | None
    version_b: int | None
    name_b: str | None
    choice: str
    reward_choice: str | None
    labels: int


def battle_counts(
    session: Session,
    project_id: int,
    *,
    reward_version_id: int | None = None,
    annotator_ids: Collection[int] | None = None,
    after_label_id: int | None = None,
    up_to_label_id: int | None = None,
    trusted_only: bool = False,
) -> list[BattleRow]:
    """The project's battles, aggregated; ``reward_choice`` is that reward version's verdict
    (None where it scored neither response or only one). ``annotator_ids`` keeps only the
    labels of those people (imported labels, which have none, are then left out);
    ``after_label_id`` and ``up_to_label_id`` bound the label ids counted; ``trusted_only``
    keeps the labels the trust rule keeps (app/queries/trusted_labels.py): flagged and
    suspended annotators' labels and gold pairs are left out."""
    columns: list[Any] = [
        ResponseA.model_version_id,
        ResponseA.model_name,
        ResponseB.model_version_id,
        ResponseB.model_name,
        Label.choice,
    ]
    if reward_version_id is not None:
        difference = ScoreB.score - ScoreA.score
        columns.append(
            case(
                (ScoreA.score.is_(None) | ScoreB.score.is_(None), None),
                (difference > 0, "better"),
                (difference < 0, "worse"),
                else_="same",
            )
        )
    query = (
        select(*columns, func.count())
        .select_from(Label)
        .join(Comparison, Comparison.id == Label.comparison_id)
        .join(ResponseA, ResponseA.id == Comparison.response_a_id)
        .join(ResponseB, ResponseB.id == Comparison.response_b_id)
        .where(Comparison.project_id == project_id, _named(ResponseA), _named(ResponseB))
        .group_by(*columns)
    )
    if reward_version_id is not None:
        query = query.outerjoin(
            ScoreA,
            and_(ScoreA.response_id == ResponseA.id, ScoreA.reward_version_id == reward_version_id),
        ).outerjoin(
            ScoreB,
            and_(ScoreB.response_id == ResponseB.id, ScoreB.reward_version_id == reward_version_id),
        )
    if annotator_ids is not None:
        query = query.where(Label.annotator_id.in_(list(annotator_ids)))
    if trusted_only:
        query = query.where(*trusted_label_conditions(project_id, LEADERBOARD_TRUST))
    if after_label_id is not None:
        query = query.where(Label.id > after_label_id)
    if up_to_label_id is not None:
        query = query.where(Label.id <= up_to_label_id)
    rows = []
    for row in session.execute(query):
        va, na, vb, nb, choice = row[:5]
        reward_choice = row[5] if reward_version_id is not None else None
        rows.append(BattleRow(va, na, vb, nb, str(choice), reward_choice, int(row[-1])))
    return rows


class Watermarks(NamedTuple):
    """What changes when the battles may have changed: the newest label, the newest reward
    score, and the model versions (a deleted version's responses lose their source). Each is
    one index lookup, however large the tables."""

    label_id: int
    score_id: int
    versions: tuple[int, int]


def watermarks(session: Session) -> Watermarks:
    label_id = session.scalar(select(func.max(Label.id)))
    score_id = session.scalar(select(func.max(RewardScore.id)))
    versions = session.execute(select(func.max(ModelVersion.id), func.count())).one()
    return Watermarks(
        label_id=int(label_id or 0),
        score_id=int(score_id or 0),
        versions=(int(versions[0] or 0), int(versions[1] or 0)),
    )


def evaluation_source(job_id: int) -> str:
    """The ``source`` of the comparisons an evaluate job makes."""
    return f"evaluate:job-{job_id}"


def evaluation_pairs_of_job(session: Session, job_id: int) -> int:
    made = session.scalar(
        select(func.count())
        .select_from(Comparison)
        .where(Comparison.source == evaluation_source(job_id))
    )
    return int(made or 0)


def base_policy(session: Session, project: Project) -> ModelVersion | None:
    """The policy the project's versions grew from: the root of its current policy's lineage,
    else its oldest policy version without a parent."""
    version = (
        session.get(ModelVersion, project.policy_version_id)
        if project.policy_version_id is not None
        else None
    )
    seen: set[int] = set()
    while version is not None and version.parent_id is not None and version.id not in seen:
        seen.add(version.id)
        version = session.get(ModelVersion, version.parent_id)
    if version is not None:
        return version
    return session.scalar(
        select(ModelVersion)
        .where(
            ModelVersion.project_id == project.id,
            ModelVersion.kind == ModelKind.policy.value,
            ModelVersion.parent_id.is_(None),
        )
        .order_by(ModelVersion.id)
        .limit(1)
    )


def current_reward_version(session: Session, project: Project) -> ModelVersion | None:
    """The reward model whose verdicts stand beside the humans': the project's, else its latest."""
    if project.reward_version_id is not None:
        return session.get(ModelVersion, project.reward_version_id)
    return session.scalar(
        select(ModelVersion)
        .where(
            ModelVersion.project_id == project.id,
            ModelVersion.kind == ModelKind.reward.value,
        )
        .order_by(ModelVersion.id.desc())
        .limit(1)
    )


def version_names(session: Session, version_ids: Collection[int]) -> dict[int, str]:
    if not version_ids:
        return {}
    rows = session.execute(
        select(ModelVersion.id, ModelVersion.name).where(ModelVersion.id.in_(list(version_ids)))
    )
    return {int(version_id): str(name) for version_id, name in rows}
