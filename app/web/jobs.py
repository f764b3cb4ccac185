"""HTML pages: the jobs list with a form to start one, and a job's live page (trainer, admin).

The start form's fields come from the job kinds' parameter models (app/web/job_form.py) and
parse into the API's own JobCreate.
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from pydantic import TypeAdapter
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.deps import SessionDep, SettingsDep, WebTrainer, check_csrf
from app.models import User
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from app.queries import projects as project_queries
from app.schemas.jobs import PARAMS_BY_KIND, JobCreate
from app.web import job_form
from app.web import job_page as job_page_view
from app.web.forms import FieldErrors, PostedForm
from app.web.templating import render

router = APIRouter(include_in_schema=False)

_job_create: TypeAdapter[Any] = TypeAdapter(JobCreate)
# Every kind with a parameter model gets a form; a new model appears here on its own.
KIND_FIELDS = {kind: job_form.fields_for(model, kind) for kind, model in PARAMS_BY_KIND.items()}
KIND_SPLIT = {kind: job_form.split_fields(kind, fields) for kind, fields in KIND_FIELDS.items()}
KIND_DOCS = {
    kind: (model.__doc__ or "").strip().split("\n")[0] for kind, model in PARAMS_BY_KIND.items()
}
KINDS = list(KIND_FIELDS)


def _list_page(
    request: Request,
    session: Session,
    user: User,
    *,
    kind: str = "reward",
    form: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
    status_code: int = 200,
) -> Response:
    jobs = job_queries.list_jobs(session, limit=100)
    job_versions = job_queries.version_ids_for_jobs(session, [j.id for j in jobs])
    projects = project_queries.list_projects(session, by_name=True)
    names = {p.id: p.name for p in projects}
    versions: dict[str, list[Any]] = {}
    for v in version_queries.list_versions(session, limit=500):
        versions.setdefault(v.kind, []).append(
            {"id": v.id, "name": v.name, "project_name": names.get(v.project_id or -1, "")}
        )
    return render(
        request,
        "jobs.html",
        {
            "user": user,
            "active_section": "/jobs",
            "jobs": jobs,
            "job_versions": job_versions,
            "projects": projects,
            "project_names": names,
            "versions": versions,
            "kinds": KINDS,
            "kind": kind if kind in KIND_FIELDS else KINDS[0],
            "kind_fields_map": KIND_SPLIT,
            "kind_docs": KIND_DOCS,
            "form": form or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/jobs")
def jobs_page(
    request: Request,
    session: SessionDep,
    user: WebTrainer,
    kind: str = "reward",
    project_id: str = "",
) -> Response:
    return _list_page(request, session, user, kind=kind, form={"project_id": project_id})


@router.post("/jobs")
def start_job(
    request: Request,
    form: PostedForm,
    session: SessionDep,
    settings: SettingsDep,
    user: WebTrainer,
) -> Response:
    check_csrf(request, form.get("csrf_token"))
    kind = form.get("kind", "")
    parsed = job_form.parse_job_form(_job_create, KIND_FIELDS, form)
    body = parsed.body
    errors = parsed.errors
    if body is None:
        return _list_page(
            request, session, user, kind=kind, form=form, errors=errors, status_code=422
        )
    try:
        # The API's own rules: the project exists, named versions can serve it.
        job = job_queries.create_job(
            session,
            project_id=body.project_id,
            kind=body.kind,
            params=body.params.model_dump(mode="json"),
            max_attempts=settings.job_max_attempts,
            created_by_id=user.id,
        )
    except job_queries.ProjectNotFound:
        errors = {"project_id": "No such project."}
    except job_queries.InvalidJobParams as exc:
        message = str(exc)
        errors = {f"{kind}.{exc.param}": message[0].upper() + message[1:] + "."}
    if errors:
        return _list_page(
            request, session, user, kind=kind, form=form, errors=errors, status_code=422
        )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


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
            "key_metrics": job_page_view.key_metrics(job),
            "key_names": [name for name, _ in job_page_view.KEY_METRICS.get(job.kind, [])],
            "log": job_page_view.log_lines(job, job_queries.job_metric_rows(session, job.id)),
            "active_section": "/jobs",
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
