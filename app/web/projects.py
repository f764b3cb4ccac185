"""HTML pages: the project list, a new project, a project's page and its settings (admin).

The forms parse into the API's own ProjectCreate and ProjectUpdate, so a rule about a name
or an overlap lives in one place; the web answers with the field's message beside it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.deps import SessionDep, WebAdmin, check_csrf
from app.importing.parsers import ImportFormat
from app.models import ModelKind, Project, User
from app.queries import model_versions as version_queries
from app.queries import progress as progress_queries
from app.queries import projects as project_queries
from app.rendering import render_markdown
from app.schemas.projects import ProjectCreate, ProjectUpdate
from app.web import forms, project_quality
from app.web.charts import sparkline
from app.web.forms import PostedForm
from app.web.templating import render

router = APIRouter(include_in_schema=False)

SECTION = "/projects"
# Fields of the settings form, in the order shown; the version ids are selects.
EDIT_FIELDS = (
    "name",
    "guidelines",
    "labels_per_comparison",
    "gold_rate",
    "policy_version_id",
    "reward_version_id",
)


def _quality_context(form: dict[str, Any], errors: forms.FieldErrors) -> dict[str, Any]:
    return {
        "threshold_fields": project_quality.threshold_fields(),
        "thresholds_open": project_quality.has_thresholds(form, errors),
    }


def project_or_404(session: Session, project_id: int) -> Project:
    project = project_queries.get_project(session, project_id)
    if project is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no project {project_id}")
    return project


@router.get("/projects")
def projects_page(request: Request, session: SessionDep, user: WebAdmin) -> Response:
    projects = project_queries.list_projects(session)
    rows = progress_queries.project_progress(session, projects)
    return render(
        request,
        "projects.html",
        {
            "user": user,
            "active_section": SECTION,
            "rows": rows,
            "sparks": {r.project.id: sparkline(r.per_day) for r in rows},
            "days": progress_queries.RECENT_DAYS,
        },
    )


def _new_page(
    request: Request,
    user: User,
    form: dict[str, Any],
    errors: forms.FieldErrors,
    preview: Any = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "project_new.html",
        {
            "user": user,
            "active_section": SECTION,
            "form": form,
            "errors": errors,
            "preview": preview,
            **_quality_context(form, errors),
        },
        status_code=status_code,
    )


@router.get("/projects/new")
def new_project_page(request: Request, user: WebAdmin) -> Response:
    return _new_page(request, user, {"labels_per_comparison": "1", "gold_rate": "0"}, {})


@router.post("/projects")
def create_project(
    request: Request, form: PostedForm, session: SessionDep, user: WebAdmin
) -> Response:
    check_csrf(request, form.get("csrf_token"))
    if form.get("action") == "preview":
        return _new_page(request, user, form, {}, render_markdown(form.get("guidelines", "")))
    data = forms.form_data(ProjectCreate, form)
    data["quality_thresholds"] = project_quality.posted_thresholds(form)
    body, errors = forms.parse_data(ProjectCreate, data)
    if body is None:
        return _new_page(request, user, form, errors, status_code=422)
    try:
        project = project_queries.create_project(session, **body.model_dump())
    except project_queries.ProjectNameTaken:
        errors = {"name": f"A project named “{body.name}” exists already."}
        return _new_page(request, user, form, errors, status_code=409)
    return RedirectResponse(f"/projects/{project.id}?notice=created", status_code=303)


NOTICES = {
    "created": "Project created. Import comparisons below, or start a generate job.",
    "saved": "Settings saved.",
}


def project_page(
    request: Request,
    session: Session,
    user: User,
    project: Project,
    *,
    notice: str | None = None,
    import_form: dict[str, Any] | None = None,
    import_errors: forms.FieldErrors | None = None,
    import_result: Any = None,
    bad_lines: Any = None,
    export_form: dict[str, Any] | None = None,
    export_errors: forms.FieldErrors | None = None,
    max_import_bytes: int = 0,
    status_code: int = 200,
) -> Response:
    """The project's page; the import and export routes render it with their results."""
    (progress,) = progress_queries.project_progress(session, [project])
    versions = {v.id: v for v in version_queries.list_versions(session, project_id=project.id)}
    return render(
        request,
        "project.html",
        {
            "user": user,
            "active_section": SECTION,
            "project": project,
            "progress": progress,
            "spark": sparkline(progress.per_day, width=280, height=48),
            "days": progress_queries.RECENT_DAYS,
            "policy": versions.get(project.policy_version_id or -1),
            "reward": versions.get(project.reward_version_id or -1),
            "guidelines": render_markdown(project.guidelines) if project.guidelines else None,
            "notice": NOTICES.get(notice or ""),
            "formats": [f.value for f in ImportFormat],
            "import_form": import_form or {"format": "pairs"},
            "import_errors": import_errors or {},
            "import_result": import_result,
            "bad_lines": bad_lines,
            "export_form": export_form or {"format": "jsonl", "schema": "raw"},
            "export_errors": export_errors or {},
            "max_import_bytes": max_import_bytes or request.app.state.settings.max_import_bytes,
        },
        status_code=status_code,
    )


