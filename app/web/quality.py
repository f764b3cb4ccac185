"""HTML page: a project's quality dashboard (admin).

The numbers come from the same function as ``GET /api/v1/projects/{id}/stats`` plus three
series (app/queries/dashboard.py); the charts are inline SVG drawn on the server.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app import stats as project_statistics
from app.deps import SessionDep, WebAdmin
from app.queries import dashboard
from app.schemas.stats import ProjectStats
from app.web.charts import Chart, bar_chart, line_chart
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


@router.get("/projects/{project_id}/quality")
def quality_page(
    project_id: int, request: Request, session: SessionDep, user: WebAdmin
) -> Response:
    project = project_or_404(session, project_id)
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
        },
    )
