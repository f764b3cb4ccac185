"""Model versions: which may serve a project, registering a job's result, finding the versions
a job starts from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import ModelKind, ModelVersion, Project


class UnusableVersion(ValueError):
    """A model version that does not exist, is of another kind or belongs to another project;
    the message says which."""


def check_serves(version: ModelVersion, kind: ModelKind, project_id: int | None) -> None:
    """The rule: a version serves a project as a model of its own kind, and belongs to that
    project or to none (a shared base model). `project_id` None checks the kind only."""
    if version.kind != kind.value:
        raise UnusableVersion(
            f"model version {version.id} is a {version.kind} model, not {kind.value}"
        )
    if project_id is not None and version.project_id not in (None, project_id):
        raise UnusableVersion(f"model version {version.id} belongs to another project")


def usable_version(
    session: Session, version_id: int, kind: ModelKind, project_id: int | None
) -> ModelVersion:
    """The version, if it exists and `check_serves` lets it serve; else `UnusableVersion`."""
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise UnusableVersion(f"no model version {version_id}")
    check_serves(version, kind, project_id)
    return version


def get_version(session: Session, version_id: int) -> ModelVersion | None:
    return session.get(ModelVersion, version_id)


def version_name_taken(session: Session, project_id: int, name: str) -> bool:
    found = select(ModelVersion.id).where(
        ModelVersion.project_id == project_id, ModelVersion.name == name
    )
    return session.scalar(found.limit(1)) is not None


def list_versions(
    session: Session, *, project_id: int | None = None, kind: str | None = None, limit: int = 200
) -> list[ModelVersion]:
    query = select(ModelVersion)
    if project_id is not None:
        query = query.where(ModelVersion.project_id == project_id)
    if kind is not None:
        query = query.where(ModelVersion.kind == kind)
    return list(session.scalars(query.order_by(ModelVersion.id.desc()).limit(limit)))


def find_version(session: Session, ref: str, project: str | None = None) -> ModelVersion | None:
    """A version by id, or by name (names repeat across projects: ``project`` narrows it)."""
    if ref.isdigit():
        return session.get(ModelVersion, int(ref))
    query = select(ModelVersion).where(ModelVersion.name == ref)
    if project is not None:
        project_filter = (
            Project.id == int(project) if project.isdigit() else Project.name == project
        )
        query = query.join(Project, ModelVersion.project_id == Project.id).where(project_filter)
    return session.scalar(query.order_by(ModelVersion.id.desc()).limit(1))


def latest_project_with_versions(session: Session) -> int | None:
    """The project whose newest model version is the newest of all (None without any)."""
    return session.scalar(
        select(ModelVersion.project_id)
        .where(ModelVersion.project_id.is_not(None))
        .order_by(ModelVersion.id.desc())
        .limit(1)
    )


def version_for_job(session: Session, job_id: int) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.job_id == job_id))


def latest_version(session: Session, project_id: int, kind: ModelKind) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion)
        .where(ModelVersion.project_id == project_id, ModelVersion.kind == kind.value)
        .order_by(ModelVersion.id.desc())
        .limit(1)
    )


def next_version_name(session: Session, project_id: int, kind: ModelKind) -> str:
    count = session.scalar(
        select(func.count())
        .select_from(ModelVersion)
        .where(ModelVersion.project_id == project_id, ModelVersion.kind == kind.value)
    )
    return f"{kind.value}-v{int(count or 0) + 1}"


def register_version(
    session: Session,
    *,
    project: Project,
    kind: ModelKind,
    job_id: int | None,
    base_model: str,
    path: str,
    metrics: dict[str, Any],
    params: dict[str, Any],
    parent_id: int | None = None,
    make_current: bool = True,
    name: str | None = None,
) -> ModelVersion:
    """A new version, made the project's current one of its kind unless told otherwise.

    A job makes at most one (``job_id`` is unique): a re-run of the same job returns the
    version it already registered. ``job_id`` is None for a model trained outside the queue.
    """
    if job_id is not None:
        existing = version_for_job(session, job_id)
        if existing is not None:
            return existing
    version = ModelVersion(
        project_id=project.id,
        kind=kind.value,
        name=name or next_version_name(session, project.id, kind),
        parent_id=parent_id,
        base_model=base_model,
        path=path,
        job_id=job_id,
        metrics=metrics,
        params=params,
    )
    session.add(version)
    session.flush()
    if make_current:
        if kind is ModelKind.reward:
            project.reward_version_id = version.id
        else:
            project.policy_version_id = version.id
    session.flush()
    return version


def get_or_create_base_policy(
    session: Session, project_id: int, base_model: str, path: str
) -> ModelVersion:
    """The version row of a base policy (e.g. the default), made the first time it is used,
    so that every generated response can name the version that wrote it."""
    existing = session.scalar(
        select(ModelVersion)
        .where(
            ModelVersion.project_id == project_id,
            ModelVersion.kind == ModelKind.policy.value,
            ModelVersion.job_id.is_(None),
            ModelVersion.parent_id.is_(None),
            ModelVersion.base_model == base_model,
            ModelVersion.path == path,
        )
        .order_by(ModelVersion.id)
        .limit(1)
    )
    if existing is not None:
        return existing
    version = ModelVersion(
        project_id=project_id,
        kind=ModelKind.policy.value,
        name=base_model if len(base_model) <= 200 else Path(base_model).name[:200],
        parent_id=None,
        base_model=base_model,
        path=path,
        job_id=None,
        metrics={},
        params={},
    )
    session.add(version)
    session.flush()
    return version


def resolve_path(model_dir: Path, stored: str) -> str:
    """Where a version's weights lie: stored paths are relative to the model store unless
    absolute; anything else (a hub id of a base model) is passed on as it is."""
    path = Path(stored)
    if path.is_absolute():
        return stored
    inside = model_dir / path
    return str(inside) if inside.exists() else stored


def stored_path(model_dir: Path, path: Path | str) -> str:
    """The form kept in the database: relative inside the model store, so the store can move."""
    path = Path(path)
    if not path.exists():
        return str(path)  # a hub id
    try:
        return str(path.resolve().relative_to(model_dir.resolve()))
    except ValueError:
        return str(path)
