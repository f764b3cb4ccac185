"""What people do to jobs: create one (its parameters checked against the project first) and
cancel one. The worker's side of a job's life is in `leases`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, JobKind, JobStatus, ModelKind, utcnow
from app.queries.jobs.reads import FINISHED
from app.queries.model_versions import UnusableVersion, usable_version
from app.queries.projects import get_project

# Job parameters that name model versions, and the kind each must be. A list names several.
VERSION_PARAMS = {
    "policy_version_id": ModelKind.policy,
    "policy_b_version_id": ModelKind.policy,
    "policy_version_ids": ModelKind.policy,
    "reward_version_id": ModelKind.reward,
}


class JobFinished(Exception):
    """The job already ended; it cannot be cancelled any more."""


class ProjectNotFound(LookupError):
    pass


class InvalidJobParams(ValueError):
    """A parameter that names something the job could not use; `param` is its name."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def create_job(
    session: Session,
    *,
    project_id: int,
    kind: JobKind | str,
    params: Mapping[str, Any],
    max_attempts: int,
    created_by_id: int | None = None,
) -> Job:
    """Queues a job asked for by a person (API, web form), after the checks a worker would
    otherwise fail on later: the project exists (`ProjectNotFound`) and every model version
    the parameters name can serve it (`InvalidJobParams`). `params` are already valid for
    the kind (the pydantic model of the job's parameters, dumped as JSON)."""
    if get_project(session, project_id) is None:
        raise ProjectNotFound(project_id)
    check_version_params(session, project_id, params)
    return enqueue_job(
        session,
        project_id=project_id,
        kind=kind,
        params=params,
        max_attempts=max_attempts,
        created_by_id=created_by_id,
    )


def check_version_params(session: Session, project_id: int, params: Mapping[str, Any]) -> None:
    for name, kind in VERSION_PARAMS.items():
        value = params.get(name)
        for version_id in value if isinstance(value, list) else [value]:
            if version_id is None:
                continue
            try:
                usable_version(session, version_id, kind, project_id)
            except UnusableVersion as exc:
                raise InvalidJobParams(name, str(exc)) from None


def enqueue_job(
    session: Session,
    *,
    project_id: int,
    kind: JobKind | str,
    params: Mapping[str, Any],
    max_attempts: int,
    created_by_id: int | None = None,
    parent_job_id: int | None = None,
) -> Job:
    job = Job(
        project_id=project_id,
        kind=JobKind(kind).value,
        status=JobStatus.queued.value,
        params=dict(params),
        progress=0.0,
        metrics={},
        attempts=0,
        max_attempts=max_attempts,
        cancel_requested=False,
        created_by_id=created_by_id,
        parent_job_id=parent_job_id,
    )
    session.add(job)
    session.flush()
    return job


def enqueue_demo_generation(
    session: Session, project_id: int, params: Mapping[str, Any], max_attempts: int = 3
) -> Job | None:
    """A ``generate`` job over the project's prompts with `params` (``rlhf demo``), so
    model-written pairs appear once a worker runs; None when one was queued before (the demo
    command is idempotent)."""
    earlier = session.scalar(
        select(Job.id)
        .where(
            Job.project_id == project_id,
            Job.kind == JobKind.generate.value,
            Job.status.not_in([JobStatus.failed.value, JobStatus.cancelled.value]),
        )
        .limit(1)
    )
    if earlier is not None:
        return None
    return enqueue_job(
        session,
        project_id=project_id,
        kind=JobKind.generate,
        params=params,
        max_attempts=max_attempts,
    )


def request_cancel(session: Session, job: Job) -> Job:
    """A queued job ends now; a running one is asked to stop at its next step.

    A parent job (``iterate``) passes the request on to its children.
    """
    if job.status in FINISHED:
        raise JobFinished(f"job {job.id} already {job.status}")
    _cancel_one(job)
    children = session.scalars(
        select(Job).where(Job.parent_job_id == job.id, Job.status.not_in(FINISHED))
    ).all()
    for child in children:
        _cancel_one(child)
    session.flush()
    return job


def _cancel_one(job: Job) -> None:
    if job.status == JobStatus.queued.value:
        job.status = JobStatus.cancelled.value
        job.finished_at = utcnow()
    job.cancel_requested = True
