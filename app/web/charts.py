"""Small charts drawn on the server as inline SVG: no chart library, no script, and they
print. Builders here compute coordinates; templates/_charts.html turns them into SVG, so
every label goes through Jinja's escaping like any other text."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 480
HEIGHT = 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 14, 34


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value_text: str
    css: str = "bar"


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


@dataclass
class Chart:
    """One chart: bars and/or a polyline inside a plot area, with ticks and a description
    (the accessible name says what the numbers are, for people who cannot see the bars)."""

    title: str
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    points: list[tuple[float, float]] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    reference_y: float | None = None
    reference_text: str = ""
    empty: bool = False

    @property
    def plot_left(self) -> int:
        return PAD_LEFT

    @property
    def plot_right(self) -> int:
        return self.width - PAD_RIGHT

    @property
    def plot_top(self) -> int:
        return PAD_TOP

    @property
    def plot_bottom(self) -> int:
        return self.height - PAD_BOTTOM

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) that cuts ``span`` into about ``ticks``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        if raw <= step * power:
            return float(step * power)
    return float(10 * power)


def nice_range(low: float, high: float, whole: bool = False) -> tuple[float, float, float]:
    """(bottom, top, step) covering low..high on round numbers; whole numbers for counts."""
    step = nice_step(high - low)
    if whole:
        step = max(step, 1.0)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def fmt_number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _y_scale(chart: Chart, low: float, high: float) -> tuple[float, float]:
    """Pixels per unit and the unit at the bottom."""
    span = high - low or 1.0
    return (chart.plot_bottom - chart.plot_top) / span, low


def _y_ticks(chart: Chart, low: float, high: float, step: float, fmt: str) -> list[Tick]:
    scale, base = _y_scale(chart, low, high)
    ticks = []
    count = round((high - low) / step)
    for i in range(count + 1):
        value = low + step * i
        text = fmt.format(value) if fmt else fmt_number(round(value, 6))
        ticks.append(Tick(chart.plot_bottom - (value - base) * scale, text))
    return ticks


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    description: str = "",
    css: Sequence[str] | None = None,
    every_nth_label: int = 1,
    value_fmt: str = "",
    height: int = HEIGHT,
    width: int = WIDTH,
    reference: float | None = None,
    reference_text: str = "",
) -> Chart:
    chart = Chart(title=title, description=description, height=height, width=width)
    if not values or max(values) <= 0:
        chart.empty = True
        return chart
    _, top, step = nice_range(0, max(values), whole=all(float(v).is_integer() for v in values))
    scale, _ = _y_scale(chart, 0, top)
    slot = (chart.plot_right - chart.plot_left) / len(values)
    gap = min(6.0, slot * 0.2)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = value * scale
        chart.bars.append(
            Bar(
                x=chart.plot_left + i * slot + gap / 2,
                y=chart.plot_bottom - h,
                width=max(slot - gap, 1.0),
                height=h,
                label=label,
                value_text=value_fmt.format(value) if value_fmt else fmt_number(value),
                css=css[i] if css else "bar",
            )
        )
        if i % every_nth_label == 0:
            chart.x_ticks.append(Tick(chart.plot_left + (i + 0.5) * slot, label))
    chart.y_ticks = _y_ticks(chart, 0, top, step, "")
    if reference is not None:
        chart.reference_y = chart.plot_bottom - reference * scale
        chart.reference_text = reference_text
    return chart


def line_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    description: str = "",
    low: float | None = None,
    high: float | None = None,
    reference: float | None = None,
    reference_text: str = "",
    every_nth_label: int = 1,
    value_fmt: str = "{:.2f}",
) -> Chart:
    chart = Chart(title=title, description=description)
    known = [v for v in values if v is not None]
    if not known:
        chart.empty = True
        return chart
    lo = min(known) if low is None else low
    hi = max(known) if high is None else high
    if reference is not None:
        lo, hi = min(lo, reference), max(hi, reference)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    lo, hi, step = nice_range(lo, hi)
    scale, base = _y_scale(chart, lo, hi)
    slot = (chart.plot_right - chart.plot_left) / max(len(values), 1)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = chart.plot_left + (i + 0.5) * slot
        if value is not None:
            chart.points.append((x, chart.plot_bottom - (value - base) * scale))
        if i % every_nth_label == 0:
            chart.x_ticks.append(Tick(x, label))
    chart.y_ticks = _y_ticks(chart, lo, hi, step, value_fmt)
    if reference is not None:
        chart.reference_y = chart.plot_bottom - (reference - base) * scale
        chart.reference_text = reference_text
    return chart


def sparkline(values: Sequence[int], *, width: int = 112, height: int = 28) -> Chart:
    """Bars only, no axes: labels per day beside a project in a list."""
    chart = Chart(title="", description="", width=width, height=height)
    top = max(values) if values else 0
    if top <= 0:
        chart.empty = True
        return chart
    slot = width / len(values)
    for i, value in enumerate(values):
        h = max(value / top * (height - 2), 1.0 if value else 0.0)
        chart.bars.append(Bar(i * slot + 1, height - h, max(slot - 2, 1), h, "", str(value)))
    return chart
