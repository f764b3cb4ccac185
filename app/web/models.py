"""HTML page: model versions with their lineage and metrics (trainer, admin).

The leaderboard joins this page with the evaluation issue (GET .../leaderboard).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.deps import SessionDep, WebTrainer
from app.models import ModelVersion
from app.queries import model_versions as version_queries
from app.queries import projects as project_queries
from app.web.templating import render

router = APIRouter(include_in_schema=False)

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
MAX_VERSIONS = 500


@dataclass
class VersionRow:
    version: ModelVersion
    depth: int
    lineage: list[ModelVersion]
    metrics: list[tuple[str, str]]
    current: bool


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def _metrics(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    scalar = {k: v for k, v in metrics.items() if isinstance(v, int | float | str | bool)}
    keys = [k for k in KEY_METRICS if k in scalar]
    keys += sorted(k for k in scalar if k not in KEY_METRICS)
    return [(k, _fmt(scalar[k])) for k in keys]


def version_rows(versions: list[ModelVersion], current: set[int]) -> list[VersionRow]:
    """Versions as trees: each root followed by its descendants, depth-first, oldest first."""
    by_id = {v.id: v for v in versions}
    children: dict[int | None, list[ModelVersion]] = {}
    for v in sorted(versions, key=lambda v: v.id):
        parent = v.parent_id if v.parent_id in by_id else None
        children.setdefault(parent, []).append(v)
    rows: list[VersionRow] = []

    def walk(version: ModelVersion, depth: int, path: list[ModelVersion]) -> None:
        rows.append(
            VersionRow(version, depth, path, _metrics(version.metrics), version.id in current)
        )
        for child in children.get(version.id, []):
            walk(child, depth + 1, [*path, version])

    for root in children.get(None, []):
        walk(root, 0, [])
    return rows


@router.get("/models")
def models_page(
    request: Request, session: SessionDep, user: WebTrainer, project: int | None = None
) -> Response:
    projects = project_queries.list_projects(session)
    versions = version_queries.list_versions(session, project_id=project, limit=MAX_VERSIONS)
    current = {
        v for p in projects for v in (p.policy_version_id, p.reward_version_id) if v is not None
    }
    names = {p.id: p.name for p in projects}
    groups: list[tuple[str, str, list[VersionRow]]] = []
    for kind, title in (("policy", "Policies"), ("reward", "Reward models")):
        of_kind = [v for v in versions if v.kind == kind]
        groups.append((kind, title, version_rows(of_kind, current)))
    return render(
        request,
        "models.html",
        {
            "user": user,
            "active_section": "/models",
            "groups": groups,
            "projects": projects,
            "project_names": names,
            "selected": project,
            "count": len(versions),
        },
    )
