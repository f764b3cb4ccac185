"""Real `rlhf worker` processes on a fresh committed database, shared by the worker and
reliability tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from app.db import make_sessionmaker
from app.models import Job
from app.queries import jobs as job_queries
from harness.databases import fresh_database, migrated_engine
from harness.processes import kill_group, rlhf_env
from tests.jobs.seed import labelled_project

LEASE_S = 3


class Workers:
    def __init__(self, engine: Engine, url: str, data_dir: Path, logs: Path) -> None:
        self.engine = engine
        self.sessions = make_sessionmaker(engine)
        self.data_dir = data_dir
        self.logs = logs
        self.env = rlhf_env(
            url,
            data_dir,
            RLHF_JOB_LEASE_S=str(LEASE_S),
            RLHF_WORKER_POLL_S="0.2",
            RLHF_LOG_LEVEL="INFO",
            OMP_NUM_THREADS="1",
        )
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "worker", "--id", name, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def job(self, job_id: int) -> Job:
        with self.sessions() as session:
            return session.get_one(Job, job_id)

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        logs = {p.name: p.read_text(errors="replace")[-3000:] for p in self.logs.glob("*.log")}
        raise AssertionError(f"timed out waiting for {what}; worker logs: {logs}")

    def enqueue_reward(self, base: Path, *, comparisons: int = 12, **params: object) -> int:
        with self.sessions() as session, session.begin():
            project = labelled_project(session, comparisons=comparisons)
            return job_queries.enqueue_job(
                session,
                project_id=project.id,
                kind="reward",
                params={
                    "base_model": str(base),
                    "batch_size": 2,
                    "max_length": 48,
                    "val_fraction": 0.25,
                    **params,
                },
                max_attempts=3,
            ).id


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Engine]]:
    data_dir = tmp_path_factory.mktemp("worker-data")
    with fresh_database(data_dir) as url:
        engine = migrated_engine(url, data_dir)
        yield url, data_dir, engine
        engine.dispose()


@pytest.fixture
def workers(database: tuple[str, Path, Engine], tmp_path: Path) -> Iterator[Workers]:
    url, data_dir, engine = database
    pool = Workers(engine, url, data_dir, tmp_path)
    yield pool
    for process in pool.started:
        if process.poll() is None:
            kill_group(process)
    # Nothing a test left behind may be picked up by the next test's workers.
    with pool.sessions() as session, session.begin():
        session.execute(
            update(Job).where(Job.status.in_(["queued", "running"])).values(status="cancelled")
        )
