"""Reward-model scores of responses: what the worker stores, and what pages read back.

Scores are written by the worker (the server never loads a model) for the responses of the
project's battles: comparisons whose two responses come from different named sources, labelled
or not yet, so that the reward model's verdict is there by the time the humans' is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, func, not_, or_, select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from app.models import Comparison, Prompt, Response, RewardScore, utcnow

# (response id, prompt messages, response text)
ToScore = tuple[int, list[dict[str, str]], str]


def battle_comparisons(project_id: int) -> Select[int, int]:
    """(response A id, response B id) of the project's battles: comparisons whose responses
    come from two different named sources (model versions, or import names)."""
    a, b = aliased(Response), aliased(Response)
    same_source = and_(
        func.coalesce(a.model_version_id, -1) == func.coalesce(b.model_version_id, -1),
        func.coalesce(a.model_name, "") == func.coalesce(b.model_name, ""),
    )
    return (
        select(Comparison.response_a_id, Comparison.response_b_id)
        .join(a, a.id == Comparison.response_a_id)
        .join(b, b.id == Comparison.response_b_id)
        .where(
            Comparison.project_id == project_id,
            or_(a.model_version_id.is_not(None), a.model_name.is_not(None)),
            or_(b.model_version_id.is_not(None), b.model_name.is_not(None)),
            not_(same_source),
        )
    )


def unscored_battle_responses(
    session: Session, project_id: int, reward_version_id: int, limit: int | None = None
) -> list[ToScore]:
    """Responses of the project's battles that this reward version has not scored yet."""
    pairs = battle_comparisons(project_id).subquery()
    ids = union(select(pairs.c.response_a_id), select(pairs.c.response_b_id)).subquery()
    scored = select(RewardScore.id).where(
        RewardScore.response_id == Response.id,
        RewardScore.reward_version_id == reward_version_id,
    )
    query = (
        select(Response.id, Prompt.messages, Response.text)
        .join(ids, ids.c[0] == Response.id)
        .join(Prompt, Prompt.id == Response.prompt_id)
        .where(~scored.exists())
        .order_by(Response.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(rid, list(messages), text) for rid, messages, text in session.execute(query)]


def store_reward_scores(
    session: Session,
    reward_version_id: int,
    scores: Sequence[tuple[int, float, float | None]],
) -> None:
    """Stores (response id, score, uncertainty) rows; a response scored already keeps its
    first score (two workers scoring the same battles at once do not fail)."""
    if not scores:
        return
    now = utcnow()
    rows = [
        {
            "reward_version_id": reward_version_id,
            "response_id": response_id,
            "score": score,
            "uncertainty": uncertainty,
            "created_at": now,
        }
        for response_id, score, uncertainty in scores
    ]
    statement: Any
    if session.get_bind().dialect.name == "postgresql":
        statement = postgresql.insert(RewardScore).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(RewardScore).on_conflict_do_nothing()
    session.execute(statement, rows)


def mean_scores_by_version(
    session: Session, project_id: int, reward_version_id: int
) -> dict[int, tuple[float, int]]:
    """{policy version id: (mean score, responses scored)} of the project's model-written
    responses scored by this reward version."""
    rows = session.execute(
        select(Response.model_version_id, func.avg(RewardScore.score), func.count())
        .join(RewardScore, RewardScore.response_id == Response.id)
        .join(Prompt, Prompt.id == Response.prompt_id)
        .where(
            Prompt.project_id == project_id,
            RewardScore.reward_version_id == reward_version_id,
            Response.model_version_id.is_not(None),
        )
        .group_by(Response.model_version_id)
    )
    return {int(vid): (float(mean), int(n)) for vid, mean, n in rows if vid is not None}
