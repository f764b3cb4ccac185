"""A dpo job on the real default policy (SmolLM2-135M-Instruct, shipped on PyPI) on a few pairs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import Settings
from app.db import make_sessionmaker
from app.models import Job, ModelVersion
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from harness.databases import fresh_database, migrated_engine
from tests.jobs.conftest import JobDatabase
from tests.jobs.seed import labelled_project
from trainer.default_models import DEFAULT_POLICY
from trainer.policy import load_policy
from trainer.worker import run_worker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobDatabase]:
    """A job database whose settings name no policy: the default one is used."""
    data_dir = tmp_path_factory.mktemp("dpo-default")
    with fresh_database(data_dir) as url:
        engine = migrated_engine(url, data_dir)
        settings = Settings(
            database_url=url,
            data_dir=data_dir,
            secret_key="test-secret-key-that-is-long-enough-0123456789",
            job_lease_s=30,
            worker_poll_s=0.1,
        )
        assert settings.policy_model == DEFAULT_POLICY
        yield JobDatabase(engine, settings, make_sessionmaker(engine))
        engine.dispose()


def test_dpo_job_on_the_default_policy(default_db: JobDatabase) -> None:
    with default_db.session() as session, session.begin():
        project_id = labelled_project(session, comparisons=6, ties=1).id
        job_id = job_queries.enqueue_job(
            session,
            project_id=project_id,
            kind="dpo",
            params={"batch_size": 2, "max_length": 96, "lora_r": 4, "val_fraction": 0.25},
            max_attempts=1,
        ).id
    run_worker(
        default_db.settings, threading.Event(), once=True, worker_id="w", engine=default_db.engine
    )
    with default_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "succeeded", job.error
        version = version_queries.version_for_job(session, job_id)
        assert version is not None and version.base_model == DEFAULT_POLICY
        parent = session.get_one(ModelVersion, version.parent_id)
        assert parent.job_id is None and parent.base_model == DEFAULT_POLICY
        assert "accuracy" in version.metrics and version.metrics["n_val"] >= 1
        assert version.metrics["logps/chosen"] < 0
        path = Path(version_queries.resolve_path(default_db.settings.model_dir, version.path))
    tuned, tokenizer = load_policy(path)  # the adapter over the materialised default
    assert tuned.config.num_hidden_layers == 30 and tokenizer.eos_token == "<|im_end|>"
