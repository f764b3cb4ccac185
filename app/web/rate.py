"""The rating page: one comparison at a time, plain form posts, redirect after each post.

Position bias: each annotator sees A and B swapped on some pairs, chosen by a keyed hash of
(annotator, comparison), so a reload shows the same order and the swap flag the form posts
back is never trusted. The answer is turned back into the comparison's own order before it
is stored, with ``shown_swapped`` recorded beside it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Request, status
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app import rating
from app.deps import SettingsDep, WebRater, WriteSessionDep, check_csrf
from app.models import User, utcnow
from app.queries import labels as label_queries
from app.queries import quality as quality_queries
from app.queries import queue
from app.rendering import render_markdown, render_messages
from app.schemas.labels import LabelCreate
from app.web.templating import render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "saved": "Saved. Here is the next pair.",
    "skipped": "Skipped.",
    "already": "You had already rated that pair; it was not counted twice.",
    "choose": "Choose Better, Worse or Same before submitting.",
}
# Longer than this is a form left open overnight, not time spent reading.
MAX_TIME_SPENT_MS = 24 * 3600 * 1000
# The form's names for the label's fields, for a notice that says what was refused.
FIELD_NAMES = {
    "choice": "Choice",
    "strength": "Strength",
    "feedback": "Feedback",
    "idempotency_key": "The form's key",
    "comparison_id": "The pair",
}


def _rate_url(project_id: int, notice: str | None = None) -> str:
    return f"/rate?project={project_id}" + (f"&notice={notice}" if notice else "")


def _start_of_day(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def _suspended_page(request: Request, user: User, session: Session, project_id: int) -> Response:
    return render(
        request,
        "message.html",
        {
            "user": user,
            "heading": "Suspended from this project",
            "message": quality_queries.refusal_to_rate(session, project_id),
        },
        status_code=status.HTTP_403_FORBIDDEN,
    )


def _empty_page(
    request: Request, user: User, work: list[queue.ProjectWork], project_name: str | None
) -> Response:
    return render(
        request,
        "rate_empty.html",
        {"user": user, "work": work, "project_name": project_name},
    )


@router.get("/rate")
def rate_page(
    request: Request,
    user: WebRater,
    session: WriteSessionDep,
    settings: SettingsDep,
    project: int | None = None,
    notice: str | None = None,
) -> Response:
    now = utcnow()
    work = queue.projects_with_work(session, user.id)
    if project is None:
        if not work:
            return _empty_page(request, user, work, None)
        project = work[0].project_id
    found = queue.project_settings(session, project)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no project {project}")
    name, guidelines, labels_wanted = found
    try:
        leased = queue.take_next(
            session,
            project_id=project,
            user_id=user.id,
            lease_for=timedelta(seconds=settings.assignment_lease_s),
            gold_key=rating.gold_key(request.app.state),
            now=now,
        )
    except queue.Suspended:
        return _suspended_page(request, user, session, project)
    except queue.QueueBusy:
        message = "Many annotators are taking pairs right now. Reload in a moment."
        return _message(request, user, "Busy", message, 503, _rate_url(project))
    if leased is None:
        return _empty_page(request, user, [w for w in work if w.project_id != project], name)
    content = leased.content
    swapped = rating.shown_swapped_in(request.app.state, user.id, content.comparison_id)
    left, right = (content.text_b, content.text_a) if swapped else (content.text_a, content.text_b)
    return render(
        request,
        "rate.html",
        {
            "user": user,
            "project_id": project,
            "project_name": name,
            "guidelines": render_markdown(guidelines) if guidelines.strip() else None,
            "work": work,
            "turns": render_messages(content.messages),
            "response_a": render_markdown(left),
            "response_b": render_markdown(right),
            "comparison_id": content.comparison_id,
            "shown_swapped": swapped,
            "idempotency_key": rating.new_idempotency_key(),
            "rendered_at": int(time.time() * 1000),
            "labels_today": queue.labels_since(session, user.id, _start_of_day(now)),
            "left": queue.comparisons_left(session, project, labels_wanted, user.id, now),
            "notice": NOTICES.get(notice or ""),
        },
    )


def _time_spent(rendered_at: str) -> int | None:
    try:
        started = int(rendered_at)
    except ValueError:
        return None
    return max(0, min(MAX_TIME_SPENT_MS, int(time.time() * 1000) - started))


def _message(
    request: Request, user: User, heading: str, message: str, status_code: int, back: str
) -> Response:
    context = {"user": user, "heading": heading, "message": message, "back_url": back}
    return render(request, "message.html", context, status_code=status_code)


def _refusal(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{FIELD_NAMES.get(field, field or 'The label')}: {message}.")
    return " ".join(problems)


@router.post("/rate")
def submit_rating(
    request: Request,
    user: WebRater,
    session: WriteSessionDep,
    comparison_id: Annotated[int, Form()],
    project_id: Annotated[int, Form()],
    idempotency_key: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    action: Annotated[Literal["submit", "skip"], Form()] = "submit",
    choice: Annotated[str, Form()] = "",
    strength: Annotated[str, Form()] = "",
    feedback: Annotated[str, Form()] = "",
    flag_harmful: Annotated[bool, Form()] = False,
    flag_untrue: Annotated[bool, Form()] = False,
    flag_unhelpful: Annotated[bool, Form()] = False,
    rendered_at: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    back = _rate_url(project_id)
    if action == "skip":
        if not queue.skip_comparison(session, comparison_id, user.id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no comparison {comparison_id}")
        return RedirectResponse(_rate_url(project_id, "skipped"), status_code=303)
    if not choice:
        return RedirectResponse(_rate_url(project_id, "choose"), status_code=303)
    # Recomputed here: the hidden shown_swapped field is only a courtesy to scripts.
    swapped = rating.shown_swapped_in(request.app.state, user.id, comparison_id)
    suspended_from = quality_queries.suspended_project(session, comparison_id, user.id)
    if suspended_from is not None:
        earlier = label_queries.label_by_key(session, idempotency_key)
        if earlier is None or (earlier.annotator_id, earlier.comparison_id) != (
            user.id,
            comparison_id,
        ):
            return _suspended_page(request, user, session, suspended_from)
        # A form sent before the suspension and sent again: it was saved, say so.
        return RedirectResponse(_rate_url(project_id, "saved"), status_code=303)
    try:
        body = LabelCreate.model_validate(
            {
                "comparison_id": comparison_id,
                "idempotency_key": idempotency_key,
                "choice": rating.screen_to_stored(choice, swapped),
                "strength": strength or None,
                "feedback": feedback,
                "flag_harmful": flag_harmful,
                "flag_untrue": flag_untrue,
                "flag_unhelpful": flag_unhelpful,
                "time_spent_ms": _time_spent(rendered_at),
            }
        )
    except ValidationError as exc:
        return _message(request, user, "Not saved", _refusal(exc), 422, back)
    try:
        label_queries.record_label(session, body.to_input(user.id, swapped))
    except label_queries.ComparisonNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no comparison {comparison_id}") from exc
    except label_queries.AlreadyLabelled:
        return RedirectResponse(_rate_url(project_id, "already"), status_code=303)
    except label_queries.KeyReused:
        return _message(
            request,
            user,
            "This form was already used",
            "Its key belongs to another label. Reload the rating page and rate again.",
            status.HTTP_409_CONFLICT,
            back,
        )
    # Redirect after post: a reload shows the next pair instead of posting again.
    return RedirectResponse(_rate_url(project_id, "saved"), status_code=303)
