"""HTML pages: the jobs list with a form to start one, and a job's live page (trainer, admin)."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from pydantic import TypeAdapter, ValidationError
from starlette.responses import RedirectResponse, Response

from app.deps import SessionDep, SettingsDep, WebTrainer, check_csrf
from app.models import JobKind
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from app.queries import projects as project_queries
from app.schemas.jobs import JobCreate
from app.web.templating import render

router = APIRouter(include_in_schema=False)

_job_create: TypeAdapter[Any] = TypeAdapter(JobCreate)
KINDS = [k.value for k in JobKind]


def _list_page(
    request: Request,
    session: SessionDep,
    user: WebTrainer,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    jobs = job_queries.list_jobs(session, limit=100)
    versions = job_queries.version_ids_for_jobs(session, [j.id for j in jobs])
    projects = project_queries.list_projects(session, by_name=True)
    names = {p.id: p.name for p in projects}
    models = version_queries.list_versions(session, limit=50)
    return render(
        request,
        "jobs.html",
        {
            "user": user,
            "jobs": jobs,
            "versions": versions,
            "projects": projects,
            "project_names": names,
            "models": models,
            "kinds": KINDS,
            "error": error,
            "form": form or {"params": "{}"},
        },
        status_code=status_code,
    )


@router.get("/jobs")
def jobs_page(request: Request, session: SessionDep, user: WebTrainer) -> Response:
    return _list_page(request, session, user)


@router.post("/jobs")
def start_job(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: WebTrainer,
    project_id: Annotated[int, Form()],
    kind: Annotated[str, Form(max_length=16)],
    params: Annotated[str, Form(max_length=100_000)] = "{}",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = {"project_id": project_id, "kind": kind, "params": params}
    try:
        parsed = json.loads(params or "{}")
        body = _job_create.validate_python(
            {"project_id": project_id, "kind": kind, "params": parsed}
        )
    except json.JSONDecodeError as exc:
        return _list_page(
            request,
            session,
            user,
            error=f"Parameters are not JSON: {exc.msg}",
            form=form,
            status_code=422,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        return _list_page(
            request, session, user, error=f"Invalid job: {problems}", form=form, status_code=422
        )
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
        error = "No such project."
    except job_queries.InvalidJobParams as exc:
        error = f"Invalid job: params.{exc.param}: {exc}"
    else:
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)
    return _list_page(request, session, user, error=error, form=form, status_code=422)


@router.get("/jobs/{job_id}")
def job_page(job_id: int, request: Request, session: SessionDep, user: WebTrainer) -> Response:
    job = job_queries.get_job(session, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    version = version_queries.version_for_job(session, job.id)
    project = project_queries.get_project(session, job.project_id)
    return render(
        request,
        "jobs_detail.html",
        {
            "user": user,
            "job": job,
            "version": version,
            "project": project,
            "children": job_queries.child_jobs(session, job.id),
            "finished": job.status in job_queries.FINISHED,
            "params_json": json.dumps(job.params, indent=2, sort_keys=True),
        },
    )


@router.post("/jobs/{job_id}/cancel")
def cancel_job(
    job_id: int,
    request: Request,
    session: SessionDep,
    _user: WebTrainer,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    job = job_queries.get_job(session, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    # A job that already ended has nothing to stop; the page shows how it ended.
    with contextlib.suppress(job_queries.JobFinished):
        job_queries.request_cancel(session, job)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
