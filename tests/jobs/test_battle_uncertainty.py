"""An ensemble reward model's spread is stored beside its scores of battle responses."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ModelVersion, RewardScore
from app.queries.content import add_comparison, get_or_create_prompt, get_or_create_response
from app.queries.reward_scores import store_reward_scores, unscored_battle_responses
from tests.factories import make_project
from tests.trainer.reward.tiny_model import build_tiny_reward_model
from trainer.jobs.battle_scores import scores_with_uncertainty
from trainer.reward.scoring import RewardScorer


def _score_battles(db: Session, project_id: int, model_dir: Path) -> list[RewardScore]:
    reward = ModelVersion(
        project_id=project_id, kind="reward", name=model_dir.name, base_model="tiny",
        path=str(model_dir),
    )  # fmt: skip
    db.add(reward)
    db.flush()
    todo = unscored_battle_responses(db, project_id, reward.id)
    scored = scores_with_uncertainty(
        RewardScorer(model_dir), [m for _, m, _ in todo], [t for *_, t in todo]
    )
    store_reward_scores(
        db, reward.id, [(r[0], s, u) for r, (s, u) in zip(todo, scored, strict=True)]
    )
    return list(db.scalars(select(RewardScore).where(RewardScore.reward_version_id == reward.id)))


def test_ensemble_spread_is_stored_and_a_single_head_stores_none(
    db: Session, tmp_path: Path
) -> None:
    project = make_project(db)
    prompt = get_or_create_prompt(db, project.id, [{"role": "user", "content": "hi?"}], "t")
    a = get_or_create_response(db, prompt, "hello there", "t")
    b = get_or_create_response(db, prompt, "go away", "t")
    a.model_name, b.model_name = "small", "large"
    add_comparison(db, project.id, prompt, a, b, source="t")
    db.flush()

    ensemble = _score_battles(db, project.id, build_tiny_reward_model(tmp_path / "e", 3))
    assert len(ensemble) == 2
    assert all(r.uncertainty is not None and r.uncertainty > 0 for r in ensemble)
    single = _score_battles(db, project.id, build_tiny_reward_model(tmp_path / "s"))
    assert len(single) == 2 and all(r.uncertainty is None for r in single)
