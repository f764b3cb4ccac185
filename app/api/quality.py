"""REST routes for quality control (admin): the annotators table, suspension and
reinstatement, gold answers on comparisons."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from starlette.responses import Response

from app.api.projects import project_or_404
from app.deps import AdminUser, SessionDep, writable
from app.models import User
from app.quality import actions
from app.quality import recompute as reliability
from app.queries import quality as quality_queries
from app.queries import users as user_queries
from app.schemas.quality import (
    AnnotatorPublic,
    AnnotatorStatusPublic,
    ComparisonGold,
    ComparisonGoldPublic,
    StatusChange,
    StatusEventPublic,
)

router = APIRouter(tags=["quality"])


def _table(session: SessionDep, project_id: int, response: Response) -> list[AnnotatorPublic]:
    computed_at, rows = reliability.annotator_table(session, project_id)
    if computed_at is not None:
        response.headers["X-Computed-At"] = computed_at.isoformat()
    return [AnnotatorPublic(**row, computed_at=computed_at) for row in rows]


@router.get("/projects/{project_id}/annotators", response_model=list[AnnotatorPublic])
def list_annotators(
    project_id: int, request: Request, response: Response, _admin: AdminUser, session: SessionDep
) -> list[AnnotatorPublic]:
    """Every annotator who labelled in the project, from the last reliability computation
    (`X-Computed-At`); a stale one is recomputed in the background (`X-Recomputing: true`)."""
    project_or_404(session, project_id)
    with writable(request, session) as writer:
        started = reliability.refresh(writer, request.app.state.sessionmaker, project_id)
    response.headers["X-Recomputing"] = "true" if started else "false"
    return _table(session, project_id, response)


@router.post("/projects/{project_id}/annotators/recompute", response_model=list[AnnotatorPublic])
def recompute_annotators(
    project_id: int, response: Response, _admin: AdminUser, session: SessionDep
) -> list[AnnotatorPublic]:
    """Recomputes reliability now and answers with the table (about a minute per million
    labels; the GET answers at once from the last computation)."""
    project_or_404(session, project_id)
    reliability.recompute(session, project_id)
    return _table(session, project_id, response)


def _annotator_or_404(session: SessionDep, user_id: int) -> User:
    user = user_queries.get_user(session, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    return user


def _status_of(session: SessionDep, project_id: int, user_id: int) -> AnnotatorStatusPublic:
    row = quality_queries.qualities(session, project_id)[user_id]
    return AnnotatorStatusPublic(
        project_id=project_id, user_id=user_id, status=row.status, reasons=list(row.reasons)
    )


@router.post(
    "/projects/{project_id}/annotators/{user_id}/suspend",
    response_model=AnnotatorStatusPublic,
)
def suspend_annotator(
    project_id: int, user_id: int, body: StatusChange, admin: AdminUser, session: SessionDep
) -> AnnotatorStatusPublic:
    """Suspends the annotator from the project: no more pairs of it, labels left out of
    training; the rules never lift it."""
    project_or_404(session, project_id)
    _annotator_or_404(session, user_id)
    actions.suspend(session, project_id, user_id, admin, body.reason)
    return _status_of(session, project_id, user_id)


@router.post(
    "/projects/{project_id}/annotators/{user_id}/reinstate",
    response_model=AnnotatorStatusPublic,
)
def reinstate_annotator(
    project_id: int, user_id: int, body: StatusChange, admin: AdminUser, session: SessionDep
) -> AnnotatorStatusPublic:
    """Lifts a suspension or a flag: the annotator rates again and their labels count; the
    rules raise no more than `watch` for them afterwards."""
    project_or_404(session, project_id)
    _annotator_or_404(session, user_id)
    actions.reinstate(session, project_id, user_id, admin, body.reason)
    return _status_of(session, project_id, user_id)


@router.get(
    "/projects/{project_id}/annotators/{user_id}/history",
    response_model=list[StatusEventPublic],
)
def status_history(
    project_id: int, user_id: int, _admin: AdminUser, session: SessionDep
) -> list[StatusEventPublic]:
    """Every change of the annotator's status in the project: who or what, when, why."""
    project_or_404(session, project_id)
    return [
        StatusEventPublic.model_validate(event)
        for event in quality_queries.status_history(session, project_id, user_id)
    ]


@router.patch("/comparisons/{comparison_id}", response_model=ComparisonGoldPublic)
def set_gold(
    comparison_id: int, body: ComparisonGold, _admin: AdminUser, session: SessionDep
) -> ComparisonGoldPublic:
    """Sets (`better`, `worse`, `same`: B compared with A) or clears (`null`) the gold answer."""
    comparison = quality_queries.set_gold(session, comparison_id, body.gold)
    if comparison is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no comparison {comparison_id}")
    return ComparisonGoldPublic(
        id=comparison.id,
        project_id=comparison.project_id,
        gold=comparison.gold_choice,
    )
