"""generate, ppo and iterate jobs end to end in an in-process worker, with tiny real models."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import aliased

from app.models import Comparison, Job, JobMetric, ModelVersion, Project, Prompt, Response
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from app.web.job_page import KEY_METRICS
from tests.jobs.conftest import JobDatabase
from tests.jobs.seed import labelled_project, project_with_prompts
from tests.jobs.tiny_models import save_tiny_policy

GENERATION = {"max_new_tokens": 8, "batch_size": 4, "temperature": 1.0}
PPO = {
    "total_steps": 2,
    "batch_size": 4,
    "num_mini_batches": 2,
    "ppo_epochs": 1,
    "response_length": 8,
    "eval_prompts": 2,
    "lora_r": 4,
    "lora_alpha": 8,
    "max_prompt_tokens": 64,
    "sample_every": 1,
}


def _enqueue(job_db: JobDatabase, project_id: int, kind: str, params: dict[str, object]) -> int:
    with job_db.session() as session, session.begin():
        return job_queries.enqueue_job(
            session, project_id=project_id, kind=kind, params=params, max_attempts=2
        ).id


def _pairs(job_db: JobDatabase, job_id: int) -> list[tuple[str, str, int | None, int | None]]:
    a, b = aliased(Response), aliased(Response)
    with job_db.session() as session:
        rows = session.execute(
            select(a.text, b.text, a.model_version_id, b.model_version_id)
            .select_from(Comparison)
            .join(a, Comparison.response_a_id == a.id)
            .join(b, Comparison.response_b_id == b.id)
            .where(Comparison.source == f"generate:job-{job_id}")
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_generate_makes_comparisons_that_name_their_policy_version(job_db: JobDatabase) -> None:
    with job_db.session() as session, session.begin():
        project_id = project_with_prompts(session, prompts=4).id
    job_id = _enqueue(job_db, project_id, "generate", GENERATION)
    job_db.run_worker_once()

    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "succeeded", job.error
        default = session.scalars(
            select(ModelVersion).where(ModelVersion.project_id == project_id)
        ).one()
        # The default policy got its version row on first use, pointing at its weights.
        assert default.kind == "policy" and default.job_id is None
        assert default.base_model == job_db.settings.policy_model
    pairs = _pairs(job_db, job_id)
    assert pairs and len(pairs) == job.metrics["comparisons_created"]
    # The job page's first figures for the kind are metrics this job really writes.
    assert all(name in job.metrics for name, _ in KEY_METRICS["generate"])
    for text_a, text_b, version_a, version_b in pairs:
        assert text_a != text_b
        assert version_a == version_b == default.id

    # The same seed samples the same pairs again: nothing is enqueued twice.
    again = _enqueue(job_db, project_id, "generate", GENERATION)
    job_db.run_worker_once()
    with job_db.session() as session:
        assert session.get_one(Job, again).metrics["comparisons_created"] == 0
        assert (
            len(
                session.scalars(
                    select(ModelVersion).where(ModelVersion.project_id == project_id)
                ).all()
            )
            == 1
        )


def test_generate_from_two_versions_on_given_prompts(job_db: JobDatabase, tmp_path: Path) -> None:
    other_policy = save_tiny_policy(tmp_path / "other", seed=1)
    with job_db.session() as session, session.begin():
        project = project_with_prompts(session, prompts=1)
        first = ModelVersion(
            project_id=project.id,
            kind="policy",
            name="a",
            base_model="tiny",
            path=job_db.settings.policy_model,
        )
        second = ModelVersion(
            project_id=project.id,
            kind="policy",
            name="b",
            base_model="tiny",
            path=str(other_policy),
        )
        session.add_all([first, second])
        session.flush()
        project_id, first_id, second_id = project.id, first.id, second.id
    params = {
        **GENERATION,
        "policy_version_id": first_id,
        "policy_b_version_id": second_id,
        "prompts": ["what is tea?", [{"role": "user", "content": "and snow?"}]],
    }
    job_id = _enqueue(job_db, project_id, "generate", params)
    job_db.run_worker_once()

    with job_db.session() as session:
        assert session.get_one(Job, job_id).status == "succeeded"
        prompts = session.scalars(
            select(Prompt.messages).where(Prompt.project_id == project_id)
        ).all()
        assert [{"role": "user", "content": "what is tea?"}] in prompts
    pairs = _pairs(job_db, job_id)
    assert pairs
    assert all((va, vb) == (first_id, second_id) for _, _, va, vb in pairs)


def test_generate_with_an_unknown_version_fails_saying_why(job_db: JobDatabase) -> None:
    with job_db.session() as session, session.begin():
        project_id = project_with_prompts(session, prompts=1).id
    job_id = _enqueue(job_db, project_id, "generate", {"policy_version_id": 987654})
    job_db.run_worker_once()
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "failed" and job.error == "no model version 987654"


def test_iterate_runs_reward_ppo_generate_as_child_jobs(
    job_db: JobDatabase, tiny_reward_base: Path
) -> None:
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session, comparisons=8).id
    params = {
        "reward": {"base_model": str(tiny_reward_base), "batch_size": 4, "max_length": 64},
        "ppo": PPO,
        "generate": {**GENERATION, "max_prompts": 4},
    }
    parent_id = _enqueue(job_db, project_id, "iterate", params)
    job_db.run_worker_once()

    with job_db.session() as session:
        parent = session.get_one(Job, parent_id)
        assert parent.status == "succeeded", parent.error
        assert parent.progress == 1.0 and "reward/accuracy" in parent.metrics
        children = job_queries.child_jobs(session, parent_id)
        assert [(c.kind, c.status) for c in children] == [
            ("reward", "succeeded"),
            ("ppo", "succeeded"),
            ("generate", "succeeded"),
        ]
        reward = version_queries.version_for_job(session, children[0].id)
        tuned = version_queries.version_for_job(session, children[1].id)
        assert reward is not None and tuned is not None
        assert children[1].params["reward_version_id"] == reward.id
        assert children[2].params["policy_version_id"] == tuned.id
        # PPO made a new policy whose parent is the default policy's version.
        parent_version = session.get_one(ModelVersion, tuned.parent_id)
        assert parent_version.job_id is None and parent_version.kind == "policy"
        assert "objective/kl" in tuned.metrics and "objective/scores" in tuned.metrics
        project = session.get_one(Project, project_id)
        assert (project.reward_version_id, project.policy_version_id) == (reward.id, tuned.id)
        samples = [
            row.values["samples"]
            for row in session.scalars(select(JobMetric).where(JobMetric.job_id == children[1].id))
            if "samples" in row.values
        ]
        assert samples and "response" in samples[0][0]
    # The new comparisons were sampled from the tuned policy (a LoRA adapter over the default).
    pairs = _pairs(job_db, children[2].id)
    assert pairs and all(va == vb == tuned.id for _, _, va, vb in pairs)
