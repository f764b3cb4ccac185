"""The reward job trains on trusted labels only and says in its metrics what it left out."""

from __future__ import annotations

from pathlib import Path

from app.models import AnnotatorStatus, Job
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from app.queries import quality as quality_queries
from tests.factories import make_comparison, make_label, make_user
from tests.jobs.conftest import JobDatabase
from tests.jobs.seed import labelled_project


def test_reward_job_leaves_out_gold_and_suspended_annotators(
    job_db: JobDatabase, tiny_reward_base: Path
) -> None:
    with job_db.session() as session, session.begin():
        project = labelled_project(session)  # 12 labels on 12 comparisons
        cheat = make_user(session)
        for _ in range(3):
            make_label(session, make_comparison(session, project), annotator=cheat)
        gold = make_comparison(session, project)
        gold.gold_choice = "better"
        make_label(session, gold, annotator=make_user(session), choice="better")
        quality_queries.set_status(
            session,
            project.id,
            cheat.id,
            AnnotatorStatus.suspended,
            reasons=["suspended by test"],
            actor="admin:test",
            manual=True,
        )
        job = job_queries.enqueue_job(
            session,
            project_id=project.id,
            kind="reward",
            params={
                "base_model": str(tiny_reward_base),
                "epochs": 1,
                "batch_size": 4,
                "max_length": 64,
                "val_fraction": 0.25,
            },
            max_attempts=1,
        )
        job_id = job.id

    assert job_db.run_worker_once() == 1

    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "succeeded", job.error
        version = version_queries.version_for_job(session, job_id)
        assert version is not None
        assert version.metrics["n_labels"] == 12.0
        assert version.metrics["left_out_flagged_labels"] == 3.0
        assert version.metrics["left_out_gold_comparisons"] == 1.0
        # The job brought the statuses up to date first, and kept the admin's suspension.
        assert quality_queries.is_suspended(session, project.id, cheat.id)
