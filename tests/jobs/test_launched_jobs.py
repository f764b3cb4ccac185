"""Training jobs through ``accelerate launch`` (``RLHF_WORKER_PROCESSES``,
``RLHF_ACCELERATE_CONFIG``): the same result as in the worker's process, reports forwarded,
one version, and a bad Accelerate config refused before any training."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.config import Settings
from app.models import Comparison, Job, JobMetric, Label, ModelVersion
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from tests.jobs.conftest import JobDatabase
from tests.jobs.seed import labelled_project
from trainer.jobs.store import ModelStore
from trainer.worker import run_worker

PARAMS = {
    "epochs": 2,
    "batch_size": 8,
    "max_length": 48,
    "log_every": 1,
    "val_fraction": 0.25,
    "learning_rate": 1e-3,
}


def _run_reward(job_db: JobDatabase, settings: Settings, project_id: int, base: Path) -> int:
    with job_db.session() as session, session.begin():
        job_id = job_queries.enqueue_job(
            session,
            project_id=project_id,
            kind="reward",
            params={"base_model": str(base), **PARAMS},
            max_attempts=1,
        ).id
    ran = run_worker(settings, threading.Event(), once=True, worker_id="w", engine=job_db.engine)
    assert ran == 1
    return job_id


def _settings(job_db: JobDatabase, **update: object) -> Settings:
    return job_db.settings.model_copy(update=update)


def test_two_processes_give_the_one_process_result(
    job_db: JobDatabase, tiny_reward_base: Path
) -> None:
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session, comparisons=40, ties=4).id
    one = _run_reward(job_db, job_db.settings, project_id, tiny_reward_base)
    two = _run_reward(job_db, _settings(job_db, worker_processes=2), project_id, tiny_reward_base)

    with job_db.session() as session:
        jobs = {n: session.get_one(Job, job_id) for n, job_id in (("one", one), ("two", two))}
        for job in jobs.values():
            assert (job.status, job.progress, job.error) == ("succeeded", 1.0, None)
        m1, m2 = jobs["one"].metrics, jobs["two"].metrics
        assert (m1["num_processes"], m2["num_processes"]) == (1.0, 2.0)
        assert m1["n_train"] == m2["n_train"] == 30 and m1["n_val"] == m2["n_val"] == 10
        for key in ("accuracy", "loss", "margin", "train_loss"):
            assert m2[key] == pytest.approx(m1[key], rel=1e-3, abs=1e-4), key
        # The launched run's reports reached the job's history: one per optimiser step (4 a
        # epoch), plus the evaluations.
        steps = session.scalars(select(JobMetric.step).where(JobMetric.job_id == two)).all()
        assert sorted(set(steps)) == list(range(1, 9))
        # One version, with the job's metrics; the checkpoint and hand-off files are gone.
        versions = session.scalars(select(ModelVersion).where(ModelVersion.job_id == two)).all()
        assert len(versions) == 1 and versions[0].metrics["num_processes"] == 2.0
        path = Path(version_queries.resolve_path(job_db.settings.model_dir, versions[0].path))
        assert (path / "model.safetensors").is_file()
    store = ModelStore(job_db.settings.model_dir)
    assert not store.checkpoint_dir(two).exists()
    assert not list((store.root / ".tmp").glob(f"launch-job-{two}-*"))


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        (None, "does not exist"),
        ("compute_environment: [LOCAL_MACHINE\n", "does not parse"),
        ("no_such_setting: 1\n", "does not parse"),
    ],
)
def test_a_bad_accelerate_config_fails_the_job_before_training(
    job_db: JobDatabase, tiny_reward_base: Path, tmp_path: Path, config_text: str | None,
    message: str,
) -> None:  # fmt: skip
    config = tmp_path / "accelerate.yaml"
    if config_text is not None:
        config.write_text(config_text)
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session).id
    started = time.monotonic()
    job_id = _run_reward(
        job_db, _settings(job_db, accelerate_config=config), project_id, tiny_reward_base
    )
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "failed" and job.attempts == 1
        assert job.error is not None and str(config) in job.error and message in job.error
        trained = session.scalar(select(func.count()).where(JobMetric.job_id == job_id))
        assert trained == 0 and version_queries.version_for_job(session, job_id) is None
    assert time.monotonic() - started < 30  # refused, not trained


def test_settings_read_the_worker_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLHF_WORKER_PROCESSES", "4")
    monkeypatch.setenv("RLHF_ACCELERATE_CONFIG", "/etc/rlhf/accelerate.yaml")
    settings = Settings()
    assert settings.worker_processes == 4
    assert settings.accelerate_config == Path("/etc/rlhf/accelerate.yaml")
    monkeypatch.setenv("RLHF_ACCELERATE_CONFIG", "")
    monkeypatch.setenv("RLHF_WORKER_PROCESSES", "0")
    with pytest.raises(ValueError, match="worker_processes"):
        Settings()
    monkeypatch.delenv("RLHF_WORKER_PROCESSES")
    assert Settings().accelerate_config is None and Settings().worker_processes == 1


def _start_long_reward(
    job_db: JobDatabase, base: Path, stop: threading.Event
) -> tuple[int, threading.Thread]:
    """A launched two-process reward job far from done, running in a worker thread."""
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session, comparisons=16).id
        job_id = job_queries.enqueue_job(
            session,
            project_id=project_id,
            kind="reward",
            params={"base_model": str(base), **PARAMS, "epochs": 400, "checkpoint_every": 20},
            max_attempts=3,
        ).id
    settings = _settings(job_db, worker_processes=2)
    worker = threading.Thread(
        target=run_worker,
        args=(settings, stop),
        kwargs={"once": True, "worker_id": "w", "engine": job_db.engine},
    )
    worker.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with job_db.session() as session:
            if session.get_one(Job, job_id).progress > 0:
                return job_id, worker
        time.sleep(0.2)
    raise AssertionError("the launched job never reported progress")


def test_a_launched_job_is_cancelled_between_steps(
    job_db: JobDatabase, tiny_reward_base: Path
) -> None:
    job_id, worker = _start_long_reward(job_db, tiny_reward_base, threading.Event())
    with job_db.session() as session, session.begin():
        job_queries.request_cancel(session, session.get_one(Job, job_id))
    worker.join(timeout=120)
    assert not worker.is_alive()
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "cancelled" and 0 < job.progress < 0.5
        assert version_queries.version_for_job(session, job_id) is None
    assert not ModelStore(job_db.settings.model_dir).checkpoint_dir(job_id).exists()


def test_a_stopping_worker_hands_a_launched_job_back_with_its_checkpoint(
    job_db: JobDatabase, tiny_reward_base: Path
) -> None:
    stop = threading.Event()
    job_id, worker = _start_long_reward(job_db, tiny_reward_base, stop)
    stop.set()  # SIGTERM's effect on the worker
    worker.join(timeout=120)
    assert not worker.is_alive()
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "queued" and job.lease_owner is None and job.progress > 0
    checkpoint = ModelStore(job_db.settings.model_dir).checkpoint_dir(job_id)
    assert checkpoint.is_dir() and any(checkpoint.iterdir())
    # Its 400 epochs are not for the next test's worker to claim.
    with job_db.session() as session, session.begin():
        session.execute(update(Job).where(Job.id == job_id).values(status="cancelled"))


def _machine_config(path: Path, rank: int, port: int) -> Path:
    path.write_text(
        "compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nnum_machines: 2\n"
        f"num_processes: 2\nmachine_rank: {rank}\nmain_process_ip: 127.0.0.1\n"
        f"main_process_port: {port}\nrdzv_backend: static\nsame_network: true\n"
        "mixed_precision: 'no'\n"
    )
    return path


def test_a_job_spans_two_machines_with_a_worker_on_each(
    job_db: JobDatabase, tiny_reward_base: Path, tmp_path: Path
) -> None:
    """Two "machines" on this host, one process each, sharing the database and model store:
    the rank-0 worker claims and launches, the rank-1 worker joins the launch."""
    port = _free_port()
    main = _settings(job_db, accelerate_config=_machine_config(tmp_path / "m0.yaml", 0, port))
    other = _settings(job_db, accelerate_config=_machine_config(tmp_path / "m1.yaml", 1, port))
    stop_following = threading.Event()
    joined: list[int] = []
    follower = threading.Thread(
        target=lambda: joined.append(run_worker(other, stop_following, engine=job_db.engine))
    )
    follower.start()
    try:
        with job_db.session() as session, session.begin():
            project_id = labelled_project(session, comparisons=40, ties=4).id
        job_id = _run_reward(job_db, main, project_id, tiny_reward_base)
    finally:
        stop_following.set()
        follower.join(timeout=120)
    assert joined == [1]  # the follower claimed nothing and joined the one launch
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.error) == ("succeeded", None)
        assert job.metrics["num_processes"] == 2.0 and job.metrics["n_train"] == 30
        assert session.scalar(select(func.count()).where(ModelVersion.job_id == job_id)) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_iterate_launches_its_reward_and_ppo_steps(
    job_db: JobDatabase, tiny_reward_base: Path
) -> None:
    """PPO through `accelerate launch` too: prompts handed over as a file, its samples and
    reports forwarded, one adapter version whose parent is the policy it started from."""
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session, comparisons=8).id
        parent_id = job_queries.enqueue_job(
            session,
            project_id=project_id,
            kind="iterate",
            params={
                "reward": {"base_model": str(tiny_reward_base), "batch_size": 4, "max_length": 64},
                "ppo": {
                    "total_steps": 2, "batch_size": 4, "num_mini_batches": 2, "ppo_epochs": 1,
                    "response_length": 8, "eval_prompts": 2, "lora_r": 4, "lora_alpha": 8,
                    "max_prompt_tokens": 64, "sample_every": 1, "kl_budget": None,
                },
                "generate": {"max_new_tokens": 8, "batch_size": 4, "max_prompts": 4},
            },
            max_attempts=1,
        ).id  # fmt: skip
    settings = _settings(job_db, worker_processes=2)
    run_worker(settings, threading.Event(), once=True, worker_id="w", engine=job_db.engine)
    with job_db.session() as session:
        parent = session.get_one(Job, parent_id)
        assert parent.status == "succeeded", parent.error
        reward_job, ppo_job, _ = job_queries.child_jobs(session, parent_id)
        assert reward_job.metrics["num_processes"] == ppo_job.metrics["num_processes"] == 2.0
        tuned = version_queries.version_for_job(session, ppo_job.id)
        assert tuned is not None and tuned.parent_id is not None
        assert tuned.metrics["num_processes"] == 2.0 and tuned.params["kl_budget"] is None
        rows = session.scalars(select(JobMetric).where(JobMetric.job_id == ppo_job.id)).all()
        assert {row.step for row in rows} >= {1, 2}
        assert any("samples" in row.values for row in rows)


DPO = {
    "epochs": 2, "batch_size": 4, "learning_rate": 5e-3, "lora_r": 4, "lora_alpha": 8,
    "max_length": 64, "val_fraction": 0.25, "warmup_ratio": 0.0, "use_margin": True,
}  # fmt: skip


def _run_dpo(job_db: JobDatabase, settings: Settings, project_id: int, **params: object) -> int:
    with job_db.session() as session, session.begin():
        job_id = job_queries.enqueue_job(
            session, project_id=project_id, kind="dpo", params={**DPO, **params}, max_attempts=1
        ).id
    ran = run_worker(settings, threading.Event(), once=True, worker_id="w", engine=job_db.engine)
    assert ran == 1
    return job_id


def test_a_dpo_job_on_two_processes_gives_the_one_process_result(job_db: JobDatabase) -> None:
    """The pairs go over as the trainer's own file (groups and margins kept): the same split,
    the same global batches, so the same training up to float sums."""
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session, comparisons=24, ties=2).id
        # Margins that differ by pair: with use_margin they change the loss, so the launched
        # run sees them only if the pairs file keeps them.
        ids = select(Comparison.id).where(Comparison.project_id == project_id)
        for parity, strength in ((0, "slightly"), (1, "much")):
            session.execute(
                update(Label)
                .where(Label.comparison_id.in_(ids), Label.id % 2 == parity)
                .values(strength=strength)
            )
    one = _run_dpo(job_db, job_db.settings, project_id)
    with job_db.session() as session:
        first = version_queries.version_for_job(session, one)
        assert first is not None and first.parent_id is not None
        start_id = first.parent_id
    # From the same policy: the first job made its result the project's policy.
    two = _run_dpo(
        job_db, _settings(job_db, worker_processes=2), project_id, policy_version_id=start_id
    )

    with job_db.session() as session:
        jobs = {n: session.get_one(Job, job_id) for n, job_id in (("one", one), ("two", two))}
        for job in jobs.values():
            assert (job.status, job.progress, job.error) == ("succeeded", 1.0, None)
        m1, m2 = jobs["one"].metrics, jobs["two"].metrics
        assert (m1["num_processes"], m2["num_processes"]) == (1.0, 2.0)
        assert m2["sync/param_spread"] == 0.0
        assert m1["n_train"] == m2["n_train"] and m1["n_val"] == m2["n_val"] >= 1
        assert m1["n_labels"] == m2["n_labels"] and m1["left_out_ties"] == m2["left_out_ties"]
        for key in ("loss", "rewards/margins", "logps/chosen", "eval/loss", "kl"):
            assert m2[key] == pytest.approx(m1[key], rel=1e-3, abs=1e-4), key
        assert m2["accuracy"] == m1["accuracy"]
        steps = session.scalars(select(JobMetric.step).where(JobMetric.job_id == two)).all()
        assert max(steps) >= 2  # the launched run's reports reached the job's history
        second = version_queries.version_for_job(session, two)
        assert second is not None and second.parent_id == start_id
        assert second.metrics["num_processes"] == 2.0 and second.params["method"] == "dpo"
    assert not list(
        (ModelStore(job_db.settings.model_dir).root / ".tmp").glob(f"launch-job-{two}-*")
    )
