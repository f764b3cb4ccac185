"""Workers SIGKILLed in the middle of a PPO or DPO job, and a job whose worker keeps dying.

tests/worker/ already kills a worker in the middle of a reward job; this adds the PPO job
(a tiny random policy against a tiny random reward model), the DPO job (the tiny policy on
labelled pairs) and the job that never survives: it must stop after its maximum attempts
and say why.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
import torch
from sqlalchemy import select

from app.models import ModelVersion
from app.queries import jobs as job_queries
from harness.processes import kill_group
from tests.jobs.seed import labelled_project, project_with_prompts
from tests.jobs.tiny_models import save_tiny_policy, save_tiny_reward_base
from tests.worker.pool import Workers
from trainer.dpo.checkpoint import CHECKPOINT_FILE as DPO_CHECKPOINT_FILE
from trainer.jobs.store import ModelStore
from trainer.ppo.checkpoint import CHECKPOINT_FILE

PPO = {
    "total_steps": 24,
    "batch_size": 4,
    "num_mini_batches": 2,
    "ppo_epochs": 1,
    "response_length": 8,
    "eval_prompts": 2,
    "checkpoint_every": 2,
    "sample_every": 100,
    "lora_r": 4,
    "lora_alpha": 8,
}

# Many short steps, so that the kill lands well before the end, with a checkpoint every few.
DPO = {
    "epochs": 12,
    "batch_size": 2,
    "learning_rate": 5e-3,
    "lora_r": 4,
    "lora_alpha": 8,
    "max_length": 96,
    "val_fraction": 0.25,
    "checkpoint_every": 4,
}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    policy = save_tiny_policy(tmp_path_factory.mktemp("tiny-policy"))
    reward = save_tiny_reward_base(tmp_path_factory.mktemp("tiny-reward"))
    return policy, reward


def _enqueue_ppo(workers: Workers, tiny_models: tuple[Path, Path], max_attempts: int) -> int:
    policy_dir, reward_dir = tiny_models
    with workers.sessions() as session, session.begin():
        project = project_with_prompts(session, prompts=8)
        versions = [
            ModelVersion(
                project_id=project.id,
                kind=kind,
                name=f"tiny {kind}",
                base_model="tiny",
                path=str(path),
            )
            for kind, path in (("policy", policy_dir), ("reward", reward_dir))
        ]
        session.add_all(versions)
        session.flush()
        return job_queries.enqueue_job(
            session,
            project_id=project.id,
            kind="ppo",
            params={
                **PPO,
                "policy_version_id": versions[0].id,
                "reward_version_id": versions[1].id,
            },
            max_attempts=max_attempts,
        ).id


def _checkpoint_step(path: Path) -> int:
    state = torch.load(path, map_location="cpu", weights_only=False)
    return int(state["step"])


def test_sigkilled_ppo_job_resumes_from_its_checkpoint_on_another_worker(
    workers: Workers, tiny_models: tuple[Path, Path]
) -> None:
    job_id = _enqueue_ppo(workers, tiny_models, max_attempts=3)
    store = ModelStore(workers.data_dir / "models")
    checkpoint = store.checkpoint_dir(job_id) / CHECKPOINT_FILE
    first = workers.start("ppo-doomed")
    workers.wait(
        "a PPO checkpoint", lambda: checkpoint.exists() and workers.job(job_id).progress >= 0.25
    )
    kill_group(first, signal.SIGKILL)
    saved_step = _checkpoint_step(checkpoint)
    assert 0 < saved_step < PPO["total_steps"]
    assert workers.job(job_id).status == "running"  # nobody knows yet

    heir = workers.start("ppo-heir")
    # Until the heir has made a step of its own, progress may only go forward from the
    # checkpoint: a restart from scratch would report step 1 of 24 again.
    lowest = 1.0

    def finished() -> bool:
        nonlocal lowest
        job = workers.job(job_id)
        if job.lease_owner == "ppo-heir" and job.status == "running":
            lowest = min(lowest, job.progress)
        return job.status in ("succeeded", "failed")

    workers.wait("the PPO job to finish", finished, 240)
    heir.send_signal(signal.SIGTERM)
    assert heir.wait(timeout=60) == 0
    job = workers.job(job_id)
    assert job.status == "succeeded", job.error
    assert job.attempts == 2 and job.progress == 1.0
    assert lowest >= saved_step / PPO["total_steps"], (lowest, saved_step)
    with workers.sessions() as session:
        versions = session.scalars(select(ModelVersion).where(ModelVersion.job_id == job_id)).all()
        assert len(versions) == 1
        assert versions[0].metrics["steps"] == PPO["total_steps"]
    final = store.final_dir("policy", job_id)
    assert store.is_complete(final)
    # Nothing half-built left in the store, and the checkpoint went with the finished job.
    assert not list((workers.data_dir / "models" / ".tmp").glob(f"*job-{job_id}-*"))
    print(f"\nworker crash: PPO job killed after step {saved_step}, finished by another worker")


def test_a_job_whose_worker_always_dies_stops_after_max_attempts(
    workers: Workers, tiny_models: tuple[Path, Path]
) -> None:
    job_id = _enqueue_ppo(workers, tiny_models, max_attempts=2)
    for attempt in (1, 2):
        doomed = workers.start(f"always-dies-{attempt}")
        workers.wait(
            f"attempt {attempt} to start",
            lambda a=attempt: (
                (workers.job(job_id).attempts == a) and workers.job(job_id).status == "running"
            ),
        )
        kill_group(doomed, signal.SIGKILL)
    # A worker that comes by after the lease expired finds no attempt left.
    sweeper = workers.start("sweeper")
    workers.wait("the job to be given up", lambda: workers.job(job_id).status == "failed", 60)
    sweeper.send_signal(signal.SIGTERM)
    assert sweeper.wait(timeout=60) == 0
    job = workers.job(job_id)
    assert job.attempts == 2
    assert job.error and "attempt" in job.error, job.error
    with workers.sessions() as session:
        assert session.scalar(select(ModelVersion).where(ModelVersion.job_id == job_id)) is None
    print(f"\nworker crash: job given up after 2 killed attempts: {job.error!r}")


def _enqueue_dpo(workers: Workers, policy_dir: Path) -> tuple[int, int]:
    """A dpo job from a given starting policy version; returns the job's and the version's ids."""
    with workers.sessions() as session, session.begin():
        project = labelled_project(session, comparisons=12, ties=0)
        start = ModelVersion(
            project_id=project.id,
            kind="policy",
            name="tiny start",
            base_model="tiny",
            path=str(policy_dir),
        )
        session.add(start)
        session.flush()
        job = job_queries.enqueue_job(
            session,
            project_id=project.id,
            kind="dpo",
            params={**DPO, "policy_version_id": start.id},
            max_attempts=3,
        )
        return job.id, start.id


def test_sigkilled_dpo_job_resumes_from_its_checkpoint_on_another_worker(
    workers: Workers, tiny_models: tuple[Path, Path]
) -> None:
    job_id, start_id = _enqueue_dpo(workers, tiny_models[0])
    store = ModelStore(workers.data_dir / "models")
    checkpoint = store.checkpoint_dir(job_id) / DPO_CHECKPOINT_FILE
    first = workers.start("dpo-doomed")
    workers.wait(
        "a DPO checkpoint", lambda: checkpoint.exists() and workers.job(job_id).progress >= 0.2
    )
    kill_group(first, signal.SIGKILL)
    saved_step = _checkpoint_step(checkpoint)
    killed_at = workers.job(job_id)
    assert killed_at.status == "running" and killed_at.progress < 1.0  # nobody knows yet
    assert saved_step > 0
    assert "computing reference log-probs" in workers.log("dpo-doomed")

    heir = workers.start("dpo-heir")
    lowest = 1.0

    def finished() -> bool:
        nonlocal lowest
        job = workers.job(job_id)
        if job.lease_owner == "dpo-heir" and job.status == "running":
            lowest = min(lowest, job.progress)
        return job.status in ("succeeded", "failed")

    workers.wait("the DPO job to finish", finished, 240)
    heir.send_signal(signal.SIGTERM)
    assert heir.wait(timeout=60) == 0
    job = workers.job(job_id)
    assert job.status == "succeeded", job.error
    assert job.attempts == 2 and job.progress == 1.0

    log = workers.log("dpo-heir")
    resumed = re.search(r"resuming DPO at step (\d+) of (\d+)", log)
    assert resumed is not None, log[-3000:]
    resumed_step, total_steps = int(resumed.group(1)), int(resumed.group(2))
    # The heir went on from the checkpoint the dead worker left, with the reference log-probs
    # saved in it: not recomputed, and no step before the checkpoint reported again.
    assert resumed_step == saved_step and 0 < saved_step < total_steps
    assert "computing reference log-probs" not in log
    assert lowest >= saved_step / total_steps, (lowest, saved_step, total_steps)
    with workers.sessions() as session:
        versions = session.scalars(select(ModelVersion).where(ModelVersion.job_id == job_id)).all()
        assert len(versions) == 1
        assert versions[0].kind == "policy" and versions[0].parent_id == start_id
        assert versions[0].metrics["steps"] == total_steps
    assert store.is_complete(store.final_dir("policy", job_id))
    assert not list((workers.data_dir / "models" / ".tmp").glob(f"*job-{job_id}-*"))
    print(f"\nworker crash: DPO job killed after step {saved_step} of {total_steps}, resumed")
