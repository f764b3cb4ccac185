"""REST route: a project's leaderboard of policy versions (trainer and admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.api.projects import project_or_404
from app.deps import SessionDep, TrainerUser
from app.leaderboard.project import project_leaderboard
from app.schemas.evaluation import Leaderboard

router = APIRouter(tags=["evaluation"])


@router.get("/projects/{project_id}/leaderboard", response_model=Leaderboard)
def get_leaderboard(
    project_id: int,
    session: SessionDep,
    _user: TrainerUser,
    base_version_id: int | None = None,
    trusted_only: bool = False,
) -> Leaderboard:
    """Bradley-Terry ratings (Elo scale) with 95 % bootstrap intervals from blind battles,
    win rates against the base policy, and the reward model's verdicts beside the humans'.
    `trusted_only=true` counts only trusted labels: those of flagged and suspended
    annotators, and gold pairs, are left out (the rule training and exports follow)."""
    project = project_or_404(session, project_id)
    try:
        found = project_leaderboard(
            session, project, base_version_id=base_version_id, trusted_only=trusted_only
        )
    except LookupError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["query", "base_version_id"], "msg": str(exc), "type": "value_error"}],
        ) from None
    return Leaderboard.of(project_id, found)
