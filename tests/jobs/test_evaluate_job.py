"""evaluate jobs end to end in an in-process worker, with tiny real models."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.models import Comparison, Job, ModelVersion, Response, RewardScore
from app.queries import jobs as job_queries
from app.queries.held_out import evaluation_prompts, is_held_out
from app.queries.labels import LabelInput, record_label
from app.web.job_page import KEY_METRICS
from tests.factories import make_project, make_prompt, make_user
from tests.jobs.conftest import JobDatabase
from tests.jobs.tiny_models import save_tiny_policy

SETTINGS = {"max_new_tokens": 8, "batch_size": 4, "temperature": 1.0}


def test_evaluate_samples_each_version_and_queues_blind_scored_pairs(
    job_db: JobDatabase, tmp_path: Path, tiny_reward_base: Path
) -> None:
    other_policy = save_tiny_policy(tmp_path / "other", seed=1)
    third_policy = save_tiny_policy(tmp_path / "third", seed=2)
    with job_db.session() as session, session.begin():
        project = make_project(session)
        for i in range(40):
            make_prompt(session, project, messages=[{"role": "user", "content": f"ask {i}?"}])
        paths = (job_db.settings.policy_model, str(other_policy), str(third_policy))
        versions = [
            ModelVersion(project_id=project.id, kind="policy", name=f"secret-{i}",
                         base_model="tiny", path=path)
            for i, path in enumerate(paths)
        ]  # fmt: skip
        reward = ModelVersion(
            project_id=project.id,
            kind="reward",
            name="reward",
            base_model="tiny",
            path=str(tiny_reward_base),
        )
        session.add_all([*versions, reward])
        session.flush()
        project.reward_version_id = reward.id
        project_id, version_ids = project.id, [v.id for v in versions]
        held_out = [pid for pid, _ in evaluation_prompts(session, project.id)]
        job_id = job_queries.enqueue_job(
            session,
            project_id=project.id,
            kind="evaluate",
            params={"policy_version_ids": version_ids, "max_prompts": 4, **SETTINGS},
            max_attempts=2,
        ).id
    assert len(held_out) >= 4
    job_db.run_worker_once()

    a, b = aliased(Response), aliased(Response)
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "succeeded", job.error
        rows = session.execute(
            select(Comparison, a.model_version_id, b.model_version_id)
            .join(a, a.id == Comparison.response_a_id)
            .join(b, b.id == Comparison.response_b_id)
            .where(Comparison.source == f"evaluate:job-{job_id}")
        ).all()
        created = int(job.metrics["comparisons_created"])
        # The job page's first figures for the kind are metrics this job really writes.
        assert all(name in job.metrics for name, _ in KEY_METRICS["evaluate"])
        assert job.metrics["prompts"] == 4 and job.metrics["versions"] == 3
        assert created == len(rows) > 0
        assert created + job.metrics["identical"] + job.metrics["empty"] <= 4 * 3
        assert {c.prompt_id for c, _, _ in rows} <= set(held_out[:4])
        pairs = set()
        for comparison, version_a, version_b in rows:
            assert comparison.evaluation and comparison.priority == 10
            assert version_a != version_b and {version_a, version_b} <= set(version_ids)
            pairs.add((version_a, version_b))
        # A and B in random order: some pair of versions appears both ways round.
        assert any((y, x) in pairs for x, y in pairs)
        # The reward model scored every response of the new battles.
        responses = {c.response_a_id for c, _, _ in rows} | {c.response_b_id for c, _, _ in rows}
        scored = session.scalars(
            select(RewardScore.response_id).where(RewardScore.reward_version_id == reward.id)
        ).all()
        assert responses <= set(scored)
        assert job.metrics["scored_responses"] == len(responses)
        comparison_ids = [c.id for c, _, _ in rows]

    # Labels make battles: the leaderboard has the three versions and the reward verdicts.
    with job_db.session() as session, session.begin():
        rater = make_user(session)
        for n, comparison_id in enumerate(comparison_ids):
            record_label(
                session,
                LabelInput(comparison_id, rater.id, f"eval-key-{job_id}-{n}", "better", None, "",
                           False, False, False, False, None),
            )  # fmt: skip
    from app.leaderboard.project import project_leaderboard
    from app.models import Project

    with job_db.session() as session:
        board = project_leaderboard(session, session.get_one(Project, project_id)).board
        assert sum(e.battles for e in board.entries) == 2 * len(comparison_ids)
        assert board.reward_battles == len(comparison_ids)


def test_evaluate_refuses_a_project_without_held_out_prompts(job_db: JobDatabase) -> None:
    with job_db.session() as session, session.begin():
        project = make_project(session)
        prompt = make_prompt(session, project, messages=[{"role": "user", "content": "ask 3?"}])
        assert not is_held_out(prompt.content_hash)
        versions = [
            ModelVersion(project_id=project.id, kind="policy", name=f"v{i}", base_model="tiny",
                         path=job_db.settings.policy_model)
            for i in range(2)
        ]  # fmt: skip
        session.add_all(versions)
        session.flush()
        job_id = job_queries.enqueue_job(
            session,
            project_id=project.id,
            kind="evaluate",
            params={"policy_version_ids": [v.id for v in versions], **SETTINGS},
            max_attempts=2,
        ).id
    job_db.run_worker_once()
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "failed" and "held-out evaluation prompts" in (job.error or "")
        assert session.scalar(select(func.count()).select_from(Comparison).where(
            Comparison.source == f"evaluate:job-{job_id}")) == 0  # fmt: skip
