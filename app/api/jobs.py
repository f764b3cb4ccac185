"""REST routes: jobs (trainer and admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, status
from sqlalchemy.orm import Session

from app.deps import SessionDep, SettingsDep, TrainerUser
from app.models import Job, JobKind, JobStatus
from app.queries import jobs as job_queries
from app.schemas.jobs import JobCreate, JobMetrics, JobPublic, MetricPoint, Sample

router = APIRouter(prefix="/jobs", tags=["jobs"])


def job_public(session: Session, job: Job, version_id: int | None = None) -> JobPublic:
    public = JobPublic.model_validate(job)
    if version_id is None:
        version_id = job_queries.version_ids_for_jobs(session, [job.id]).get(job.id)
    public.model_version_id = version_id
    public.child_job_ids = [child.id for child in job_queries.child_jobs(session, job.id)]
    return public


def _job_or_404(session: Session, job_id: int) -> Job:
    job = job_queries.get_job(session, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    return job


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobPublic)
def create_job(
    body: Annotated[JobCreate, Body()],
    session: SessionDep,
    settings: SettingsDep,
    user: TrainerUser,
) -> JobPublic:
    """Queues a job; a worker (`rlhf worker`) picks it up."""
    try:
        job = job_queries.create_job(
            session,
            project_id=body.project_id,
            kind=body.kind,
            params=body.params.model_dump(mode="json"),
            max_attempts=settings.job_max_attempts,
            created_by_id=user.id,
        )
    except job_queries.ProjectNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no project {body.project_id}") from None
    except job_queries.InvalidJobParams as exc:
        # A 422 now rather than a failed job later, shaped like a field error.
        problem = {"loc": ["body", "params", exc.param], "msg": str(exc), "type": "value_error"}
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [problem]) from None
    return job_public(session, job, None)


@router.get("", response_model=list[JobPublic])
def list_jobs(
    session: SessionDep,
    _user: TrainerUser,
    project_id: int | None = None,
    job_status: Annotated[JobStatus | None, Query(alias="status")] = None,
    kind: JobKind | None = None,
    parent_job_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[JobPublic]:
    """Jobs, newest first."""
    jobs = job_queries.list_jobs(
        session,
        project_id=project_id,
        status=job_status.value if job_status else None,
        kind=kind.value if kind else None,
        parent_job_id=parent_job_id,
        limit=limit,
        offset=offset,
    )
    versions = job_queries.version_ids_for_jobs(session, [j.id for j in jobs])
    out = []
    for job in jobs:
        public = JobPublic.model_validate(job)
        public.model_version_id = versions.get(job.id)
        out.append(public)
    return out


@router.get("/{job_id}", response_model=JobPublic)
def get_job(job_id: int, session: SessionDep, _user: TrainerUser) -> JobPublic:
    """One job: status, progress, latest metrics, error and the model version it made."""
    return job_public(session, _job_or_404(session, job_id))


@router.post("/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=JobPublic)
def cancel_job(job_id: int, session: SessionDep, _user: TrainerUser) -> JobPublic:
    """A queued job is cancelled now; a running one stops at its next step."""
    job = _job_or_404(session, job_id)
    try:
        job_queries.request_cancel(session, job)
    except job_queries.JobFinished as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return job_public(session, job)


@router.get("/{job_id}/metrics", response_model=JobMetrics)
def job_metrics(
    job_id: int,
    session: SessionDep,
    _user: TrainerUser,
    after_step: int | None = None,
) -> JobMetrics:
    """Metrics over steps (for plots) and sample generations; ``after_step`` fetches only news."""
    job = _job_or_404(session, job_id)
    points: list[MetricPoint] = []
    samples: list[Sample] = []
    for row in job_queries.job_metric_rows(session, job.id, after_step):
        values = {k: v for k, v in row.values.items() if k != "samples"}
        if values:
            points.append(MetricPoint(step=row.step, values=values))
        for item in row.values.get("samples", []):
            samples.append(_sample(row.step, item))
    return JobMetrics(
        job_id=job.id,
        kind=job.kind,
        status=job.status,
        progress=job.progress,
        points=points,
        samples=samples,
    )


def _sample(step: int, item: dict[str, str | float | None]) -> Sample:
    score = item.get("score")
    return Sample(
        step=step,
        prompt=str(item.get("prompt", "")),
        response=str(item.get("response", "")),
        score=float(score) if isinstance(score, int | float) else None,
        extra={k: v for k, v in item.items() if k not in ("prompt", "response", "score")},
    )
