"""The jobs table as a queue: claim, lease, progress, and the ways a job ends."""

from __future__ import annotations

import math
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, JobMetric, utcnow
from app.queries import jobs as job_queries
from tests.factories import make_project
from tests.jobs.conftest import JobDatabase


def _job(db: Session, kind: str = "reward", max_attempts: int = 3, **params: object) -> Job:
    project = make_project(db)
    return job_queries.enqueue_job(
        db, project_id=project.id, kind=kind, params=params, max_attempts=max_attempts
    )


def test_claim_takes_the_oldest_queued_job_once(db: Session) -> None:
    first = _job(db)
    second = _job(db)

    claimed = job_queries.claim_next_job(db, "w1", lease_s=60)
    assert claimed is not None and claimed.id == first.id
    assert claimed.status == "running" and claimed.lease_owner == "w1"
    assert claimed.attempts == 1 and claimed.started_at is not None
    assert claimed.lease_expires_at is not None and claimed.lease_expires_at > utcnow()

    again = job_queries.claim_next_job(db, "w2", lease_s=60)
    assert again is not None and again.id == second.id
    assert job_queries.claim_next_job(db, "w3", lease_s=60) is None


def test_claim_can_be_limited_to_kinds(db: Session) -> None:
    _job(db, kind="ppo")
    wanted = _job(db, kind="generate")
    claimed = job_queries.claim_next_job(db, "w", lease_s=60, kinds=["generate"])
    assert claimed is not None and claimed.id == wanted.id


def test_progress_upserts_a_step_and_keeps_the_latest_metrics(db: Session) -> None:
    job = _job(db)
    job_queries.claim_next_job(db, "w", lease_s=60)
    job_queries.record_progress(db, job.id, "w", 5, 0.25, {"loss": 1.5, "lr": 1e-4})
    # A resumed job logs step 5 again: the row is updated, not duplicated.
    job_queries.record_progress(db, job.id, "w", 5, 0.3, {"loss": 1.25})
    job_queries.record_samples(db, job.id, "w", 5, [{"prompt": "p", "response": "r", "score": 0.5}])
    job_queries.record_progress(db, job.id, "w", 6, 7.0, {"loss": math.nan})

    rows = db.scalars(
        select(JobMetric).where(JobMetric.job_id == job.id).order_by(JobMetric.step)
    ).all()
    assert [r.step for r in rows] == [5, 6]
    assert rows[0].values["loss"] == 1.25 and rows[0].values["lr"] == 1e-4
    assert rows[0].values["samples"] == [{"prompt": "p", "response": "r", "score": 0.5}]
    assert rows[1].values == {"loss": None}
    db.refresh(job)
    assert job.progress == 1.0  # clamped
    assert job.metrics == {"loss": None, "lr": 1e-4}


def test_writes_need_the_lease(db: Session) -> None:
    job = _job(db)
    job_queries.claim_next_job(db, "w1", lease_s=60)
    with pytest.raises(job_queries.LeaseLost):
        job_queries.record_progress(db, job.id, "intruder", 1, 0.1, {"loss": 1.0})
    with pytest.raises(job_queries.LeaseLost):
        job_queries.complete_job(db, job.id, "intruder")


def test_heartbeat_extends_leases_and_reports_cancel(db: Session) -> None:
    job = _job(db)
    job_queries.claim_next_job(db, "w", lease_s=1)
    db.refresh(job)
    before = job.lease_expires_at
    assert before is not None
    flags = job_queries.renew_leases(db, "w", lease_s=600)
    assert flags == {job.id: False}
    db.refresh(job)
    assert job.lease_expires_at is not None and job.lease_expires_at > before + timedelta(
        seconds=500
    )
    job_queries.request_cancel(db, job)
    assert job_queries.renew_leases(db, "w", lease_s=600) == {job.id: True}
    assert job_queries.renew_leases(db, "someone-else", lease_s=600) == {}


def _expire(db: Session, job: Job) -> None:
    job.lease_expires_at = utcnow() - timedelta(seconds=1)
    db.flush()


def test_expired_leases_are_requeued_until_attempts_run_out(db: Session) -> None:
    job = _job(db, max_attempts=2)
    assert job_queries.claim_next_job(db, "dead-1", lease_s=60) is not None
    _expire(db, job)
    # The next claim re-queues it first, then takes it.
    again = job_queries.claim_next_job(db, "w2", lease_s=60)
    assert again is not None and again.id == job.id and again.attempts == 2
    assert "lost its worker" in (again.error or "")
    _expire(db, job)
    assert job_queries.claim_next_job(db, "w3", lease_s=60) is None
    db.refresh(job)
    assert job.status == "failed" and job.lease_owner is None and job.finished_at is not None
    assert job.error is not None and job.error.startswith("gave up after 2 attempts")
    assert "stopped renewing its lease" in job.error


def test_expired_lease_of_a_cancelled_job_ends_it(db: Session) -> None:
    job = _job(db)
    job_queries.claim_next_job(db, "dead", lease_s=60)
    job_queries.request_cancel(db, job)
    _expire(db, job)
    job_queries.requeue_expired(db)
    db.refresh(job)
    assert job.status == "cancelled"


def test_release_hands_the_job_back_without_using_an_attempt(db: Session) -> None:
    job = _job(db)
    job_queries.claim_next_job(db, "w", lease_s=60)
    job_queries.release_job(db, job.id, "w")
    db.refresh(job)
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)


def test_retry_or_fail(db: Session) -> None:
    job = _job(db, max_attempts=2)
    job_queries.claim_next_job(db, "w", lease_s=60)
    job_queries.retry_or_fail(db, job.id, "w", "RuntimeError: boom")
    db.refresh(job)
    assert job.status == "queued" and "will retry" in (job.error or "")
    job_queries.claim_next_job(db, "w", lease_s=60)
    job_queries.retry_or_fail(db, job.id, "w", "RuntimeError: boom")
    db.refresh(job)
    assert job.status == "failed"
    assert job.error == "gave up after 2 attempts; last error: RuntimeError: boom"


def test_cancel(db: Session) -> None:
    queued = _job(db)
    job_queries.request_cancel(db, queued)
    assert queued.status == "cancelled" and queued.finished_at is not None
    with pytest.raises(job_queries.JobFinished):
        job_queries.request_cancel(db, queued)

    parent = _job(db, kind="iterate")
    job_queries.claim_next_job(db, "w", lease_s=60)
    child = job_queries.enqueue_job(
        db,
        project_id=parent.project_id,
        kind="reward",
        params={},
        max_attempts=3,
        parent_job_id=parent.id,
    )
    job_queries.request_cancel(db, parent)
    assert parent.status == "running" and parent.cancel_requested
    assert child.status == "cancelled"
    job_queries.mark_cancelled(db, parent.id, "w")
    assert parent.status == "cancelled" and parent.lease_owner is None


def test_racing_claims_never_take_one_job_twice(job_db: JobDatabase) -> None:
    with job_db.session() as session, session.begin():
        project = make_project(session)
        ids = {
            job_queries.enqueue_job(
                session, project_id=project.id, kind="generate", params={}, max_attempts=3
            ).id
            for _ in range(60)
        }
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def claimer(name: str) -> None:
        start.wait()
        while True:
            with job_db.session() as session, session.begin():
                job = job_queries.claim_next_job(session, name, lease_s=60, kinds=["generate"])
                if job is None:
                    return
                with lock:
                    claimed.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)
    with job_db.session() as session:
        attempts = session.scalars(select(Job.attempts).where(Job.id.in_(ids))).all()
        assert set(attempts) == {1}