@router.get("/projects/{project_id}")
def project_detail(
    project_id: int,
    request: Request,
    session: SessionDep,
    user: WebAdmin,
    notice: str | None = None,
) -> Response:
    project = project_or_404(session, project_id)
    return project_page(request, session, user, project, notice=notice)


def _edit_page(
    request: Request,
    session: Session,
    user: User,
    project: Project,
    form: dict[str, Any],
    errors: forms.FieldErrors,
    preview: Any = None,
    status_code: int = 200,
) -> Response:
    versions = version_queries.list_versions(session, project_id=project.id)
    # Base versions without a project (none today, but the API allows them) stay selectable
    # through the API; the form offers the project's own.
    return render(
        request,
        "project_edit.html",
        {
            "user": user,
            "active_section": SECTION,
            "project": project,
            "form": form,
            "errors": errors,
            "preview": preview,
            **_quality_context(form, errors),
            "policy_options": _version_options(
                versions, ModelKind.policy, "the configured default"
            ),
            "reward_options": _version_options(
                versions, ModelKind.reward, "the latest reward model"
            ),
        },
        status_code=status_code,
    )


def _version_options(versions: list[Any], kind: ModelKind, fallback: str) -> list[tuple[str, str]]:
    options = [("", f"None: {fallback}")]
    options += [(str(v.id), f"#{v.id} {v.name}") for v in versions if v.kind == kind.value]
    return options


@router.get("/projects/{project_id}/edit")
def edit_project_page(
    project_id: int, request: Request, session: SessionDep, user: WebAdmin
) -> Response:
    project = project_or_404(session, project_id)
    form = {name: getattr(project, name) for name in EDIT_FIELDS}
    form.update(project_quality.form_values(project.quality_thresholds))
    return _edit_page(request, session, user, project, form, {})


@router.post("/projects/{project_id}/edit")
def update_project(
    project_id: int, request: Request, form: PostedForm, session: SessionDep, user: WebAdmin
) -> Response:
    check_csrf(request, form.get("csrf_token"))
    project = project_or_404(session, project_id)
    if form.get("action") == "preview":
        preview = render_markdown(form.get("guidelines", ""))
        return _edit_page(request, session, user, project, form, {}, preview)
    data = {k: form.get(k, "") for k in EDIT_FIELDS}
    # A blank version select means "no default": sent as null, which clears it.
    changes = forms.form_data(ProjectUpdate, data)
    for key in ("policy_version_id", "reward_version_id"):
        changes.setdefault(key, None)
    # The whole set of overrides as the form shows it: a field emptied drops its override.
    changes["quality_thresholds"] = project_quality.posted_thresholds(form)
    body, errors = forms.parse_data(ProjectUpdate, changes)
    if body is None:
        return _edit_page(request, session, user, project, form, errors, status_code=422)
    try:
        project_queries.update_project(session, project, body.model_dump(exclude_unset=True))
    except project_queries.ProjectNameTaken:
        errors = {"name": f"A project named “{body.name}” exists already."}
        return _edit_page(request, session, user, project, form, errors, status_code=409)
    except project_queries.InvalidModelVersion as exc:
        key = str(exc).split(":", 1)[0]
        errors = {key: str(exc).split(": ", 1)[-1].capitalize() + "."}
        return _edit_page(request, session, user, project, form, errors, status_code=422)
    return RedirectResponse(f"/projects/{project.id}?notice=saved", status_code=303)
