"""The models page: lineage, KL, reward-model score, human rating, the chart, the leaderboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Job, Role
from app.queries.reward_scores import store_reward_scores
from tests.auth_helpers import login
from tests.evaluation.seed import make_battle, make_version
from tests.factories import make_project, make_user

STARTED = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def _job(db: Session, project_id: int, kind: str, **fields: object) -> Job:
    job = Job(project_id=project_id, kind=kind, status="succeeded", params={}, **fields)
    db.add(job)
    db.flush()
    return job


def test_versions_show_lineage_kl_scores_and_ratings(client: TestClient, db: Session) -> None:
    project = make_project(db, name="page project")
    base = make_version(db, project, name="base-policy")
    reward_job = _job(db, project.id, "reward", started_at=STARTED)
    reward = make_version(db, project, name="reward-v1", kind="reward")
    reward.job_id, reward.metrics = reward_job.id, {"n_labels": 1500.0}
    ppo_job = _job(db, project.id, "ppo")
    tuned = make_version(db, project, name="policy-v2", parent=base, metrics={"eval/new/kl": 1.25})
    tuned.job_id, tuned.params = ppo_job.id, {"reward_version_id": reward.id}
    project.reward_version_id, project.policy_version_id = reward.id, tuned.id
    scores = []
    for choice in ["better"] * 6 + ["worse"] * 2:
        c = make_battle(db, project, a=base, b=tuned, choices=[choice])
        # The reward model agrees with the humans on every pair.
        b_score = 1.0 if choice == "better" else -3.0
        scores += [(c.response_a_id, -1.0, None), (c.response_b_id, b_score, None)]
    store_reward_scores(db, reward.id, scores)
    trainer = make_user(db, role=Role.trainer)
    db.flush()

    login(client, trainer.username)
    page = client.get(f"/models?project={project.id}")
    assert page.status_code == 200, page.text
    html = page.text
    row = re.search(r"<tr>\s*<th scope=\"row\">policy-v2.*?</tr>", html, re.S)
    assert row is not None
    cells = re.sub(r"<[^>]+>", " ", row.group(0))
    cells = " ".join(cells.split())
    assert f"PPO job #{ppo_job.id}" in cells and "(from base-policy)" in cells
    assert "reward-v1" in cells and "labels up to 2026-11-30 09:15 UTC (1500 labels)" in cells
    assert "1.250" in cells and "0.000 (8 responses)" in cells
    assert re.search(r"\d{3,4}\.\d \(\d{3,4}\.\d\u2013\d{3,4}\.\d\)", cells), cells
    # The chart: one human point and one reward-model point per version with a KL.
    assert html.count('class="human-dot"') == 2 and html.count('class="reward-dot"') == 2
    assert 'role="img"' in html
    table = html[html.index('class="jobs-table leaderboard-table"') :]
    assert table.index("policy-v2") < table.index("base-policy")
    assert "reward model 75 %" in table and "humans 75 %" in table and "agree 100 %" in table
    assert "rates it up, humans do not" not in table


def test_annotators_may_not_see_the_models_page(client: TestClient, db: Session) -> None:
    annotator = make_user(db, role=Role.annotator)
    db.flush()
    login(client, annotator.username)
    assert client.get("/models").status_code == 403
