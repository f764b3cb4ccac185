"""REST routes: projects (admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.deps import AdminUser, SessionDep
from app.models import Project
from app.queries import projects as project_queries
from app.schemas.projects import ProjectCreate, ProjectPublic, ProjectUpdate

router = APIRouter(tags=["projects"])


def project_or_404(session: SessionDep, project_id: int) -> Project:
    project = project_queries.get_project(session, project_id)
    if project is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no project {project_id}")
    return project


@router.post("/projects", response_model=ProjectPublic, status_code=status.HTTP_201_CREATED)
def create_project(body: ProjectCreate, _admin: AdminUser, session: SessionDep) -> ProjectPublic:
    """Creates a project."""
    try:
        project = project_queries.create_project(session, **body.model_dump())
    except project_queries.ProjectNameTaken as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"a project named {body.name!r} exists"
        ) from exc
    except project_queries.InvalidModelVersion as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return ProjectPublic.model_validate(project)


@router.get("/projects", response_model=list[ProjectPublic])
def list_projects(_admin: AdminUser, session: SessionDep) -> list[ProjectPublic]:
    """Every project."""
    return [ProjectPublic.model_validate(p) for p in project_queries.list_projects(session)]


@router.get("/projects/{project_id}", response_model=ProjectPublic)
def read_project(project_id: int, _admin: AdminUser, session: SessionDep) -> ProjectPublic:
    """One project."""
    return ProjectPublic.model_validate(project_or_404(session, project_id))


@router.patch("/projects/{project_id}", response_model=ProjectPublic)
def update_project(
    project_id: int, body: ProjectUpdate, _admin: AdminUser, session: SessionDep
) -> ProjectPublic:
    """Changes the fields sent."""
    project = project_or_404(session, project_id)
    try:
        project_queries.update_project(session, project, body.model_dump(exclude_unset=True))
    except project_queries.ProjectNameTaken as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"a project named {body.name!r} exists"
        ) from exc
    except project_queries.InvalidModelVersion as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return ProjectPublic.model_validate(project)
