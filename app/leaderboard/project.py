"""A project's leaderboard: its battles counted in the database, rated in ``board``.

The one place that decides what a project's leaderboard is (which reward model stands beside
the humans, which version is the base): the API, the models page and the CLI all call
``project_leaderboard``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.leaderboard.board import Battle, Board, Source, leaderboard
from app.models import ModelVersion, Project
from app.queries import battles as battle_queries


@dataclass(frozen=True)
class NamedVersion:
    id: int
    name: str


@dataclass(frozen=True)
class ProjectLeaderboard:
    board: Board
    # The display name of every source on the board.
    names: dict[Source, str]
    base: NamedVersion | None
    reward_version: NamedVersion | None

    def name(self, source: Source) -> str:
        return self.names.get(source) or source.name or f"version {source.version_id}"


def project_leaderboard(
    session: Session, project: Project, *, base_version_id: int | None = None
) -> ProjectLeaderboard:
    """Raises ``LookupError`` when ``base_version_id`` is not a policy version of the project."""
    base = _base(session, project, base_version_id)
    reward = battle_queries.current_reward_version(session, project)
    rows = battle_queries.battle_counts(
        session, project.id, reward_version_id=reward.id if reward else None
    )
    battles = [
        Battle(
            _source(r.version_a, r.name_a),
            _source(r.version_b, r.name_b),
            r.choice,
            r.labels,
            r.reward_choice,
        )
        for r in rows
    ]
    board = leaderboard(battles, Source(version_id=base.id) if base else None)
    ids = {e.source.version_id for e in board.entries if e.source.version_id is not None}
    version_names = battle_queries.version_names(session, ids)
    names = {
        e.source: (
            version_names.get(e.source.version_id, f"version {e.source.version_id}")
            if e.source.version_id is not None
            else str(e.source.name)
        )
        for e in board.entries
    }
    return ProjectLeaderboard(
        board=board,
        names=names,
        base=NamedVersion(base.id, base.name) if base else None,
        reward_version=NamedVersion(reward.id, reward.name) if reward else None,
    )


def _source(version_id: int | None, name: str | None) -> Source:
    # A version is named by its id (its name may change); an import's name is all it has.
    return Source(version_id=version_id) if version_id is not None else Source(name=name)


def _base(session: Session, project: Project, version_id: int | None) -> ModelVersion | None:
    if version_id is None:
        return battle_queries.base_policy(session, project)
    version = session.get(ModelVersion, version_id)
    if version is None or version.kind != "policy" or version.project_id not in (None, project.id):
        raise LookupError(f"no policy version {version_id} in project {project.id}")
    return version
