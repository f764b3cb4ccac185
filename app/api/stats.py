"""REST route: a project's labelling statistics (admin)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.projects import project_or_404
from app.deps import AdminUser, SessionDep
from app.schemas.stats import ProjectStats
from app.stats import project_stats as compute_stats

router = APIRouter(tags=["projects"])


@router.get("/projects/{project_id}/stats", response_model=ProjectStats)
def project_stats(project_id: int, _admin: AdminUser, session: SessionDep) -> ProjectStats:
    """Counts, choices, position bias, agreement between annotators, time per label."""
    return compute_stats(session, project_or_404(session, project_id))
