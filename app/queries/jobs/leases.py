"""The jobs table as a queue, from the worker's side: claim, lease, progress, the ends of a run.

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

from app.models import Job, JobMetric, JobStatus, utcnow

# Sample generations kept per logged step: enough for a table, small enough for one JSON row.
MAX_SAMPLES_PER_STEP = 16
MAX_SAMPLE_CHARS = 4000
MAX_ERROR_CHARS = 4000


class LeaseLost(Exception):
    """The job is no longer held by this worker (re-queued after its lease expired, or finished)."""


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
