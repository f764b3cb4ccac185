"""HTML page: a project's quality dashboard (admin), and its Suspend and Reinstate forms.

The numbers come from the same function as ``GET /api/v1/projects/{id}/stats`` plus three
series (app/queries/dashboard.py); the charts are inline SVG drawn on the server. The
per-annotator table is the annotators endpoint's (app/web/annotators.py), and the forms
call the same domain functions as its suspend and reinstate endpoints (app/quality/actions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app import stats as project_statistics
from app.deps import SessionDep, WebAdmin, check_csrf
from app.models import Project, User
from app.quality import actions
from app.queries import dashboard
from app.queries import users as user_queries
from app.schemas.quality import StatusChange
from app.schemas.stats import ProjectStats
from app.web import annotators, forms
from app.web.charts import Chart, bar_chart, line_chart
from app.web.forms import PostedForm
from app.web.projects import SECTION, project_or_404
from app.web.templating import render

router = APIRouter(include_in_schema=False)

# Days of the labels-per-day chart (the latest ones).
DAYS_SHOWN = 60


def _pct(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:.0f}%"


def _num(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:.2f}"


def _choice_chart(stats: ProjectStats) -> Chart:
    c = stats.choices
    total = c.better + c.worse + c.same
    names = ["Better", "Same", "Worse"]
    values = [c.better, c.same, c.worse]
    return bar_chart(
        "Choices (B compared with A)",
        names,
        values,
        css=["bar", "bar-3", "bar-2"],
        description=", ".join(
            f"{n} {v:,} ({_pct(v / total if total else None)})"
            for n, v in zip(names, values, strict=True)
        ),
    )


def _position_chart(stats: ProjectStats) -> Chart:
    bias = stats.position_bias
    left = bias.left_share
    values = [] if left is None else [left * 100, (1 - left) * 100]
    chart = bar_chart(
        "Left / right share of decided labels",
        ["Left", "Right"],
        values,
        css=["bar", "bar-2"],
        value_fmt="{:.1f}%",
        reference=50.0,
        reference_text="no bias",
        description=(
            f"left {_pct(left)}, right {_pct(None if left is None else 1 - left)} "
            f"of {bias.decided:,} labels that preferred a side; 50% is no position bias"
        ),
    )
    return chart


NOTICES = {
    "suspended": "{name} is suspended from this project.",
    "reinstated": "{name} is reinstated: they rate again and their labels count.",
}


@router.get("/projects/{project_id}/quality")
def quality_page(
    project_id: int,
    request: Request,
    session: SessionDep,
    user: WebAdmin,
    done: str | None = None,
    who: int | None = None,
) -> Response:
    project = project_or_404(session, project_id)
    notice = None
    if done in NOTICES and who is not None:
        person = user_queries.get_user(session, who)
        notice = NOTICES[done].format(name=person.username if person else f"User {who}")
    return _page(request, session, user, project, notice=notice)


def _page(
    request: Request,
    session: Session,
    user: User,
    project: Project,
    *,
    notice: str | None = None,
    action_form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The dashboard; ``action_form`` is a refused Suspend or Reinstate form (the annotator,
    what was typed and the error), shown again beside that annotator."""
    stats = project_statistics.project_stats(session, project)
    days = dashboard.labels_per_day(session, project.id)[-DAYS_SHOWN:]
    period, agreement = dashboard.agreement_over_time(session, project.id)
    times = dashboard.time_per_label(session, project.id)
    every = max(1, len(days) // 8)
    per_day = bar_chart(
        "Labels per day",
        [d.day.strftime("%b %d") for d in days],
        [d.labels for d in days],
        every_nth_label=every,
        width=960,
        description=(
            f"{sum(d.labels for d in days):,} labels over {len(days)} days, "
            f"most on one day {max((d.labels for d in days), default=0):,}"
        ),
    )
    alpha_values = [p.alpha for p in agreement]
    alpha = line_chart(
        f"Agreement per {period} (Krippendorff's \u03b1)",
        [p.start.strftime("%b %d") for p in agreement],
        alpha_values,
        low=min([0.0, *[v for v in alpha_values if v is not None]]),
        high=1.0,
        reference=0.667,
        reference_text="\u03b1 0.667",
        every_nth_label=max(1, len(agreement) // 6),
        description=", ".join(f"{p.start:%b %d}: {_num(p.alpha)}" for p in agreement[-12:])
        or "no comparison has two labels yet",
    )
    time_chart = bar_chart(
        "Time per label",
        list(dashboard.TIME_BUCKET_NAMES),
        times,
        description=", ".join(
            f"{n}: {v:,}" for n, v in zip(dashboard.TIME_BUCKET_NAMES, times, strict=True)
        ),
    )
    return render(
        request,
        "quality.html",
        {
            "user": user,
            "active_section": SECTION,
            "project": project,
            "stats": stats,
            "charts": {
                "choices": _choice_chart(stats),
                "position": _position_chart(stats),
                "per_day": per_day,
                "alpha": alpha,
                "time": time_chart,
            },
            "agreement": agreement,
            "pct": _pct,
            "table": annotators.annotator_table(request, session, project.id),
            "notice": notice,
            "action_form": action_form or {},
        },
        status_code=status_code,
    )


Action = Callable[[Session, int, int, User, str], None]


@router.post("/projects/{project_id}/quality/annotators/{user_id}/suspend")
def suspend_annotator(
    project_id: int,
    user_id: int,
    request: Request,
    form: PostedForm,
    session: SessionDep,
    admin: WebAdmin,
) -> Response:
    return _change_status(request, session, admin, project_id, user_id, form, actions.suspend)


@router.post("/projects/{project_id}/quality/annotators/{user_id}/reinstate")
def reinstate_annotator(
    project_id: int,
    user_id: int,
    request: Request,
    form: PostedForm,
    session: SessionDep,
    admin: WebAdmin,
) -> Response:
    return _change_status(request, session, admin, project_id, user_id, form, actions.reinstate)


def _change_status(
    request: Request,
    session: Session,
    admin: User,
    project_id: int,
    user_id: int,
    form: dict[str, str],
    act: Action,
) -> Response:
    """Suspend or Reinstate from the dashboard; a missing reason is shown beside the field."""
    check_csrf(request, form.get("csrf_token"))
    project = project_or_404(session, project_id)
    if user_queries.get_user(session, user_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    body, errors = forms.parse(StatusChange, {"reason": form.get("reason", "").strip()})
    if body is None:
        refused = {"user_id": user_id, "reason": form.get("reason", ""), "errors": errors}
        return _page(request, session, admin, project, action_form=refused, status_code=422)
    act(session, project.id, user_id, admin, body.reason)
    done = "suspended" if act is actions.suspend else "reinstated"
    return RedirectResponse(
        f"/projects/{project.id}/quality?done={done}&who={user_id}#annotator-{user_id}",
        status_code=303,
    )
