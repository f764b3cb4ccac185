"""REST routes for annotators: take the next comparison, label it, or skip it.

These two requests are the hot path of the product (hundreds a second with a full team), so
they stay lean: the caller is resolved with one narrow query, the handlers read rows as
tuples instead of ORM objects, and answers are serialised with orjson without a second
validation pass. The response models still document the bodies in OpenAPI.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

import anyio
import orjson
from anyio.lowlevel import RunVar
from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.orm import Session
from starlette.responses import Response

from app import rating
from app.deps import SessionDep, get_api_user, get_db, writable
from app.queries import labels as label_queries
from app.queries import quality as quality_queries
from app.queries import queue
from app.schemas.labels import (
    LabelAndNext,
    LabelCreate,
    LabelPublic,
    NextComparison,
    SkipResult,
)

router = APIRouter(tags=["labels"])

_limiter: RunVar[anyio.CapacityLimiter] = RunVar("rating_db_limiter")
T = TypeVar("T")


@contextmanager
def request_session(request: Request) -> Iterator[Session]:
    """The request's unit of work, exactly as `SessionDep` gives it (overrides included).

    Entered inside the one worker thread that does the request's database work: as a
    FastAPI dependency its set-up and its commit would each cost another thread switch.
    """
    provider: Callable[..., Iterator[Session]] = request.app.dependency_overrides.get(
        get_db, get_db
    )
    takes_request = bool(inspect.signature(provider).parameters)
    with contextmanager(provider)(*((request,) if takes_request else ())) as session:
        yield session


async def in_db_thread(request: Request, work: Callable[[Session], T]) -> T:
    """Runs `work` with the request's session in a worker thread; commits before returning."""
    try:
        limiter = _limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(rating.DB_CONCURRENCY)
        _limiter.set(limiter)

    def run() -> T:
        with request_session(request) as session:
            return work(session)

    return await anyio.to_thread.run_sync(run, limiter=limiter)


def suspended_error(session: Session, project_id: int) -> HTTPException:
    """The 403 of an annotator suspended from the project."""
    return HTTPException(
        status.HTTP_403_FORBIDDEN, quality_queries.refusal_to_rate(session, project_id)
    )


def current_rater(request: Request, session: Session) -> int:
    """The caller's user id if they may rate: a Bearer token, or the browser session + CSRF."""
    token = rating.bearer_token(request.headers.get("authorization", ""))
    if token is not None:
        found = label_queries.rater_for_token(session, token)
        if found is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "invalid, revoked or deactivated token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        user_id, role = found
    else:
        user = get_api_user(request, session)
        user_id, role = user.id, user.role
    if not rating.may_rate(role):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this needs the role {rating.rater_roles_text()}; you are {role}",
        )
    return user_id


def _json(body: object, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


@router.get(
    "/projects/{project_id}/next",
    response_model=NextComparison,
    responses={
        204: {"description": "Nothing left for the caller to rate in this project"},
        403: {"description": "The caller may not rate, or is suspended from this project"},
        503: {"description": "Lost the race for open pairs too often; retry shortly"},
    },
)
async def next_comparison(project_id: int, request: Request) -> Response:
    """The caller's next comparison, leased to them; their current one again if they hold one."""
    return await in_db_thread(request, lambda s: _next_comparison(project_id, request, s))


def _next_comparison(project_id: int, request: Request, request_session: Session) -> Response:
    with writable(request, request_session) as session:
        return _lease_and_show(project_id, request, session)


def _lease_and_show(project_id: int, request: Request, session: Session) -> Response:
    user_id = current_rater(request, session)
    pair = _lease_pair(project_id, user_id, request, session)
    if pair is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return _json(pair)


def _lease_pair(
    project_id: int, user_id: int, request: Request, session: Session
) -> dict[str, object] | None:
    """The body of a `next` answer for this annotator; None when nothing is left."""
    try:
        leased = queue.take_next(
            session,
            project_id=project_id,
            user_id=user_id,
            lease_for=timedelta(seconds=request.app.state.settings.assignment_lease_s),
            gold_key=rating.gold_key(request.app.state),
        )
    except queue.Suspended as exc:
        raise suspended_error(session, project_id) from exc
    except queue.QueueBusy as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "many annotators are taking pairs at once; retry in a moment",
            headers={"Retry-After": "1"},
        ) from exc
    if leased is None:
        if queue.project_settings(session, project_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no project {project_id}")
        return None
    content = leased.content
    return rating.next_pair_body(
        comparison_id=content.comparison_id,
        project_id=content.project_id,
        prompt=content.messages,
        text_a=content.text_a,
        text_b=content.text_b,
        swapped=rating.shown_swapped_in(request.app.state, user_id, content.comparison_id),
        lease_expires_at=leased.expires_at,
    )


@router.post(
    "/labels",
    response_model=LabelPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "A retry: the label this idempotency key made before"},
        403: {"description": "The caller may not rate, or is suspended from the project"},
        404: {"description": "No such comparison"},
        409: {"description": "Already labelled by the caller, or the key belongs elsewhere"},
    },
)
async def create_label(body: LabelCreate, request: Request) -> Response:
    """Records a label once: a retry with the same idempotency key gets the same label (200)."""
    return await in_db_thread(request, lambda s: _create_label(body, request, s))


