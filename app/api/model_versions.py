"""REST routes: model versions (trainer and admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy.orm import Session

from app.deps import SessionDep, TrainerUser
from app.models import ModelKind, ModelVersion
from app.queries import model_versions as version_queries
from app.queries import projects as project_queries
from app.schemas.jobs import ModelVersionPublic

router = APIRouter(prefix="/models", tags=["models"])


def version_public(session: Session, version: ModelVersion) -> ModelVersionPublic:
    public = ModelVersionPublic.model_validate(version)
    if version.project_id is not None:
        project = project_queries.get_project(session, version.project_id)
        public.current = project is not None and version.id in (
            project.policy_version_id,
            project.reward_version_id,
        )
    return public


@router.get("", response_model=list[ModelVersionPublic])
def list_models(
    session: SessionDep,
    _user: TrainerUser,
    project_id: int | None = None,
    kind: ModelKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ModelVersionPublic]:
    """Model versions with their metrics, newest first; ``current`` marks the project's own."""
    versions = version_queries.list_versions(
        session, project_id=project_id, kind=kind.value if kind else None, limit=limit
    )
    return [version_public(session, v) for v in versions]


@router.get("/{version_id}", response_model=ModelVersionPublic)
def get_model(version_id: int, session: SessionDep, _user: TrainerUser) -> ModelVersionPublic:
    """One model version."""
    version = version_queries.get_version(session, version_id)
    if version is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no model version {version_id}")
    return version_public(session, version)
