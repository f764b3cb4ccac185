"""Job fixtures: a committed database of its own (the worker commits), tiny models, seed data."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_sessionmaker
from harness.databases import fresh_database, migrated_engine
from tests.jobs.tiny_models import save_tiny_policy, save_tiny_reward_base
from trainer.worker import run_worker


@pytest.fixture(scope="session")
def tiny_reward_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_reward_base(tmp_path_factory.mktemp("tiny-reward"))


@pytest.fixture(scope="session")
def tiny_policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_policy(tmp_path_factory.mktemp("tiny-policy"))


@dataclass
class JobDatabase:
    """A real, committed database with settings for in-process workers."""

    engine: Engine
    settings: Settings
    sessions: sessionmaker[Session]

    def session(self) -> Session:
        return self.sessions()

    def run_worker_once(self, worker_id: str = "test-worker") -> int:
        return run_worker(
            self.settings, threading.Event(), once=True, worker_id=worker_id, engine=self.engine
        )


@pytest.fixture(scope="module")
def job_db(
    tmp_path_factory: pytest.TempPathFactory, tiny_policy_dir: Path
) -> Iterator[JobDatabase]:
    data_dir = tmp_path_factory.mktemp("job-data")
    with fresh_database(data_dir) as url:
        engine = migrated_engine(url, data_dir)
        settings = Settings(
            database_url=url,
            data_dir=data_dir,
            secret_key="test-secret-key-that-is-long-enough-0123456789",
            job_lease_s=3,
            worker_poll_s=0.1,
            policy_model=str(tiny_policy_dir),
        )
        yield JobDatabase(engine, settings, make_sessionmaker(engine))
        engine.dispose()
