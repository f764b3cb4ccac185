"""The models page (trainer, admin): a project's versions as a tree, each with its lineage,
metrics, KL, reward-model score and human rating; a chart of the last two against KL; the
leaderboard.

The evaluation part (rating, chart, leaderboard) is ``evaluation_context``; the template
renders it with the ``_models_evaluation.html`` include.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.deps import SessionDep, WebTrainer
from app.leaderboard.board import Entry, Source
from app.leaderboard.project import ProjectLeaderboard, project_leaderboard
from app.models import ModelVersion, Project
from app.queries import model_versions as version_queries
from app.queries import projects as project_queries
from app.queries.lineage import Lineage, project_lineage
from app.queries.reward_scores import mean_scores_by_version
from app.web.kl_chart import KLChart, Point, kl_chart
from app.web.templating import render

router = APIRouter(include_in_schema=False)

# Where a version's KL from the reference policy is found in its metrics, best first: the
# held-out evaluation PPO runs at its end, then the last training step's estimate.
KL_METRICS = ("eval/new/kl", "objective/kl", "kl")
# Metrics people look for first, in this order; the rest follow by name.
KEY_METRICS = (
    "accuracy",
    "eval/accuracy",
    "loss",
    "objective/scores",
    "objective/kl",
    "eval/score_gain",
    "num_processes",
)
SHOWN_METRICS = 8


@dataclass(frozen=True)
class VersionRow:
    lineage: Lineage
    # How far below its root the version sits in the tree of versions trained from others.
    depth: int
    metrics: list[tuple[str, str]]
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


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def shown_metrics(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    scalar = {k: v for k, v in metrics.items() if isinstance(v, int | float | str | bool)}
    keys = [k for k in KEY_METRICS if k in scalar]
    keys += sorted(k for k in scalar if k not in KEY_METRICS)
    return [(k, _fmt(scalar[k])) for k in keys[:SHOWN_METRICS]]


def as_tree(lineages: list[Lineage]) -> list[tuple[Lineage, int]]:
    """Versions depth-first: each root (oldest first) followed by what was trained from it."""
    by_id = {line.version.id: line for line in lineages}
    children: dict[int | None, list[Lineage]] = {}
    for line in sorted(lineages, key=lambda line: line.version.id):
        parent = line.version.parent_id if line.version.parent_id in by_id else None
        children.setdefault(parent, []).append(line)
    ordered: list[tuple[Lineage, int]] = []

    def walk(line: Lineage, depth: int) -> None:
        ordered.append((line, depth))
        for child in children.get(line.version.id, []):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    return ordered


def evaluation_context(
    session: Session, project: Project, *, trusted_only: bool = False
) -> dict[str, Any]:
    """What the models page shows for one project; ``trusted_only`` as on the API."""
    board: ProjectLeaderboard = project_leaderboard(session, project, trusted_only=trusted_only)
    entries = {e.source: e for e in board.board.entries}
    reward = board.reward_version
    means = mean_scores_by_version(session, project.id, reward.id) if reward else {}
    rows = []
    for lineage, depth in as_tree(project_lineage(session, project.id)):
        v = lineage.version
        mean, scored = means.get(v.id, (None, 0))
        rows.append(
            VersionRow(
                lineage=lineage,
                depth=depth,
                metrics=shown_metrics(v.metrics),
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
    return {"project": project, "versions": rows, "board": board, "chart": chart}


@router.get("/models")
def models_page(
    request: Request,
    session: SessionDep,
    user: WebTrainer,
    project: int | None = None,
    trusted_only: bool = False,
) -> Response:
    projects = project_queries.list_projects(session, by_name=True)
    chosen = None
    if project is not None:
        chosen = project_queries.get_project(session, project)
        if chosen is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no project {project}")
    elif projects:
        # The project that trained last is the one a trainer most likely came to see.
        latest = version_queries.latest_project_with_versions(session)
        chosen = project_queries.get_project(session, latest) if latest else projects[0]
    context: dict[str, Any] = {
        "user": user,
        "active_section": "/models",
        "projects": projects,
        "project": chosen,
    }
    if chosen is not None:
        context.update(evaluation_context(session, chosen, trusted_only=trusted_only))
    return render(request, "models.html", context)
