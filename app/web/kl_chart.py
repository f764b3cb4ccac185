"""Small server-drawn SVG charts: coordinates computed here, markup in the templates.

No script needed and nothing inline but SVG attributes (the pages' CSP forbids inline script
and style): colours come from classes in the page's stylesheet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Scale = Callable[[float], float]

WIDTH, HEIGHT = 560, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 16, 40


@dataclass(frozen=True)
class Point:
    """One version: its KL from the reference, human rating (with interval) and reward-model
    score; either of the last two may be missing."""

    label: str
    kl: float
    rating: float | None
    rating_low: float | None
    rating_high: float | None
    reward_score: float | None


@dataclass(frozen=True)
class Mark:
    label: str
    kl: float
    value: float
    x: float
    y: float
    # The interval's ends on screen (human rating only).
    y_low: float | None = None
    y_high: float | None = None


@dataclass(frozen=True)
class Axis:
    low: float
    high: float
    # Tick positions on screen and their text.
    ticks: tuple[tuple[float, str], ...]


@dataclass(frozen=True)
class KLChart:
    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom
    x: Axis
    rating: Axis | None
    reward: Axis | None
    human: tuple[Mark, ...]
    reward_marks: tuple[Mark, ...]


def _span(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    pad = (high - low) * 0.08
    return low - pad, high + pad


def _fmt(value: float) -> str:
    # Ratings are in the hundreds or thousands: whole numbers read best there.
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _linear(low: float, high: float, screen_low: float, screen_high: float) -> Scale:
    def to_screen(value: float) -> float:
        return screen_low + (value - low) / (high - low) * (screen_high - screen_low)

    return to_screen


def _axis(low: float, high: float, to_screen: Scale) -> Axis:
    values = [low + f * (high - low) for f in (0.0, 0.5, 1.0)]
    return Axis(low, high, tuple((to_screen(v), _fmt(v)) for v in values))


def kl_chart(points: Sequence[Point]) -> KLChart | None:
    """Human rating (left axis) and reward-model score (right axis) against KL; None when no
    point has either number."""
    usable = [p for p in points if p.rating is not None or p.reward_score is not None]
    if not usable:
        return None
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    kl_low, kl_high = _span([0.0, *[p.kl for p in usable]])
    if min(p.kl for p in usable) >= 0:
        kl_low = 0.0
    sx = _linear(kl_low, kl_high, left, right)

    rating_axis: Axis | None = None
    human: list[Mark] = []
    ends = [v for p in usable for v in (p.rating_low, p.rating_high, p.rating) if v is not None]
    if ends:
        low, high = _span(ends)
        sy = _linear(low, high, bottom, top)
        rating_axis = _axis(low, high, sy)
        for p in usable:
            if p.rating is None:
                continue
            y_low = sy(p.rating_low) if p.rating_low is not None else None
            y_high = sy(p.rating_high) if p.rating_high is not None else None
            human.append(Mark(p.label, p.kl, p.rating, sx(p.kl), sy(p.rating), y_low, y_high))

    reward_axis: Axis | None = None
    reward_marks: list[Mark] = []
    scores = [p.reward_score for p in usable if p.reward_score is not None]
    if scores:
        low, high = _span(scores)
        sy = _linear(low, high, bottom, top)
        reward_axis = _axis(low, high, sy)
        reward_marks = [
            Mark(p.label, p.kl, p.reward_score, sx(p.kl), sy(p.reward_score))
            for p in usable
            if p.reward_score is not None
        ]
    return KLChart(
        width=WIDTH,
        height=HEIGHT,
        plot=(left, top, right, bottom),
        x=_axis(kl_low, kl_high, sx),
        rating=rating_axis,
        reward=reward_axis,
        human=tuple(human),
        reward_marks=tuple(reward_marks),
    )
