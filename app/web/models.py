"""The models page (trainer, admin): each version with its lineage, KL, reward-model score and
human rating; a chart of the last two against KL; the leaderboard.

The console issue owns the page's frame; the evaluation content is ``evaluation_context``,
which any frame can render with the ``_models_evaluation.html`` include.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.deps import SessionDep, WebTrainer
from app.leaderboard.board import Entry, Source
from app.leaderboard.project import ProjectLeaderboard, project_leaderboard
from app.models import ModelVersion, Project
from app.queries.lineage import Lineage, project_lineage
from app.queries.reward_scores import mean_scores_by_version
from app.web.charts import KLChart, Point, kl_chart
from app.web.templating import render

router = APIRouter(include_in_schema=False)

# Where a version's KL from the reference policy is found in its metrics, best first: the
# held-out evaluation PPO runs at its end, then the last training step's estimate.
KL_METRICS = ("eval/new/kl", "objective/kl", "kl")


@dataclass(frozen=True)
class VersionRow:
    lineage: Lineage
    kl: float | None
    reward_score: float | None
    reward_scored: int
    entry: Entry | None
    current: bool


def version_kl(version: ModelVersion) -> float | None:
    """KL from the reference: 0 for a base model, else what its training measured."""
    if version.parent_id is None and version.job_id is None:
        return 0.0
    for key in KL_METRICS:
        value = version.metrics.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None


def evaluation_context(session: Session, project: Project) -> dict[str, Any]:
    """What the evaluation part of the models page shows for one project."""
    board: ProjectLeaderboard = project_leaderboard(session, project)
    entries = {e.source: e for e in board.board.entries}
    reward = board.reward_version
    means = mean_scores_by_version(session, project.id, reward.id) if reward else {}
    rows = []
    for lineage in project_lineage(session, project.id):
        v = lineage.version
        mean, scored = means.get(v.id, (None, 0))
        rows.append(
            VersionRow(
                lineage=lineage,
                kl=version_kl(v) if v.kind == "policy" else None,
                reward_score=mean,
                reward_scored=scored,
                entry=entries.get(Source(version_id=v.id)),
                current=v.id in (project.policy_version_id, project.reward_version_id),
            )
        )
    points = [
        Point(
            label=r.lineage.version.name,
            kl=r.kl,
            rating=r.entry.rating if r.entry else None,
            rating_low=r.entry.ci_low if r.entry else None,
            rating_high=r.entry.ci_high if r.entry else None,
            reward_score=r.reward_score,
        )
        for r in rows
        if r.kl is not None
    ]
    chart: KLChart | None = kl_chart(points)
    return {
        "project": project,
        "versions": rows,
        "board": board,
        "chart": chart,
    }


@router.get("/models")
def models_page(
    request: Request, session: SessionDep, user: WebTrainer, project: int | None = None
) -> Response:
    projects = list(session.scalars(select(Project).order_by(Project.name)))
    chosen = None
    if project is not None:
        chosen = session.get(Project, project)
        if chosen is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no project {project}")
    elif projects:
        with_versions = session.scalar(
            select(ModelVersion.project_id)
            .where(ModelVersion.project_id.is_not(None))
            .order_by(ModelVersion.id.desc())
            .limit(1)
        )
        chosen = session.get(Project, with_versions) if with_versions else projects[0]
    context: dict[str, Any] = {"user": user, "projects": projects, "project": chosen}
    if chosen is not None:
        context.update(evaluation_context(session, chosen))
    return render(request, "models.html", context)
