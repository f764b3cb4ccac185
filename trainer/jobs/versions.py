"""Finding the model versions a job starts from, and where their weights lie."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.config import Settings
from app.models import ModelKind, ModelVersion, Project
from app.queries import model_versions as version_queries
from trainer.default_models import ensure_policy
from trainer.jobs.spec import JobError


@dataclass(frozen=True)
class ResolvedVersion:
    id: int
    base_model: str
    path: str  # what load_policy / RewardScorer open: a directory or hub id


def _resolved(settings: Settings, version: ModelVersion) -> ResolvedVersion:
    path = version_queries.resolve_path(settings.model_dir, version.path)
    return ResolvedVersion(version.id, version.base_model, path)


def version_of_kind(
    session: Session, settings: Settings, version_id: int, kind: ModelKind, project_id: int
) -> ResolvedVersion:
    try:
        version = version_queries.usable_version(session, version_id, kind, project_id)
    except version_queries.UnusableVersion as exc:
        raise JobError(str(exc)) from None
    return _resolved(settings, version)


def policy_version(
    session: Session, settings: Settings, project: Project, version_id: int | None
) -> ResolvedVersion:
    """The given policy version, else the project's, else the default policy (its version row
    is made the first time a project uses it, so every response names its version)."""
    chosen = version_id or project.policy_version_id
    if chosen is not None:
        return version_of_kind(session, settings, chosen, ModelKind.policy, project.id)
    # Materialising the default (a format conversion, done once per model store) happens here,
    # before the version row refers to its directory.
    path = ensure_policy(settings.policy_model, settings.model_dir)
    version = version_queries.get_or_create_base_policy(
        session,
        project.id,
        settings.policy_model,
        version_queries.stored_path(settings.model_dir, path),
    )
    return _resolved(settings, version)


def reward_version(
    session: Session, settings: Settings, project: Project, version_id: int | None
) -> ResolvedVersion:
    """The given reward version, else the project's, else its latest."""
    chosen = version_id or project.reward_version_id
    if chosen is None:
        latest = version_queries.latest_version(session, project.id, ModelKind.reward)
        if latest is None:
            raise JobError("the project has no reward model yet; run a reward job first")
        chosen = latest.id
    return version_of_kind(session, settings, chosen, ModelKind.reward, project.id)
