"""Reward jobs end to end in an in-process worker: real training of a tiny model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.models import Job, JobMetric, ModelVersion, Project
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from tests.factories import make_project
from tests.jobs.conftest import JobDatabase
from tests.jobs.seed import labelled_project
from trainer.jobs.store import MANIFEST, ModelStore


def _reward_params(base: Path, **extra: object) -> dict[str, object]:
    return {
        "base_model": str(base),
        "epochs": 2,
        "batch_size": 4,
        "max_length": 64,
        "log_every": 1,
        "val_fraction": 0.25,
        **extra,
    }


def _enqueue(
    job_db: JobDatabase, project_id: int, params: dict[str, object], attempts: int = 3
) -> int:
    with job_db.session() as session, session.begin():
        job = job_queries.enqueue_job(
            session, project_id=project_id, kind="reward", params=params, max_attempts=attempts
        )
        return job.id


def test_reward_job_registers_a_version_and_makes_it_current(
    job_db: JobDatabase, tiny_reward_base: Path
) -> None:
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session).id
    job_id = _enqueue(job_db, project_id, _reward_params(tiny_reward_base))

    assert job_db.run_worker_once() == 1

    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.progress, job.error) == ("succeeded", 1.0, None)
        assert job.attempts == 1 and job.lease_owner is None and job.finished_at is not None
        version = version_queries.version_for_job(session, job_id)
        assert version is not None and version.kind == "reward"
        assert 0.0 <= version.metrics["accuracy"] <= 1.0
        assert version.metrics["n_labels"] == 12.0
        assert version.params["base_model"] == str(tiny_reward_base)
        assert version.params["epochs"] == 2
        assert session.get_one(Project, project_id).reward_version_id == version.id
        steps = session.scalars(select(JobMetric.step).where(JobMetric.job_id == job_id)).all()
        assert len(steps) >= 2 and len(set(steps)) == len(steps)
        assert "train_loss" in job.metrics
        # The weights lie in the model store, complete, and the checkpoint is gone.
        path = Path(version_queries.resolve_path(job_db.settings.model_dir, version.path))
        assert not Path(version.path).is_absolute()
        assert (path / MANIFEST).is_file() and (path / "config.json").is_file()
        assert not ModelStore(job_db.settings.model_dir).checkpoint_dir(job_id).exists()


def test_reclaimed_job_with_a_published_dir_registers_it_without_training(
    job_db: JobDatabase, tiny_reward_base: Path
) -> None:
    """The worker died after the rename but before the registration: no retraining."""
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session).id
    job_id = _enqueue(job_db, project_id, _reward_params(tiny_reward_base))
    store = ModelStore(job_db.settings.model_dir)
    final = store.final_dir("reward", job_id)
    shutil.copytree(tiny_reward_base, final)
    manifest = {
        "kind": "reward",
        "job_id": job_id,
        "base_model": "tiny",
        "metrics": {"accuracy": 0.75},
        "params": {"epochs": 2},
    }
    (final / MANIFEST).write_text(json.dumps(manifest))

    job_db.run_worker_once()

    with job_db.session() as session:
        assert session.get_one(Job, job_id).status == "succeeded"
        version = version_queries.version_for_job(session, job_id)
        assert version is not None and version.metrics == {"accuracy": 0.75}
        trained_steps = session.scalar(
            select(func.count()).select_from(JobMetric).where(JobMetric.job_id == job_id)
        )
        assert trained_steps == 0


def test_reward_job_without_labels_fails_at_once_saying_why(job_db: JobDatabase) -> None:
    with job_db.session() as session, session.begin():
        project_id = make_project(session, name="no labels here").id
    job_id = _enqueue(job_db, project_id, {})
    job_db.run_worker_once()
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "failed" and job.attempts == 1
        assert "0 labelled comparisons" in (job.error or "")
        assert (
            session.scalar(
                select(func.count()).select_from(ModelVersion).where(ModelVersion.job_id == job_id)
            )
            == 0
        )


def test_a_job_that_keeps_crashing_stops_after_max_attempts(
    job_db: JobDatabase, tmp_path: Path
) -> None:
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session, comparisons=4).id
    missing = tmp_path / "no-such-model"
    job_id = _enqueue(job_db, project_id, {"base_model": str(missing)}, attempts=2)

    job_db.run_worker_once()
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.attempts) == ("queued", 1)
        assert "will retry" in (job.error or "")
    job_db.run_worker_once()
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.attempts) == ("failed", 2)
        assert (job.error or "").startswith("gave up after 2 attempts; last error:")
        assert str(missing) in (job.error or "") or "no-such-model" in (job.error or "")


@pytest.mark.slow
def test_reward_job_on_the_default_reward_model(job_db: JobDatabase) -> None:
    """No base_model given: the default (all-MiniLM-L6-v2, shipped on PyPI) is trained."""
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session, comparisons=4, ties=1).id
    job_id = _enqueue(job_db, project_id, {"batch_size": 4, "max_length": 32})
    job_db.run_worker_once()
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "succeeded", job.error
        version = version_queries.version_for_job(session, job_id)
        assert version is not None and version.base_model == "all-minilm-l6-v2"
        assert "accuracy" in version.metrics
