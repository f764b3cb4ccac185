"""What a job handler is given: the job as claimed, and the worker's means to run it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.models import Job, ModelKind, Project
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from trainer.jobs.context import DatabaseJobContext
from trainer.jobs.store import ModelStore


class JobError(Exception):
    """A problem another attempt cannot fix (no labels, an unknown version): the job fails now."""


@dataclass(frozen=True)
class JobSpec:
    """A claimed job's row as it was at claim time; handlers never hold ORM rows across training."""

    id: int
    project_id: int
    kind: str
    params: dict[str, Any]
    attempts: int
    max_attempts: int
    parent_job_id: int | None

    @classmethod
    def of(cls, job: Job) -> JobSpec:
        return cls(
            id=job.id,
            project_id=job.project_id,
            kind=job.kind,
            params=dict(job.params),
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            parent_job_id=job.parent_job_id,
        )


@dataclass
class JobRun:
    job: JobSpec
    settings: Settings
    sessions: sessionmaker[Session]
    # Read-only transactions: on SQLite they do not take the write lock while a job reads.
    read_sessions: sessionmaker[Session]
    worker_id: str
    ctx: DatabaseJobContext
    store: ModelStore
    # Runs an already claimed child job in this worker; returns the status it ended in.
    run_child: Callable[[int], str]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One short unit of work, committed on success."""
        with self.sessions() as session, session.begin():
            yield session

    def register_result(self, final: Path, kind: ModelKind) -> None:
        """Registers the model a finished build left in ``final`` and completes the job, in one
        transaction: the version and the job's success are recorded together or not at all."""
        manifest = self.store.read_manifest(final)
        with self.transaction() as session:
            job_queries.held_job(session, self.job.id, self.worker_id)
            project = session.get_one(Project, self.job.project_id)
            version_queries.register_version(
                session,
                project=project,
                kind=kind,
                job_id=self.job.id,
                base_model=manifest["base_model"],
                path=version_queries.stored_path(self.settings.model_dir, final),
                metrics=manifest["metrics"],
                params=manifest["params"],
                parent_id=manifest.get("parent_id"),
            )
            job_queries.complete_job(session, self.job.id, self.worker_id, manifest["metrics"])

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction, for the data a job trains on."""
        with self.read_sessions() as session, session.begin():
            yield session
