"""Real `rlhf worker` processes: killed, stopped, cancelled and racing, on a committed database."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.models import Job, ModelVersion
from app.queries import jobs as job_queries
from harness.processes import kill_group
from tests.jobs.tiny_models import save_tiny_reward_base
from tests.worker.pool import Workers
from trainer.jobs.store import ModelStore

LEASE_S = 3


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_reward_base(tmp_path_factory.mktemp("tiny-reward"))


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def test_killed_worker_job_is_reclaimed_and_resumes_from_its_checkpoint(
    workers: Workers, tiny_base: Path
) -> None:
    job_id = workers.enqueue_reward(tiny_base, epochs=30, checkpoint_every=5, log_every=5)
    checkpoint = ModelStore(workers.data_dir / "models").checkpoint_dir(job_id) / "reward.pt"
    first = workers.start("doomed")
    workers.wait("a checkpoint", lambda: checkpoint.exists() and workers.job(job_id).progress > 0.2)
    kill_group(first, signal.SIGKILL)
    assert workers.job(job_id).status == "running"  # nobody knows yet

    second = workers.start("heir")
    workers.wait("the job to finish", lambda: workers.job(job_id).status == "succeeded", 120)
    assert _stop(second) == 0

    job = workers.job(job_id)
    assert job.attempts == 2 and job.progress == 1.0
    resumed = re.search(r"resuming reward training at step (\d+)", workers.log("heir"))
    assert resumed is not None and int(resumed.group(1)) >= 5
    with workers.sessions() as session:
        versions = session.scalars(select(ModelVersion).where(ModelVersion.job_id == job_id)).all()
        assert len(versions) == 1
        # No half-built copy is left in the store, and the one registered is complete.
        store = ModelStore(workers.data_dir / "models")
        assert store.is_complete(store.final_dir("reward", job_id))
        assert not list((workers.data_dir / "models" / ".tmp").glob(f"reward-job-{job_id}-*"))


def test_cancel_then_sigterm(workers: Workers, tiny_base: Path) -> None:
    """One worker: a cancelled job stops between steps and the worker goes on; then SIGTERM
    hands the next job back to the queue, its step saved, without using up an attempt."""
    cancelled = workers.enqueue_reward(tiny_base, epochs=400, log_every=5)
    handed_back = workers.enqueue_reward(tiny_base, epochs=400, checkpoint_every=1000, log_every=5)
    worker = workers.start("stopping")
    workers.wait("progress", lambda: workers.job(cancelled).progress > 0.01)
    with workers.sessions() as session, session.begin():
        job_queries.request_cancel(session, session.get_one(Job, cancelled))
    workers.wait("the cancel", lambda: workers.job(cancelled).status == "cancelled", 30)
    job = workers.job(cancelled)
    assert job.progress < 1.0 and job.finished_at is not None
    store = ModelStore(workers.data_dir / "models")
    # Removed right after the end is committed: a cancelled job never resumes.
    workers.wait("the checkpoint removal", lambda: not store.checkpoint_dir(cancelled).exists(), 10)

    # The worker goes on serving the queue.
    workers.wait("the next job", lambda: workers.job(handed_back).progress > 0.01)
    started = time.monotonic()
    assert _stop(worker) == 0
    assert time.monotonic() - started < 30
    job = workers.job(handed_back)
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)
    # The step it stopped at was saved, so the next worker resumes rather than restarts.
    assert (store.checkpoint_dir(handed_back) / "reward.pt").exists()
    assert "SIGTERM received" in workers.log("stopping")


@pytest.mark.postgres_only  # racing workers: PostgreSQL (SKIP LOCKED)
def test_two_racing_workers_never_run_one_job_twice(workers: Workers, tiny_base: Path) -> None:
    job_ids = [workers.enqueue_reward(tiny_base, comparisons=4, epochs=1) for _ in range(4)]
    racers = [workers.start("racer-a"), workers.start("racer-b")]

    def all_done() -> bool:
        with workers.sessions() as session:
            done = session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.id.in_(job_ids), Job.status == "succeeded")
            )
            return done == len(job_ids)

    workers.wait("all jobs", all_done, 180)
    for racer in racers:
        racer.send_signal(signal.SIGTERM)
    assert [racer.wait(timeout=60) for racer in racers] == [0, 0]
    runs = re.findall(r"running job (\d+)", workers.log("racer-a") + workers.log("racer-b"))
    assert sorted(int(r) for r in runs) == sorted(job_ids)
    with workers.sessions() as session:
        assert set(session.scalars(select(Job.attempts).where(Job.id.in_(job_ids)))) == {1}
        registered = session.scalars(
            select(ModelVersion.job_id).where(ModelVersion.job_id.in_(job_ids))
        ).all()
        assert sorted(registered) == sorted(job_ids)
