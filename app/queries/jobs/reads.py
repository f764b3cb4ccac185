"""Reading jobs: one, a list, a parent's children, metrics over steps, the versions they made."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, JobMetric, JobStatus, ModelVersion

FINISHED = frozenset({JobStatus.succeeded.value, JobStatus.failed.value, JobStatus.cancelled.value})


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(
    session: Session,
    *,
    project_id: int | None = None,
    status: str | None = None,
    kind: str | None = None,
    parent_job_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Job]:
    query = select(Job)
    if project_id is not None:
        query = query.where(Job.project_id == project_id)
    if status is not None:
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if parent_job_id is not None:
        query = query.where(Job.parent_job_id == parent_job_id)
    return list(session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)))


def child_jobs(session: Session, job_id: int) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.parent_job_id == job_id).order_by(Job.id)))


def job_metric_rows(
    session: Session, job_id: int, after_step: int | None = None
) -> list[JobMetric]:
    query = select(JobMetric).where(JobMetric.job_id == job_id)
    if after_step is not None:
        query = query.where(JobMetric.step > after_step)
    return list(session.scalars(query.order_by(JobMetric.step)))


def version_ids_for_jobs(session: Session, job_ids: Sequence[int]) -> dict[int, int]:
    """{job id: id of the model version it registered} for the jobs that registered one."""
    if not job_ids:
        return {}
    rows = session.execute(
        select(ModelVersion.job_id, ModelVersion.id).where(ModelVersion.job_id.in_(list(job_ids)))
    ).all()
    return {int(job_id): int(version_id) for job_id, version_id in rows if job_id is not None}


def latest_child(session: Session, parent_id: int, kind: str) -> Job | None:
    """The newest child job of this kind (an ``iterate`` step), if any."""
    return session.scalar(
        select(Job)
        .where(Job.parent_job_id == parent_id, Job.kind == kind)
        .order_by(Job.id.desc())
        .limit(1)
    )
