"""Projects: create, find by id or name, update."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ModelKind, Project
from app.queries.model_versions import UnusableVersion, usable_version


class ProjectNameTaken(Exception):
    pass


class InvalidModelVersion(ValueError):
    """A default model version that does not exist, is of the wrong kind or another project's."""


def get_project(session: Session, project_id: int) -> Project | None:
    return session.get(Project, project_id)


def get_project_by_name(session: Session, name: str) -> Project | None:
    return session.scalar(select(Project).where(Project.name == name))


def find_project(session: Session, ref: str) -> Project | None:
    """A project by id or, failing that, by name (what the CLI accepts)."""
    if ref.isdigit():
        project = get_project(session, int(ref))
        if project is not None:
            return project
    return get_project_by_name(session, ref)


def list_projects(session: Session, *, by_name: bool = False) -> list[Project]:
    """Every project, oldest first or (for a menu) by name."""
    order = Project.name if by_name else Project.id
    return list(session.scalars(select(Project).order_by(order)))


def create_project(session: Session, **fields: Any) -> Project:
    if get_project_by_name(session, fields["name"]) is not None:
        raise ProjectNameTaken(fields["name"])
    project = Project(
        name=fields["name"],
        guidelines=fields.get("guidelines", ""),
        labels_per_comparison=fields.get("labels_per_comparison", 1),
        generation_settings=fields.get("generation_settings") or {},
        training_settings=fields.get("training_settings") or {},
        gold_rate=fields.get("gold_rate") or 0.0,
        quality_thresholds=_thresholds(fields.get("quality_thresholds")),
    )
    session.add(project)
    session.flush()
    for key in ("policy_version_id", "reward_version_id"):
        if fields.get(key) is not None:
            _set_version(session, project, key, fields[key])
    session.flush()
    return project


def update_project(session: Session, project: Project, changes: dict[str, Any]) -> Project:
    """Applies the given fields only; a version id of None clears that default."""
    name = changes.get("name")
    if name is not None and name != project.name:
        if get_project_by_name(session, name) is not None:
            raise ProjectNameTaken(name)
        project.name = name
    for key in (
        "guidelines",
        "labels_per_comparison",
        "generation_settings",
        "training_settings",
        "gold_rate",
    ):
        if changes.get(key) is not None:
            setattr(project, key, changes[key])
    if changes.get("quality_thresholds") is not None:
        project.quality_thresholds = _thresholds(changes["quality_thresholds"])
    for key in ("policy_version_id", "reward_version_id"):
        if key in changes:
            _set_version(session, project, key, changes[key])
    session.flush()
    return project


def _thresholds(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Only the overrides that were given: a default changed later applies to the project."""
    return {k: v for k, v in (overrides or {}).items() if v is not None}


_KIND = {"policy_version_id": ModelKind.policy, "reward_version_id": ModelKind.reward}


def _set_version(session: Session, project: Project, key: str, version_id: int | None) -> None:
    if version_id is not None:
        try:
            usable_version(session, version_id, _KIND[key], project.id)
        except UnusableVersion as exc:
            raise InvalidModelVersion(f"{key}: {exc}") from None
    setattr(project, key, version_id)
