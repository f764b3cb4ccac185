"""REST route: a project's labelling statistics (admin)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.projects import project_or_404
from app.deps import AdminUser, SessionDep
from app.queries import stats as stats_queries
from app.schemas.stats import ProjectStats

router = APIRouter(tags=["projects"])


@router.get("/projects/{project_id}/stats", response_model=ProjectStats)
def project_stats(project_id: int, _admin: AdminUser, session: SessionDep) -> ProjectStats:
    """Counts, choices, position bias, agreement between annotators, time per label."""
    return stats_queries.project_stats(session, project_or_404(session, project_id))
