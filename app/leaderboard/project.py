"""A project's leaderboard: its battles counted in the database, rated in ``board``.

The one place that decides what a project's leaderboard is (which reward model stands beside
the humans, which version is the base): the API, the models page and the CLI all call
``project_leaderboard``.

Caching between labels, in two layers, each process its own:

- The battle counts of a project are kept with the watermarks they were counted at (newest
  label id, newest reward score id, the versions). A request first reads the watermarks
  (three index lookups); unchanged, the counts are reused; when only new labels arrived,
  only those are counted and added. Anything else (a new reward score, a version deleted)
  counts everything again, and so does every request once the counts are REFRESH_S old,
  which bounds what an unusual change (a label deleted, an older transaction committing a
  lower id late, a gold answer set later) can leave stale. The trusted-only counts are
  kept apart (``trusted_only`` is in the key) and also carry the project's newest status
  change: once an annotator is flagged, suspended or reinstated, they are counted again.
- The ratings are a pure function of those counts, memoised in ``board.leaderboard``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.leaderboard.board import Battle, Board, Source, leaderboard
from app.models import ModelKind, ModelVersion, Project
from app.queries import battles as battle_queries
from app.queries.model_versions import UnusableVersion, usable_version
from app.queries.trusted_labels import trust_watermark


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
    # Only labels the trust rule keeps (app/queries/trusted_labels.py) were counted.
    trusted_only: bool = False

    def name(self, source: Source) -> str:
        return self.names.get(source) or source.name or f"version {source.version_id}"


def project_leaderboard(
    session: Session,
    project: Project,
    *,
    base_version_id: int | None = None,
    trusted_only: bool = False,
) -> ProjectLeaderboard:
    """Raises ``LookupError`` when ``base_version_id`` is not a policy version of the project.
    ``trusted_only`` counts only the labels the trust rule keeps: flagged and suspended
    annotators' labels and gold pairs are left out."""
    base = _base(session, project, base_version_id)
    reward = battle_queries.current_reward_version(session, project)
    rows = _battle_rows(session, project, reward.id if reward else None, trusted_only)
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
        trusted_only=trusted_only,
    )


def _source(version_id: int | None, name: str | None) -> Source:
    # A version is named by its id (its name may change); an import's name is all it has.
    return Source(version_id=version_id) if version_id is not None else Source(name=name)


def _base(session: Session, project: Project, version_id: int | None) -> ModelVersion | None:
    if version_id is None:
        return battle_queries.base_policy(session, project)
    try:
        return usable_version(session, version_id, ModelKind.policy, project.id)
    except UnusableVersion as exc:
        raise LookupError(str(exc)) from None


REFRESH_S = 60.0
MAX_CACHED_PROJECTS = 256

BattleKey = tuple[int | None, str | None, int | None, str | None, str, str | None]


@dataclass(frozen=True)
class _Counted:
    marks: battle_queries.Watermarks
    # The project's newest annotator status change (trusted-only counts; 0 otherwise).
    trust: int
    rows: Counter[BattleKey]
    counted_at: float


_counted: dict[tuple[object, ...], _Counted] = {}
_counted_lock = threading.Lock()


def _battle_rows(
    session: Session, project: Project, reward_version_id: int | None, trusted_only: bool
) -> list[battle_queries.BattleRow]:
    marks = battle_queries.watermarks(session)
    trust = trust_watermark(session, project.id) if trusted_only else 0
    # The database and the project's creation time are in the key: ids repeat across test
    # databases, and on SQLite after a rolled-back transaction.
    key = (
        str(session.get_bind().engine.url),
        project.id,
        project.created_at,
        reward_version_id,
        trusted_only,
    )
    with _counted_lock:
        cached = _counted.get(key)
    now = time.monotonic()
    if (
        cached is not None
        and now - cached.counted_at < REFRESH_S
        and cached.trust == trust
        and cached.marks.score_id == marks.score_id
        and cached.marks.versions == marks.versions
        and cached.marks.label_id <= marks.label_id
    ):
        rows = cached.rows
        if marks.label_id > cached.marks.label_id:
            rows = rows + _counter(
                battle_queries.battle_counts(
                    session,
                    project.id,
                    reward_version_id=reward_version_id,
                    after_label_id=cached.marks.label_id,
                    up_to_label_id=marks.label_id,
                    trusted_only=trusted_only,
                )
            )
        counted = _Counted(marks, trust, rows, cached.counted_at)
    else:
        rows = _counter(
            battle_queries.battle_counts(
                session,
                project.id,
                reward_version_id=reward_version_id,
                up_to_label_id=marks.label_id,
                trusted_only=trusted_only,
            )
        )
        counted = _Counted(marks, trust, rows, now)
    with _counted_lock:
        if len(_counted) >= MAX_CACHED_PROJECTS and key not in _counted:
            _counted.pop(next(iter(_counted)))
        _counted[key] = counted
    return [battle_queries.BattleRow(*k, n) for k, n in rows.items()]


def _counter(rows: list[battle_queries.BattleRow]) -> Counter[BattleKey]:
    counts: Counter[BattleKey] = Counter()
    for row in rows:
        counts[tuple(row[:-1])] += row.labels  # type: ignore[index]
    return counts
