"""The jobs table as a queue: enqueue, claim, lease, progress, and the ends of a job's life.

Every function works inside the caller's transaction and never commits: the worker commits
one short transaction per call (claim, heartbeat, one step's metrics, the final registration),
so no transaction stays open while a model trains. Writes a worker makes for a job it runs are
guarded by its lease (``lease_owner``): a worker that lost its lease (it stalled and the job
was re-queued) can no longer touch the job, and learns so from ``LeaseLost``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, object_session

from app.models import Job, JobKind, JobMetric, JobStatus, ModelVersion, utcnow

FINISHED = frozenset({JobStatus.succeeded.value, JobStatus.failed.value, JobStatus.cancelled.value})
# Sample generations kept per logged step: enough for a table, small enough for one JSON row.
MAX_SAMPLES_PER_STEP = 16
MAX_SAMPLE_CHARS = 4000
MAX_ERROR_CHARS = 4000


class LeaseLost(Exception):
    """The job is no longer held by this worker (re-queued after its lease expired, or finished)."""


class JobFinished(Exception):
    """The job already ended; it cannot be cancelled any more."""


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


def enqueue_demo_generation(session: Session, project_id: int, max_attempts: int = 3) -> Job | None:
    """A ``generate`` job over the project's prompts with the default policy (``rlhf demo``),
    so model-written pairs appear once a worker runs; None when one was queued before (the
    demo command is idempotent)."""
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
    from app.schemas.jobs import GenerateParams

    return enqueue_job(
        session,
        project_id=project_id,
        kind=JobKind.generate,
        params=GenerateParams().model_dump(mode="json"),
        max_attempts=max_attempts,
    )


def requeue_expired(session: Session, now: datetime | None = None) -> list[Job]:
    """Jobs whose worker stopped renewing its lease: queued again, or ended when out of tries."""
    now = now or utcnow()
    expired = session.scalars(
        select(Job)
        .where(Job.status == JobStatus.running.value, Job.lease_expires_at < now)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    for job in expired:
        if job.cancel_requested:
            job.status = JobStatus.cancelled.value
            _end(job, now)
        elif job.attempts >= job.max_attempts:
            job.status = JobStatus.failed.value
            job.error = (
                f"gave up after {job.attempts} attempts: the worker running the last one "
                "stopped renewing its lease (it crashed, was killed or lost the database)"
            )
            _end(job, now)
        else:
            job.status = JobStatus.queued.value
            job.error = f"attempt {job.attempts} lost its worker (lease expired); re-queued"
            job.lease_owner = None
            job.lease_expires_at = None
    session.flush()
    return list(expired)


def claim_next_job(
    session: Session,
    worker_id: str,
    lease_s: float,
    *,
    kinds: Sequence[str] | None = None,
    now: datetime | None = None,
) -> Job | None:
    """Takes the oldest queued job for ``worker_id`` (expired leases are re-queued first).

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets racing workers pass over each other's row.
    SQLite: writers are serialised (BEGIN IMMEDIATE) and the UPDATE is guarded by
    ``status = 'queued'``, so a job can still only be taken once.
    """
    now = now or utcnow()
    requeue_expired(session, now)
    oldest = select(Job.id).where(Job.status == JobStatus.queued.value)
    if kinds is not None:
        oldest = oldest.where(Job.kind.in_(list(kinds)))
    oldest = oldest.order_by(Job.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        job_id = session.scalar(oldest.with_for_update(skip_locked=True))
        if job_id is None:
            return None
        return _take(session, job_id, worker_id, lease_s, now)
    claimed = session.scalar(
        _take_statement(oldest.scalar_subquery(), worker_id, lease_s, now).returning(Job.id)
    )
    return None if claimed is None else session.get(Job, claimed, populate_existing=True)


def claim_job(
    session: Session, job_id: int, worker_id: str, lease_s: float, now: datetime | None = None
) -> Job | None:
    """Takes one given job if it is still queued (a parent job running its own child)."""
    return _take(session, job_id, worker_id, lease_s, now or utcnow())


def _take_statement(job_id: Any, worker_id: str, lease_s: float, now: datetime) -> Any:
    return (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.queued.value)
        .values(
            status=JobStatus.running.value,
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_s),
            attempts=Job.attempts + 1,
            started_at=func.coalesce(Job.started_at, now),
        )
        .execution_options(synchronize_session=False)
    )


def _take(
    session: Session, job_id: int, worker_id: str, lease_s: float, now: datetime
) -> Job | None:
    claimed = session.scalar(_take_statement(job_id, worker_id, lease_s, now).returning(Job.id))
    return None if claimed is None else session.get(Job, claimed, populate_existing=True)


def renew_leases(session: Session, worker_id: str, lease_s: float) -> dict[int, bool]:
    """Extends every lease this worker holds; returns {job id: cancel requested} for them."""
    # Rows are locked in id order, the order every other writer of several jobs uses (a
    # parent before its children), so a heartbeat never deadlocks with a cancel.
    held = session.scalars(
        select(Job.id)
        .where(Job.lease_owner == worker_id, Job.status == JobStatus.running.value)
        .order_by(Job.id)
        .with_for_update()
    ).all()
    if not held:
        return {}
    rows = session.execute(
        update(Job)
        .where(Job.id.in_(held), Job.lease_owner == worker_id)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
        .returning(Job.id, Job.cancel_requested)
        .execution_options(synchronize_session=False)
    ).all()
    return {job_id: bool(cancel) for job_id, cancel in rows}


def held_job(session: Session, job_id: int, worker_id: str) -> Job:
    """The job, row-locked, if this worker still holds its lease; else ``LeaseLost``."""
    job = session.scalar(
        select(Job)
        .where(Job.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if job is None or job.status != JobStatus.running.value or job.lease_owner != worker_id:
        raise LeaseLost(f"job {job_id} is no longer held by {worker_id}")
    return job


def _finite(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    # JSON (and PostgreSQL's jsonb) has no NaN or infinity; a diverged loss is shown as a gap.
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        number = float(value)
        out[str(key)] = number if math.isfinite(number) else None
    return out


def _step_row(session: Session, job_id: int, step: int) -> JobMetric:
    row = session.scalar(
        select(JobMetric).where(JobMetric.job_id == job_id, JobMetric.step == step)
    )
    if row is None:
        row = JobMetric(job_id=job_id, step=step, values={})
        session.add(row)
    return row


def record_progress(
    session: Session,
    job_id: int,
    worker_id: str,
    step: int,
    progress: float,
    metrics: Mapping[str, Any],
) -> bool:
    """Stores one step's metrics (merged into that step's row: a resumed job may log a step
    again) and the progress; returns whether a cancel was requested."""
    job = held_job(session, job_id, worker_id)
    values = _finite(metrics)
    job.progress = min(1.0, max(0.0, float(progress) if math.isfinite(progress) else 0.0))
    job.metrics = {**job.metrics, **values}
    row = _step_row(session, job_id, step)
    row.values = {**row.values, **values}
    session.flush()
    return job.cancel_requested


def record_samples(
    session: Session,
    job_id: int,
    worker_id: str,
    step: int,
    samples: Sequence[Mapping[str, str | float]],
) -> None:
    held_job(session, job_id, worker_id)
    kept: list[dict[str, str | float | None]] = []
    for sample in samples[:MAX_SAMPLES_PER_STEP]:
        item: dict[str, str | float | None] = {}
        for key, value in sample.items():
            if isinstance(value, str):
                item[str(key)] = value[:MAX_SAMPLE_CHARS]
            else:
                number = float(value)
                item[str(key)] = number if math.isfinite(number) else None
        kept.append(item)
    row = _step_row(session, job_id, step)
    row.values = {**row.values, "samples": kept}
    session.flush()


def set_progress(session: Session, job_id: int, worker_id: str, progress: float) -> None:
    held_job(session, job_id, worker_id).progress = min(1.0, max(0.0, progress))


def complete_job(
    session: Session, job_id: int, worker_id: str, metrics: Mapping[str, Any] | None = None
) -> Job:
    job = held_job(session, job_id, worker_id)
    job.status = JobStatus.succeeded.value
    job.progress = 1.0
    if metrics:
        job.metrics = {**job.metrics, **_finite(metrics)}
    job.error = None
    return _end(job)


def fail_job(session: Session, job_id: int, worker_id: str, error: str) -> Job:
    job = held_job(session, job_id, worker_id)
    job.status = JobStatus.failed.value
    job.error = error[:MAX_ERROR_CHARS]
    return _end(job)


def retry_or_fail(session: Session, job_id: int, worker_id: str, error: str) -> Job:
    """After a crash inside the job: queued for another attempt, or failed when out of tries."""
    job = held_job(session, job_id, worker_id)
    if job.attempts >= job.max_attempts:
        job.status = JobStatus.failed.value
        job.error = f"gave up after {job.attempts} attempts; last error: {error}"[:MAX_ERROR_CHARS]
        return _end(job)
    job.status = JobStatus.queued.value
    job.error = f"attempt {job.attempts} failed (will retry): {error}"[:MAX_ERROR_CHARS]
    job.lease_owner = None
    job.lease_expires_at = None
    session.flush()
    return job


def release_job(session: Session, job_id: int, worker_id: str) -> Job:
    """Hands a job back to the queue (the worker is stopping); not counted as an attempt."""
    job = held_job(session, job_id, worker_id)
    job.status = JobStatus.queued.value
    job.attempts = max(0, job.attempts - 1)
    job.lease_owner = None
    job.lease_expires_at = None
    session.flush()
    return job


def mark_cancelled(session: Session, job_id: int, worker_id: str) -> Job:
    job = held_job(session, job_id, worker_id)
    job.status = JobStatus.cancelled.value
    return _end(job)


def _end(job: Job, now: datetime | None = None) -> Job:
    job.finished_at = now or utcnow()
    job.lease_owner = None
    job.lease_expires_at = None
    session = object_session(job)
    if session is not None:
        session.flush()
    return job


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
