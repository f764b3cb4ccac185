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
from starlette.responses import RedirectResponse, Response

from app.api.labels import new_idempotency_key, swap_secret
from app.deps import SettingsDep, WebRater, WriteSessionDep, check_csrf
from app.models import User, utcnow
from app.queries import labels as label_queries
from app.queries import queue
from app.rendering import render_markdown, render_messages
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


def _rate_url(project_id: int, notice: str | None = None) -> str:
    return f"/rate?project={project_id}" + (f"&notice={notice}" if notice else "")


def _start_of_day(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


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
            now=now,
        )
    except queue.QueueBusy:
        return render(
            request,
            "message.html",
            {
                "user": user,
                "heading": "Busy",
                "message": "Many annotators are taking pairs right now. Reload in a moment.",
            },
            status_code=503,
        )
    if leased is None:
        return _empty_page(request, user, [w for w in work if w.project_id != project], name)
    content = leased.content
    swapped = queue.shown_swapped(swap_secret(request), user.id, content.comparison_id)
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
            "idempotency_key": new_idempotency_key(),
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


@router.post("/rate")
def submit_rating(
    request: Request,
    user: WebRater,
    session: WriteSessionDep,
    comparison_id: Annotated[int, Form()],
    project_id: Annotated[int, Form()],
    idempotency_key: Annotated[str, Form(min_length=8, max_length=100)],
    csrf_token: Annotated[str, Form()] = "",
    action: Annotated[Literal["submit", "skip"], Form()] = "submit",
    choice: Annotated[Literal["better", "worse", "same"] | None, Form()] = None,
    strength: Annotated[Literal["", "slightly", "much"], Form()] = "",
    feedback: Annotated[str, Form(max_length=100_000)] = "",
    flag_harmful: Annotated[bool, Form()] = False,
    flag_untrue: Annotated[bool, Form()] = False,
    flag_unhelpful: Annotated[bool, Form()] = False,
    rendered_at: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    if action == "skip":
        if not queue.skip_comparison(session, comparison_id, user.id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no comparison {comparison_id}")
        return RedirectResponse(_rate_url(project_id, "skipped"), status_code=303)
    if choice is None:
        return RedirectResponse(_rate_url(project_id, "choose"), status_code=303)
    # Recomputed here: the hidden shown_swapped field is only a courtesy to scripts.
    swapped = queue.shown_swapped(swap_secret(request), user.id, comparison_id)
    data = label_queries.LabelInput(
        comparison_id=comparison_id,
        annotator_id=user.id,
        idempotency_key=idempotency_key,
        choice=label_queries.screen_to_stored(choice, swapped),
        strength=(strength or None) if choice != "same" else None,
        feedback=feedback.strip(),
        flag_harmful=flag_harmful,
        flag_untrue=flag_untrue,
        flag_unhelpful=flag_unhelpful,
        shown_swapped=swapped,
        time_spent_ms=_time_spent(rendered_at),
    )
    try:
        label_queries.record_label(session, data)
    except label_queries.ComparisonNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no comparison {comparison_id}") from exc
    except label_queries.AlreadyLabelled:
        return RedirectResponse(_rate_url(project_id, "already"), status_code=303)
    except label_queries.KeyReused:
        return render(
            request,
            "message.html",
            {
                "user": user,
                "heading": "This form was already used",
                "message": "Its key belongs to another label. Reload the rating page and rate again.",
            },
            status_code=status.HTTP_409_CONFLICT,
        )
    # Redirect after post: a reload shows the next pair instead of posting again.
    return RedirectResponse(_rate_url(project_id, "saved"), status_code=303)