def _create_label(body: LabelCreate, request: Request, session: Session) -> Response:
    user_id = current_rater(request, session)
    stored, created = _store(body, user_id, request, session)
    return _json(stored.__dict__, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.post(
    "/projects/{project_id}/labels",
    response_model=LabelAndNext,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "A retry: the label this idempotency key made before"},
        403: {"description": "The caller may not rate, or is suspended from the project"},
        404: {"description": "No such comparison or project"},
        409: {"description": "Already labelled by the caller, or the key belongs elsewhere"},
        503: {"description": "No pair could be leased right now; retry with the same key"},
    },
)
async def label_and_next(project_id: int, body: LabelCreate, request: Request) -> Response:
    """Records a label as `POST /labels` does and leases the caller's next comparison of the
    project, as `GET /projects/{id}/next` would: one round trip per label. A retry with the
    same key answers 200 with the same label and the caller's (held) next pair."""
    return await in_db_thread(request, lambda s: _label_and_next(project_id, body, request, s))


def _label_and_next(
    project_id: int, body: LabelCreate, request: Request, session: Session
) -> Response:
    user_id = current_rater(request, session)
    stored, created = _store(body, user_id, request, session)
    try:
        pair = _lease_pair(project_id, user_id, request, session)
    except HTTPException as exc:
        # A suspended annotator's retried label is still acknowledged; `next` says why
        # there is nothing more.
        if exc.status_code != status.HTTP_403_FORBIDDEN or created:
            raise
        pair = None
    return _json(
        {"label": stored.__dict__, "next": pair},
        status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


def _store(
    body: LabelCreate, user_id: int, request: Request, session: Session
) -> tuple[label_queries.StoredLabel, bool]:
    data = body.to_input(
        user_id, rating.shown_swapped_in(request.app.state, user_id, body.comparison_id)
    )
    project_id = quality_queries.suspended_project(session, body.comparison_id, user_id)
    if project_id is not None:
        # Nothing new from a suspended annotator, but a label sent before the suspension
        # and retried with its key is acknowledged: nothing the client sent is lost.
        earlier = label_queries.label_by_key(session, body.idempotency_key)
        if earlier is not None and (earlier.annotator_id, earlier.comparison_id) == (
            user_id,
            body.comparison_id,
        ):
            return earlier, False
        raise suspended_error(session, project_id)
    try:
        return label_queries.record_label(session, data)
    except label_queries.ComparisonNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no comparison {exc.args[0]}") from exc
    except label_queries.AlreadyLabelled as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"you already labelled comparison {exc.args[0]} (with another idempotency key); "
            "a comparison takes one label per annotator",
        ) from exc
    except label_queries.KeyReused as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "this idempotency key was already used for another label; use a fresh key",
        ) from exc


@router.post(
    "/comparisons/{comparison_id}/skip",
    response_model=SkipResult,
    responses={404: {"description": "No such comparison"}},
)
def skip(comparison_id: int, request: Request, session: SessionDep) -> Response:
    """Passes on a comparison: the caller is not offered it again (a label, if any, stays)."""
    user_id = current_rater(request, session)
    if not queue.skip_comparison(session, comparison_id, user_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no comparison {comparison_id}")
    return _json({"comparison_id": comparison_id, "status": "skipped"})
