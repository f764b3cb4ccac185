"""Evaluation pairs measure policies and never train them: out of reward training and the trl
export unless asked for; held-out prompts never reach PPO or generation."""

from __future__ import annotations

import hashlib

import orjson
from sqlalchemy.orm import Session

from app.db import session_scope
from app.models import Project
from app.queries.content import project_prompts
from app.queries.held_out import (
    HELD_OUT_SHARE,
    evaluation_prompts,
    is_held_out,
    training_prompts,
)
from app.queries.trusted_labels import Trust
from tests.api.committed import LiveApp, live
from tests.evaluation.seed import make_battle, make_version
from tests.factories import make_project, make_prompt
from trainer.jobs.reward import preference_examples

__all__ = ["live"]


def _trl(live: LiveApp, project_id: int, query: str = "") -> list[dict[str, object]]:
    response = live.client.get(
        f"/api/v1/projects/{project_id}/export?schema=trl{query}", headers=live.admin
    )
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.content.splitlines()]


def test_evaluation_pairs_stay_out_of_the_trl_export_unless_asked(live: LiveApp) -> None:
    project_id = live.new_project()
    with session_scope(live.engine) as session:
        project = session.get_one(Project, project_id)
        base = make_version(session, project, name="base")
        make_battle(session, project, a=base, b="other", choices=["better"], evaluation=True)
        kept = make_battle(session, project, a=base, b="x", choices=["worse"], evaluation=False)
        kept_id = kept.id
    rows = _trl(live, project_id)
    assert [r["comparison_id"] for r in rows] == [kept_id]
    assert len(_trl(live, project_id, "&include_evaluation=true")) == 2
    # The raw schema keeps every label.
    raw = live.client.get(f"/api/v1/projects/{project_id}/export", headers=live.admin)
    assert len(raw.content.splitlines()) == 2


def test_reward_training_leaves_evaluation_labels_out_unless_asked(db: Session) -> None:
    project = make_project(db)
    base = make_version(db, project, name="base")
    make_battle(db, project, a=base, b="other", choices=["better", "worse"], evaluation=True)
    trained = make_battle(db, project, a=base, b="x", choices=["worse"], evaluation=False)
    assert [e.group for e in preference_examples(db, project.id)] == [trained.id]
    assert len(preference_examples(db, project.id, Trust(include_evaluation=True))) == 3


def test_held_out_prompts_never_reach_training(db: Session) -> None:
    project = make_project(db)
    prompts = [
        make_prompt(db, project, messages=[{"role": "user", "content": f"prompt number {i}"}])
        for i in range(64)
    ]
    held_out = {p.id for p in prompts if is_held_out(p.content_hash)}
    assert 0 < len(held_out) < len(prompts)
    training = {pid for pid, _ in project_prompts(db, project.id)}
    assert training == {p.id for p in prompts} - held_out
    assert training == {pid for pid, _ in training_prompts(db, project.id)}
    assert {pid for pid, _ in evaluation_prompts(db, project.id)} == held_out
    # The share is fixed by the content hash: about one in eight.
    shares = [is_held_out(hashlib.sha256(str(i).encode()).hexdigest()) for i in range(16_000)]
    assert abs(sum(shares) / len(shares) - HELD_OUT_SHARE) < 0.01
